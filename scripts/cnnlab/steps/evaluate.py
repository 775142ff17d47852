"""Step of workflow/rules/evaluate.smk: test-set metrics, confusion matrix, misclassified
examples and training curves of one trained model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from cnnlab import datasets, device, inference
from cnnlab.analysis import certainty
from cnnlab.io import read_csv, write_json
from cnnlab.models import count_parameters
from cnnlab.plotting import evaluation as figures
from cnnlab.predictions import save_predictions

log = logging.getLogger("cnnlab")


def evaluate_model(
    *,
    dataset: str,
    arch: str,
    threads: int,
    npz_path: Path | str,
    record_path: Path | str,
    model_path: Path | str,
    train_record_path: Path | str,
    metrics_path: Path | str,
    predictions_path: Path | str,
    confusion_path: Path | str,
    misclassified_path: Path | str,
    history_path: Path | str,
    curves_path: Path | str,
    batch_size: int,
    misclassified: int,
    device_preference: str = "auto",
) -> dict[str, Any]:
    """Evaluate trained ``arch`` on the test split; write metrics (with a bootstrap interval of
    the accuracy over test images), the per-image predictions and the figures (confusion
    matrix, misclassified examples, training curves)."""
    device.use_threads(threads)
    data = datasets.load_prepared(npz_path, record_path)
    trained = inference.load_run(arch, data, model_path, train_record_path,
                                 device.select_device(device_preference))
    model, target, train_record, as_trained = (trained.model, trained.device, trained.record,
                                               trained.inference)
    run = f"{arch} on {dataset}, seed {train_record['seed']}"  # each seed's figures say which
    predictions = inference.predict_test_set(model, data, target, batch_size, as_trained)
    metrics = inference.classification_metrics(predictions, data.classes)
    correct = predictions.predicted == predictions.labels
    metrics["test_accuracy_interval"] = certainty.accuracy_interval(correct).as_dict()
    save_predictions(predictions_path, predictions.labels, predictions.predicted,
                     predictions.confidence)
    metrics.update(dataset=dataset, arch=arch, seed=train_record["seed"], parameters=count_parameters(model),
                   data_is_sample=bool(data.record.get("is_sample")),
                   inference={"channels_last": as_trained.channels_last, "bf16": as_trained.bf16})
    write_json(metrics_path, metrics)
    log.info("%s on %s: test accuracy %.4f, loss %.4f, %d errors of %d", arch, dataset,
             metrics["test_accuracy"], metrics["test_loss"], metrics["errors"], metrics["test_size"])
    figures.plot_confusion(
        np.asarray(metrics["confusion_matrix"]), data.classes,
        f"{run}: test accuracy {100 * metrics['test_accuracy']:.2f}%",
        confusion_path,
    )
    figures.plot_curves(read_csv(history_path), f"{run}: training curves", curves_path)
    worst = inference.most_confident_errors(predictions, misclassified)
    captions = [
        f"true {data.classes[predictions.labels[i]]}\npred {data.classes[predictions.predicted[i]]}"
        f" ({100 * predictions.confidence[i]:.0f}%)"
        for i in worst
    ]
    figures.plot_misclassified(
        data.test.images[worst], captions,
        f"{run}: the {len(worst)} most confident of "
        f"{metrics['errors']} misclassified test images", misclassified_path,
        errors=metrics["errors"], requested=misclassified,
    )
    return metrics

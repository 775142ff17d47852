"""Steps of workflow/rules/train.smk: train one architecture on one prepared dataset (or
restore the identical finished run kept from before), then score it on the test split in the
same job."""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from cnnlab import datasets, device, inference, kept_runs, training
from cnnlab.analysis import certainty
from cnnlab.artifacts import TRAIN
from cnnlab.inference import EVAL_BATCH_SIZE, initial_model
from cnnlab.io import read_csv, read_json, write_json, write_npz
from cnnlab.models import count_parameters, model_spec
from cnnlab.plotting import evaluation as figures
from cnnlab.predictions import save_logits, save_predictions
from cnnlab.steps.runtime import tell_terminal

log = logging.getLogger("cnnlab")


def resolve_augment(setting: str, dataset: str) -> bool:
    """``auto`` augments CIFAR-10 and its subsets (as the article does) and nothing else.

    Pixel-permuted images have no spatial neighbourhoods for a crop or flip to respect, so
    ``auto`` leaves them alone.
    """
    if setting == "auto":
        base, derivation, _ = datasets.split_dataset_name(dataset)
        return base == "cifar10" and derivation != "permuted"
    return setting == "crop_flip"


def _finite_or_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def train_model(
    *,
    dataset: str,
    arch: str,
    settings: Mapping[str, Any],
    seed: int,
    threads: int,
    npz_path: Path | str,
    record_path: Path | str,
    checkpoint_dir: Path | str,
    kept_runs_dir: Path | str,
    model_path: Path | str,
    history_path: Path | str,
    train_record_path: Path | str,
    trajectory_path: Path | str,
    eval_batch_size: int = EVAL_BATCH_SIZE,
    device_preference: str = "auto",
    retrain: bool = False,
) -> dict[str, Any]:
    """Train ``arch`` on the prepared ``dataset`` and write weights, history, run record and
    the weights' trajectory (:class:`cnnlab.analysis.weights.WeightTrajectory`).

    A finished run kept under the same run id is restored instead, and the terminal says so
    (``--forcerun`` alone reruns the job, not the training); ``retrain`` (``CNNLAB_RETRAIN=1``
    for the train rule's adapter) trains again regardless and replaces the kept copy.
    """
    device.use_threads(threads)
    recipe = training.TrainSettings.from_mapping(settings)
    run_id = kept_runs.run_identity(arch=arch, dataset=dataset, seed=seed,
                                    settings=training.settings_dict(recipe),
                                    data_record=read_json(record_path))
    checkpoint = Path(checkpoint_dir) / f"{run_id[:16]}.pt"
    kept = Path(kept_runs_dir) / run_id[:16]
    outputs = {TRAIN.model: Path(model_path), TRAIN.history: Path(history_path),
               TRAIN.record: Path(train_record_path), TRAIN.trajectory: Path(trajectory_path)}
    if retrain:
        tell_terminal(f"{dataset}/{arch}: training again although a finished run may be kept "
                      f"in {kept}, as {kept_runs.RETRAIN_VARIABLE} asks")
    elif (restored := kept_runs.restore_kept_run(kept, outputs)) is not None:
        tell_terminal(
            f"{dataset}/{arch}: restored the finished run {run_id[:16]} from {kept} instead of "
            "training (same settings, seed, data and code). To train it again for real: "
            f"{kept_runs.RETRAIN_VARIABLE}=1 snakemake --forcerun {model_path} (README, "
            "'Interruptions, failed runs and damaged files').")
        return restored  # before the images are loaded: restoring costs only the copies
    data = datasets.load_prepared(npz_path, record_path)
    target = device.select_device(device_preference)
    model = initial_model(arch, len(data.classes), seed)
    augment = resolve_augment(recipe.augment, dataset)
    log.info("training %s on %s (%d images) on %s with %d threads: %s, augment=%s", arch,
             dataset, len(data.train.labels), target, torch.get_num_threads(), recipe, augment)
    result = training.fit(
        model, data, recipe, seed=seed, device=target, augment=augment,
        checkpoint_path=checkpoint, run_fingerprint=run_id,
        eval_batch_size=eval_batch_size, progress=sys.stderr,
    )
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    training.atomic_torch_save(state, Path(model_path))
    training.save_history(result.history, Path(history_path))
    write_npz(trajectory_path, result.trajectory.arrays())
    record = {
        "dataset": dataset,
        "arch": arch,
        "seed": seed,
        "settings": training.settings_dict(recipe),
        "augment": augment,
        "bf16_active": result.bf16,
        "graphed_steps": result.graphed_steps,
        "parameters": count_parameters(model),
        "declared_parameters": model_spec(arch).num_params,
        "epochs": recipe.epochs,
        "resumed_from_epoch": result.resumed_from_epoch,
        # The test split is scored once, by evaluate_model (metrics.json).
        "final_validation_accuracy": _finite_or_none(result.history[-1]["val_acc"]),
        "train_size": int(len(data.train.labels)),
        "validation_size": int(len(data.validation.labels)) if data.validation is not None else 0,
        "seconds_per_epoch": float(np.median([row["seconds"] for row in result.history])),
        "images_per_second": float(np.median([row["images_per_second"] for row in result.history])),
        "wall_seconds": result.wall_seconds,
        "run_id": run_id,
        "data_is_sample": bool(data.record.get("is_sample")),
        "runtime": device.runtime_info(target),
    }
    write_json(train_record_path, record)
    kept_runs.keep_run(kept, outputs)
    checkpoint.unlink(missing_ok=True)
    return record


def evaluate_model(
    *,
    dataset: str,
    arch: str,
    threads: int,
    npz_path: Path | str,
    record_path: Path | str,
    model_path: Path | str,
    train_record_path: Path | str,
    history_path: Path | str,
    metrics_path: Path | str,
    predictions_path: Path | str,
    logits_path: Path | str,
    confusion_path: Path | str,
    curves_path: Path | str,
    batch_size: int,
    device_preference: str = "auto",
) -> dict[str, Any]:
    """Score trained ``arch`` on the test split; write metrics (with a bootstrap interval of
    the accuracy over test images), the per-image predictions (from which rule
    plot_misclassified draws its figure), the test and validation logits (from which rule
    calibrate works) and the confusion matrix and training curves."""
    device.use_threads(threads)
    data = datasets.load_prepared(npz_path, record_path)
    trained = inference.load_run(arch, data, model_path, train_record_path,
                                 device.select_device(device_preference))
    run = f"{arch} on {dataset}, seed {trained.record['seed']}"  # each seed's figures say which
    test_logits, test_labels = trained.logits(data.test, batch_size)
    predictions = inference.predictions_of(test_logits, test_labels)
    test_arrays = (test_logits.cpu().numpy(), test_labels.cpu().numpy())
    validation_arrays = (np.zeros((0, len(data.classes)), np.float32), np.zeros(0, np.int64))
    if data.validation is not None and len(data.validation.labels) > 0:
        validation_arrays = tuple(t.cpu().numpy()
                                  for t in trained.logits(data.validation, batch_size))
    save_logits(logits_path, *test_arrays, *validation_arrays)
    metrics = inference.classification_metrics(predictions, data.classes)
    correct = predictions.predicted == predictions.labels
    metrics["test_accuracy_interval"] = certainty.accuracy_interval(correct).as_dict()
    save_predictions(predictions_path, predictions.labels, predictions.predicted,
                     predictions.confidence)
    metrics.update(dataset=dataset, arch=arch, seed=trained.record["seed"],
                   parameters=count_parameters(trained.model),
                   data_is_sample=bool(data.record.get("is_sample")),
                   inference={"channels_last": trained.inference.channels_last,
                              "bf16": trained.inference.bf16})
    write_json(metrics_path, metrics)
    log.info("%s on %s: test accuracy %.4f, loss %.4f, %d errors of %d", arch, dataset,
             metrics["test_accuracy"], metrics["test_loss"], metrics["errors"], metrics["test_size"])
    figures.plot_confusion(
        np.asarray(metrics["confusion_matrix"]), data.classes,
        f"{run}: test accuracy {100 * metrics['test_accuracy']:.2f}%",
        confusion_path,
    )
    figures.plot_curves(read_csv(history_path), f"{run}: training curves", curves_path)
    return metrics

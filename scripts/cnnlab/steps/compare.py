"""Steps of workflow/rules/compare.smk: the CNN-vs-MLP experiments, from the runs' own records
and models."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from cnnlab import datasets
from cnnlab.analysis import certainty, compare
from cnnlab.device import select_device, use_threads
from cnnlab.inference import Inference, load_trained_model
from cnnlab.io import read_csv, read_json, write_csv
from cnnlab.models import create_model, model_spec
from cnnlab.plotting import comparison as figures
from cnnlab.predictions import load_correct

log = logging.getLogger("cnnlab")


COST_COLUMNS = ["arch", "convolutional", "test_accuracy", "parameters", "mult_adds", "epochs",
                "seconds_per_epoch", "images_per_second"]


def compare_cost(*, dataset: str, archs: Sequence[str], metrics: Sequence[str],
                 train: Sequence[str], params: Sequence[str], csv_path: Path | str,
                 png_path: Path | str) -> list[dict[str, Any]]:
    """Accuracy against parameters, mult-adds and time per epoch, from the runs' own records."""
    records = {}
    for arch, m, t, p in zip(archs, metrics, train, params, strict=True):
        train_record = read_json(t)
        records[arch] = {
            "metrics": read_json(m), "train": train_record,
            "mult_adds": sum(int(row["mult_adds"]) for row in read_csv(p)),
            "convolutional": model_spec(arch).is_convolutional,
            "images_per_second": train_record["images_per_second"],
        }
    rows = compare.cost_rows(records)
    write_csv(csv_path, rows, COST_COLUMNS)
    figures.plot_cost(rows, f"{dataset}: test accuracy against cost, one point per model", png_path)
    return rows


DENSE_COLUMNS = ["arch", "layer", "input_shape", "output_shape", "conv_params", "dense_params",
                 "saving_factor"]


def compare_dense_equivalent(*, dataset: str, archs: Sequence[str], csv_path: Path | str,
                             thought_csv: Path | str, png_path: Path | str) -> list[dict[str, Any]]:
    """Each convolution's parameters against a dense layer of the same shapes; and the first
    layer of a network on 224x224 RGB images, dense vs convolutional."""
    rows = []
    for arch in archs:
        if model_spec(arch).is_convolutional:
            rows += compare.dense_equivalent_rows(arch, create_model(arch), model_spec(arch).input_shape)
    thought = compare.thought_experiment_rows()
    write_csv(csv_path, rows, DENSE_COLUMNS)
    write_csv(thought_csv, thought, ["layer", "params"])
    figures.plot_dense_equivalent(
        rows, thought, f"{dataset}: what weight sharing saves (parameters of a dense layer "
        f"with the same input and output shape)", png_path)
    return rows


def compare_translation(*, dataset: str, archs: Sequence[str], models: Sequence[str],
                        train_records: Sequence[str], npz_path: Path | str,
                        record_path: Path | str, max_shift: int, batch_size: int, threads: int,
                        csv_path: Path | str,
                        png_path: Path | str) -> list[dict[str, Any]]:
    """Accuracy of each trained model on the test set shifted by 0..max_shift pixels."""
    use_threads(threads)
    data = datasets.load_prepared(npz_path, record_path)
    device = select_device()
    loaded = {arch: load_trained_model(arch, path, len(data.classes), device)
              for arch, path in zip(archs, models, strict=True)}
    inference = {arch: Inference.of_run(read_json(path)["settings"], device)
                 for arch, path in zip(archs, train_records, strict=True)}
    rows = compare.translation_rows(loaded, data.test.images, data.test.labels, data.mean,
                                    data.std, max_shift, device, batch_size, inference)
    write_csv(csv_path, rows, ["arch", "direction", "shift", "accuracy"])
    figures.plot_translation(rows, f"{dataset}: accuracy on shifted test images (no retraining)",
                              png_path)
    return rows


def compare_permutation(*, dataset: str, archs: Sequence[str], original: Sequence[str],
                        permuted: Sequence[str], original_predictions: Sequence[str],
                        permuted_predictions: Sequence[str], permuted_record: Path | str,
                        csv_path: Path | str, png_path: Path | str) -> list[dict[str, Any]]:
    """Test accuracy of each model trained and tested on original and on permuted pixels.

    The permuted test images are the original ones with their pixels moved, so the two runs
    are paired image by image: the change gets a paired bootstrap interval and McNemar's test.
    """
    seed = read_json(permuted_record)["derived"]["seed"]
    rows = []
    for arch, a, b, pred_a, pred_b in zip(archs, original, permuted, original_predictions,
                                          permuted_predictions, strict=True):
        metrics_a, metrics_b = read_json(a), read_json(b)
        acc_a, acc_b = metrics_a["test_accuracy"], metrics_b["test_accuracy"]
        interval_a, interval_b = metrics_a["test_accuracy_interval"], metrics_b["test_accuracy_interval"]
        correct_a, correct_b = load_correct(pred_a), load_correct(pred_b)
        change = certainty.difference_interval(correct_a, correct_b)
        test = certainty.mcnemar(correct_a, correct_b)
        rows.append({"arch": arch, "convolutional": model_spec(arch).is_convolutional,
                     "accuracy_original": acc_a, "accuracy_permuted": acc_b,
                     "original_low": interval_a["low"], "original_high": interval_a["high"],
                     "permuted_low": interval_b["low"], "permuted_high": interval_b["high"],
                     "change": acc_b - acc_a, "change_low": change.low, "change_high": change.high,
                     "mcnemar_statistic": test.statistic, "p_value": test.p_value,
                     "significant": certainty.significant(change, test),
                     "permutation_seed": seed})
    write_csv(csv_path, rows, list(rows[0]))
    figures.plot_permutation(rows, f"{dataset}: one fixed pixel permutation (seed {seed}) for "
                              f"train and test", png_path)
    return rows


def compare_data_efficiency(*, dataset: str, runs: Sequence[tuple[str, float, str, str]],
                            csv_path: Path | str, png_path: Path | str) -> list[dict[str, Any]]:
    """Test accuracy against training-set size; ``runs`` holds (arch, fraction, metrics,
    train record) for each run."""
    rows = []
    for arch, fraction, metrics_path, train_path in runs:
        train = read_json(train_path)
        rows.append({"arch": arch, "fraction": fraction, "train_size": train["train_size"],
                     "epochs": train["epochs"],
                     "test_accuracy": read_json(metrics_path)["test_accuracy"]})
    write_csv(csv_path, rows, ["arch", "fraction", "train_size", "epochs", "test_accuracy"])
    figures.plot_data_efficiency(rows, f"{dataset}: accuracy against training-set size "
                                  f"(class-balanced, nested subsets)", png_path)
    return rows


def compare_training_dynamics(*, dataset: str, archs: Sequence[str], histories: Sequence[str],
                              csv_path: Path | str, png_path: Path | str) -> list[dict[str, Any]]:
    """All models' per-epoch curves in one table and one figure."""
    curves = {arch: read_csv(path) for arch, path in zip(archs, histories, strict=True)}
    rows = [{"arch": arch, **row} for arch, history in curves.items() for row in history]
    write_csv(csv_path, rows, ["arch", *curves[archs[0]][0].keys()])
    figures.plot_training_dynamics(curves, f"{dataset}: training curves of the compared models",
                                    png_path)
    return rows

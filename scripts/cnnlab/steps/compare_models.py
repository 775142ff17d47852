"""Steps of workflow/rules/compare.smk that build or run models (torch): what weight sharing
saves, and the trained models on shifted test images."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cnnlab import datasets
from cnnlab.analysis import certainty, compare
from cnnlab.device import select_device, use_threads
from cnnlab.inference import Inference, load_trained_model
from cnnlab.io import read_json, write_csv
from cnnlab.models import create_model, model_spec
from cnnlab.plotting import comparison as figures
from cnnlab.steps.compare import Run, by_arch, cnn_mlp_pairs

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


TRANSLATION_TEST_COLUMNS = ["cnn", "mlp", "direction", "shift", "cnn_accuracy", "mlp_accuracy",
                            "change", "change_low", "change_high", "p_value", "test", "seeds",
                            "significant"]


def compare_translation(*, dataset: str, runs: Sequence[Run], models: Sequence[str],
                        train_records: Sequence[str], npz_path: Path | str,
                        record_path: Path | str, max_shift: int, batch_size: int, threads: int,
                        csv_path: Path | str, tests_csv: Path | str,
                        png_path: Path | str) -> list[dict[str, Any]]:
    """Accuracy of each trained model (every seed) on the test set shifted by 0..max_shift
    pixels; and, for each CNN against each fully connected model, the difference of their
    accuracies at the tested shift with its evidence."""
    use_threads(threads)
    data = datasets.load_prepared(npz_path, record_path)
    device = select_device()
    runs = [(arch, int(seed)) for arch, seed in runs]
    loaded = {run: load_trained_model(run[0], path, len(data.classes), device)
              for run, path in zip(runs, models, strict=True)}
    inference = {run: Inference.of_run(read_json(path)["settings"], device)
                 for run, path in zip(runs, train_records, strict=True)}
    rows, at_shift = compare.translation_rows(loaded, data.test.images, data.test.labels,
                                              data.mean, data.std, max_shift, device, batch_size,
                                              inference)
    write_csv(csv_path, rows, ["arch", "seed", "direction", "shift", "accuracy"])
    correct = by_arch(runs, [at_shift[run] for run in runs])
    shift = compare.tested_shift(max_shift)
    tests = []
    for cnn, dense in cnn_mlp_pairs(correct):
        dense_runs, cnn_runs = certainty.pair_runs(correct[dense], correct[cnn])
        evidence = certainty.compare_correct(dense_runs, cnn_runs)
        tests.append({"cnn": cnn, "mlp": dense, "direction": compare.TEST_DIRECTION, "shift": shift,
                      "cnn_accuracy": float(np.mean([c.mean() for c in cnn_runs])),
                      "mlp_accuracy": float(np.mean([c.mean() for c in dense_runs])),
                      **evidence.as_row()})
    write_csv(tests_csv, tests, TRANSLATION_TEST_COLUMNS)
    figures.plot_translation(rows, f"{dataset}: accuracy on shifted test images (no retraining)",
                              png_path)
    return rows

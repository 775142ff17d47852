"""Steps of workflow/rules/compare.smk: the CNN-vs-MLP experiments, from the runs' own records
(the steps that build or run models are in compare_models.py: these import no torch).

Each rule lists its runs as (arch, seed) pairs, one per input file, in the order of
``seed_labels`` (workflow/rules/common.smk): every seed of an architecture, its first seed first.
A number is then given over seeds (mean and t-interval) where there are several, and two
models are compared seed by seed, or by McNemar's test on the test images where one of them
has a single seed (:mod:`cnnlab.analysis.certainty`).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, TypeVar

import numpy as np

from cnnlab.analysis import certainty
from cnnlab.analysis.cost import cost_rows
from cnnlab.io import read_csv, read_json, write_csv
from cnnlab.models import model_spec
from cnnlab.plotting import comparison as figures
from cnnlab.predictions import load_correct

T = TypeVar("T")
Run = tuple[str, int]


def by_arch(runs: Sequence[Sequence[Any]], items: Iterable[T]) -> dict[str, dict[int, T]]:
    """{arch: {seed: item}} from runs [arch, seed] and one item per run, in the runs' order."""
    grouped: dict[str, dict[int, T]] = defaultdict(dict)
    for (arch, seed), item in zip(runs, items, strict=True):
        grouped[arch][int(seed)] = item
    return dict(grouped)


def accuracy_over_seeds(metrics: Mapping[int, Mapping[str, Any]]) -> certainty.Interval:
    """Test accuracy over seeds; with one seed, its bootstrap interval over test images."""
    first = next(iter(metrics.values()))
    return certainty.across_seeds([m["test_accuracy"] for m in metrics.values()],
                                  first["test_accuracy_interval"])


def cnn_mlp_pairs(archs: Iterable[str]) -> list[tuple[str, str]]:
    """(CNN, fully connected model) for every such pair among ``archs``."""
    archs = list(archs)
    return [(cnn, dense) for cnn in archs if model_spec(cnn).is_convolutional
            for dense in archs if not model_spec(dense).is_convolutional]


COST_COLUMNS = ["arch", "convolutional", "seeds", "test_accuracy", "accuracy_low",
                "accuracy_high", "interval", "parameters", "mult_adds", "epochs",
                "seconds_per_epoch", "images_per_second"]


def compare_cost(*, dataset: str, runs: Sequence[Run], metrics: Sequence[str],
                 train: Sequence[str], archs: Sequence[str], params: Sequence[str],
                 csv_path: Path | str, png_path: Path | str) -> list[dict[str, Any]]:
    """Accuracy (over seeds) against parameters, mult-adds and time per epoch, from the runs'
    own records; ``params`` holds one parameter table per architecture of ``archs``."""
    metric_runs = by_arch(runs, map(read_json, metrics))
    train_runs = by_arch(runs, map(read_json, train))
    mult_adds = {arch: sum(int(row["mult_adds"]) for row in read_csv(p))
                 for arch, p in zip(archs, params, strict=True)}
    records = {}
    for arch, seeds in metric_runs.items():
        trained = list(train_runs[arch].values())
        records[arch] = {
            "accuracy": accuracy_over_seeds(seeds), "seeds": len(seeds),
            "convolutional": model_spec(arch).is_convolutional,
            "parameters": trained[0]["parameters"], "epochs": trained[0]["epochs"],
            "mult_adds": mult_adds[arch],
            "seconds_per_epoch": float(np.mean([t["seconds_per_epoch"] for t in trained])),
            "images_per_second": float(np.mean([t["images_per_second"] for t in trained])),
        }
    rows = cost_rows(records)
    write_csv(csv_path, rows, COST_COLUMNS)
    figures.plot_cost(rows, f"{dataset}: test accuracy against cost, one point per model "
                      f"(mean over its seeds)", png_path)
    return rows


def compare_permutation(*, dataset: str, runs: Sequence[Run], original: Sequence[str],
                        permuted: Sequence[str], original_predictions: Sequence[str],
                        permuted_predictions: Sequence[str], permuted_record: Path | str,
                        csv_path: Path | str, png_path: Path | str) -> list[dict[str, Any]]:
    """Test accuracy of each model trained and tested on original and on permuted pixels.

    The permuted test images are the original ones with their pixels moved, and each seed is
    trained on both: the change is paired seed by seed (or image by image, with one seed).
    """
    seed = read_json(permuted_record)["derived"]["seed"]
    metrics_a, metrics_b = by_arch(runs, map(read_json, original)), by_arch(runs, map(read_json, permuted))
    correct_a = by_arch(runs, map(load_correct, original_predictions))
    correct_b = by_arch(runs, map(load_correct, permuted_predictions))
    rows = []
    for arch in metrics_a:
        acc_a, acc_b = accuracy_over_seeds(metrics_a[arch]), accuracy_over_seeds(metrics_b[arch])
        evidence = certainty.compare_correct(list(correct_a[arch].values()),
                                             list(correct_b[arch].values()))
        rows.append({"arch": arch, "convolutional": model_spec(arch).is_convolutional,
                     "accuracy_original": acc_a.estimate, "accuracy_permuted": acc_b.estimate,
                     "original_low": acc_a.low, "original_high": acc_a.high,
                     "permuted_low": acc_b.low, "permuted_high": acc_b.high,
                     "interval": acc_a.method, **evidence.as_row(), "permutation_seed": seed})
    write_csv(csv_path, rows, list(rows[0]))
    figures.plot_permutation(rows, f"{dataset}: one fixed pixel permutation (seed {seed}) for "
                              f"train and test", png_path)
    return rows


DATA_EFFICIENCY_TEST_COLUMNS = ["fraction", "train_size", "cnn", "mlp", "cnn_accuracy",
                                "mlp_accuracy", "change", "change_low", "change_high", "p_value",
                                "test", "seeds", "significant"]


def compare_data_efficiency(*, dataset: str, runs: Sequence[Sequence[Any]],
                            metrics: Sequence[str], train: Sequence[str],
                            predictions: Sequence[str], csv_path: Path | str,
                            tests_csv: Path | str, png_path: Path | str) -> list[dict[str, Any]]:
    """Test accuracy (over seeds) against training-set size; ``runs`` holds [arch, fraction,
    seed] of each input; and at each size, each CNN against each fully connected model."""
    keyed = [(f"{arch}@{fraction}", seed) for arch, fraction, seed in runs]
    fractions = {f"{arch}@{fraction}": (arch, float(fraction)) for arch, fraction, _ in runs}
    metric_runs = by_arch(keyed, map(read_json, metrics))
    train_runs = by_arch(keyed, map(read_json, train))
    correct = by_arch(keyed, map(load_correct, predictions))
    rows = []
    for key, seeds in metric_runs.items():
        arch, fraction = fractions[key]
        first = next(iter(train_runs[key].values()))
        accuracy = accuracy_over_seeds(seeds)
        rows.append({"arch": arch, "fraction": fraction, "train_size": first["train_size"],
                     "epochs": first["epochs"], "seeds": len(seeds),
                     "test_accuracy": accuracy.estimate, "accuracy_low": accuracy.low,
                     "accuracy_high": accuracy.high, "interval": accuracy.method})
    tests = []
    for fraction in sorted({f for _, f in fractions.values()}):
        here = {arch: key for key, (arch, f) in fractions.items() if f == fraction}
        for cnn, dense in cnn_mlp_pairs(here):
            dense_runs, cnn_runs = certainty.pair_runs(correct[here[dense]], correct[here[cnn]])
            evidence = certainty.compare_correct(dense_runs, cnn_runs)
            size = next(r["train_size"] for r in rows if r["fraction"] == fraction)
            tests.append({"fraction": fraction, "train_size": size, "cnn": cnn, "mlp": dense,
                          "cnn_accuracy": float(np.mean([c.mean() for c in cnn_runs])),
                          "mlp_accuracy": float(np.mean([c.mean() for c in dense_runs])),
                          **evidence.as_row()})
    write_csv(csv_path, rows, list(rows[0]))
    write_csv(tests_csv, tests, DATA_EFFICIENCY_TEST_COLUMNS)
    figures.plot_data_efficiency(rows, f"{dataset}: accuracy against training-set size "
                                  f"(class-balanced, nested subsets)", png_path)
    return rows


def compare_training_dynamics(*, dataset: str, runs: Sequence[Run], histories: Sequence[str],
                              csv_path: Path | str, png_path: Path | str) -> list[dict[str, Any]]:
    """All models' per-epoch curves (every seed) in one table, and one figure of their means
    over seeds with 95% bands."""
    curves = by_arch(runs, map(read_csv, histories))
    rows = [{"arch": arch, "seed": seed, **row}
            for arch, seeds in curves.items() for seed, history in seeds.items() for row in history]
    first = next(iter(next(iter(curves.values())).values()))
    write_csv(csv_path, rows, ["arch", "seed", *first[0].keys()])
    figures.plot_training_dynamics(curves, f"{dataset}: training curves of the compared models",
                                    png_path)
    return rows

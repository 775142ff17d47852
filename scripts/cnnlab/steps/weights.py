"""Step of workflow/rules/units.smk for the weights: how far training moved each layer's weights
from where they started, at the end and epoch by epoch (the trainer's trajectory)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnnlab.analysis import weights
from cnnlab.inference import initial_model, load_trained_model
from cnnlab.io import read_json, read_npz, write_csv
from cnnlab.kept_runs import RETRAIN_VARIABLE
from cnnlab.plotting import weights as figures

log = logging.getLogger("cnnlab")


WEIGHT_COLUMNS = ["layer", "type", "weights", "norm_init", "norm_trained", "relative_change",
                  "std_init", "std_trained"]
EVOLUTION_COLUMNS = ["epoch", "layer", "relative_change"]


def weight_changes(*, dataset: str, arch: str, training_seed: int, record_path: Path | str,
                   model_path: Path | str, trajectory_path: Path | str, csv_path: Path | str,
                   png_path: Path | str, evolution_csv_path: Path | str,
                   evolution_png_path: Path | str) -> list[dict[str, Any]]:
    """How far training moved each learned layer's weights from the ones it started from
    (drawn again from ``training_seed``, as the trainer drew them), and epoch by epoch from the
    trajectory the trainer saved, which must agree with both ends."""
    classes = len(read_json(record_path)["classes"])
    cpu = torch.device("cpu")
    trained = load_trained_model(arch, model_path, classes, cpu)
    initial = initial_model(arch, classes, training_seed)
    rows = weights.weight_changes(initial, trained)
    before, after = weights.learned_weights(initial), weights.learned_weights(trained)
    trajectory = weights.trajectory_fields(read_npz(trajectory_path))
    _check_trajectory(trajectory, rows, before, trajectory_path)
    write_csv(csv_path, rows, WEIGHT_COLUMNS)
    write_csv(evolution_csv_path, [
        {"epoch": int(epoch), "layer": layer, "relative_change": float(change)}
        for epoch, changes in zip(trajectory["epochs"], trajectory["relative_change"], strict=True)
        for layer, change in zip(trajectory["layers"], changes, strict=True)], EVOLUTION_COLUMNS)
    layers = []
    for row in rows:
        counts_init, counts_trained, edges = weights.histogram_pair(before[row["layer"]],
                                                                    after[row["layer"]])
        layers.append({"name": row["layer"], "edges": edges, "init": counts_init,
                       "trained": counts_trained, "change": row["relative_change"]})
    figures.plot_weight_changes(
        layers, f"{arch} on {dataset}: each learned layer's weights at initialisation and "
        f"trained (seed {training_seed})", png_path)
    figures.plot_weight_evolution(
        trajectory, f"{arch} on {dataset}: the weights epoch by epoch (seed {training_seed})",
        evolution_png_path)
    most = max(rows, key=lambda r: r["relative_change"])
    log.info("%s: largest relative weight change %.3f at %s", arch, most["relative_change"],
             most["layer"])
    return rows


def _check_trajectory(trajectory: dict[str, Any], rows: list[dict[str, Any]],
                      initial: dict[str, torch.Tensor], path: Path | str) -> None:
    """Refuse a trajectory that does not start at the seed's initial weights or end at the
    trained ones: it would belong to another run."""
    problem = ""
    if trajectory["layers"] != [row["layer"] for row in rows]:
        problem = "its layers are not the model's"
    elif trajectory["epochs"][0] != 0:
        problem = "it does not start at epoch 0"
    elif trajectory["kernels"] is not None and not np.array_equal(
            trajectory["kernels"][0], initial[trajectory["kernel_layer"]].numpy()):
        problem = "its first kernels are not the ones drawn from the training seed"
    elif not np.allclose(trajectory["relative_change"][-1],
                         [row["relative_change"] for row in rows], rtol=1e-4, atol=1e-6):
        problem = "its last epoch is not the trained model"
    if problem:
        raise ValueError(f"the weight trajectory {path} does not belong to this model's run: "
                         f"{problem}. Train again: {RETRAIN_VARIABLE}=1 snakemake --forcerun {path}")

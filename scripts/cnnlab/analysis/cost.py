"""The cost table of the CNN-vs-MLP comparison, from the runs' own records: no torch, so the
jobs that only read records never import it."""

from __future__ import annotations

from typing import Any, Mapping


def cost_rows(records: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per model: its test accuracy over seeds (mean with its 95% interval), its cost
    from the parameter table, and its time per epoch (mean over seeds)."""
    rows = []
    for arch, r in records.items():
        accuracy = r["accuracy"]
        rows.append({
            "arch": arch,
            "convolutional": r["convolutional"],
            "seeds": r["seeds"],
            "test_accuracy": accuracy.estimate,
            "accuracy_low": accuracy.low,
            "accuracy_high": accuracy.high,
            "interval": accuracy.method,
            "parameters": r["parameters"],
            "mult_adds": r["mult_adds"],
            "epochs": r["epochs"],
            "seconds_per_epoch": r["seconds_per_epoch"],
            "images_per_second": r["images_per_second"],
        })
    return rows

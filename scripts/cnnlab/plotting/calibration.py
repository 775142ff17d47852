"""Figures of the explain step: reliability diagrams before and after temperature scaling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from cnnlab.analysis.calibration import Calibration
from cnnlab.plotting.base import figure_builder, literal, save, subplots


@figure_builder
def plot_reliability(before: Calibration, after: Calibration, temperature: float, fitted: bool,
                     title: str, path: Path | str) -> Figure:
    """Accuracy per confidence bin against the diagonal of perfect calibration, with each bin's
    image count below; left as trained, right after temperature scaling."""
    fig, axes = subplots(2, 2, figsize=(9, 5.2), height_ratios=[3, 1], sharex=True)
    scaled = (f"after temperature scaling (T = {temperature:.2f}, fitted on the validation split)"
              if fitted else "no validation split: not scaled (T = 1)")
    for column, (result, name) in enumerate(((before, "as trained"), (after, scaled))):
        top, bottom = axes[0, column], axes[1, column]
        bins = len(result.counts)
        edges = np.linspace(0, 1, bins + 1)
        centres = (edges[:-1] + edges[1:]) / 2
        width = 1 / bins
        filled = result.counts > 0
        top.bar(centres[filled], result.accuracy[filled], width, color="#3b6ea5",
                edgecolor="white", label="accuracy in the bin")
        gap_low = np.minimum(result.accuracy, result.confidence)[filled]
        gap = np.abs(result.accuracy - result.confidence)[filled]
        top.bar(centres[filled], gap, width, bottom=gap_low, color="#c0504d", alpha=0.35,
                edgecolor="#c0504d", label="gap to the mean confidence")
        top.plot([0, 1], [0, 1], "--", color="grey", linewidth=1, label="perfect calibration")
        top.set_xlim(0, 1)
        top.set_ylim(0, 1.02)
        top.set_ylabel("accuracy")
        top.set_title(f"{literal(name)}\nECE {100 * result.ece:.2f}%, MCE {100 * result.mce:.1f}%, "
                      f"NLL {result.nll:.3f}, Brier {result.brier:.4f}", fontsize=8)
        top.grid(alpha=0.3)
        bottom.bar(centres[filled], result.counts[filled], width, color="#7f7f7f",
                   edgecolor="white")
        bottom.set_yscale("log")
        bottom.set_ylim(0.8, max(result.counts.max(), 1) * 60)  # room for the counts above
        bottom.set_ylabel("images (log)")
        bottom.set_xlabel(f"confidence (top-class probability, {bins} equal bins)")
        for x, count in zip(centres, result.counts, strict=True):
            if count:
                bottom.text(x, count * 1.2, f"{count:,}", ha="center", fontsize=5.5, rotation=90,
                            va="bottom")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(literal(title), fontsize=10)
    fig.tight_layout()
    return save(fig, path)

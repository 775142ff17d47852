"""Figures of the CNN-vs-MLP comparison: cost, dense equivalents, translation, permutation,
data efficiency and training dynamics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator

from cnnlab.analysis.certainty import CONFIDENCE, across_seeds
from cnnlab.plotting.base import (
    arch_colours,
    figure_builder,
    finish_epoch_axes,
    literal,
    place_labels,
    save,
    subplots,
)


@figure_builder
def plot_cost(rows: list[dict], title: str, path: Path | str) -> Figure:
    """Test accuracy against parameters, mult-adds and seconds per epoch, one point per model."""
    fig, axes = subplots(1, 3, figsize=(13, 4), sharey=True)
    panels = [("parameters", "parameters (log)"), ("mult_adds", "mult-adds per image (log)"),
              ("seconds_per_epoch", "training seconds per epoch (log)")]
    for ax, (key, label) in zip(axes, panels, strict=True):
        for r in rows:
            marker = "o" if r["convolutional"] else "s"
            colour = "#3b6ea5" if r["convolutional"] else "#c0504d"
            y = 100 * r["test_accuracy"]
            ax.errorbar(max(r[key], 1e-9), y, yerr=[[y - 100 * max(0.0, r["accuracy_low"])],
                                                    [100 * min(1.0, r["accuracy_high"]) - y]],
                        fmt=marker, color=colour, markersize=6, capsize=3, elinewidth=0.8)
        ax.set_xscale("log")
        if key == "seconds_per_epoch":  # spans about one decade: plain numbers, minor ticks too
            for set_formatter in (ax.xaxis.set_major_formatter, ax.xaxis.set_minor_formatter):
                set_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
        ax.set_xlabel(label)
        ax.grid(alpha=0.3, which="both")
        ax.margins(x=0.15, y=0.12)  # room for the labels of the outermost points
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].scatter([], [], marker="o", color="#3b6ea5", label="convolutional")
    axes[0].scatter([], [], marker="s", color="#c0504d", label="fully connected")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(literal(title), fontsize=10)
    fig.text(0.5, 0.01, interval_note(rows), ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    for ax, (key, _) in zip(axes, panels, strict=True):
        place_labels(ax, [(max(r[key], 1e-9), 100 * r["test_accuracy"]) for r in rows],
                     [r["arch"] for r in rows])
    return save(fig, path)


@figure_builder
def plot_dense_equivalent(rows: list[dict], thought: list[dict], title: str,
                          path: Path | str) -> Figure:
    """Parameters of each convolution vs a dense layer with the same shapes (log scale)."""
    fig, (left, right) = subplots(1, 2, figsize=(12, 0.32 * len(rows) + 2.2),
                                      width_ratios=[1.4, 1])
    labels = [f"{r['arch']} {r['layer']}\n{r['input_shape']} -> {r['output_shape']}" for r in rows]
    y = np.arange(len(rows))[::-1]
    left.barh(y + 0.2, [r["dense_params"] for r in rows], 0.4, color="#c0504d", label="dense layer")
    left.barh(y - 0.2, [r["conv_params"] for r in rows], 0.4, color="#3b6ea5", label="convolution")
    for yy, r in zip(y, rows, strict=True):
        left.text(r["dense_params"] * 1.3, yy + 0.2, f"x{r['saving_factor']:,.0f}", va="center",
                  fontsize=6.5)
    left.set_xscale("log")
    left.set_xlim(right=max(r["dense_params"] for r in rows) * 200)  # room for the labels
    left.set_yticks(y, labels, fontsize=6.5)
    left.set_xlabel("parameters (log)")
    left.set_title("each convolution of the compared CNNs", fontsize=9)
    ty = np.arange(len(thought))[::-1]
    right.barh(ty, [t["params"] for t in thought], color=["#c0504d", "#3b6ea5", "#c0504d"])
    for yy, t in zip(ty, thought, strict=True):
        right.text(t["params"] * 1.3, yy, f"{t['params']:,}", va="center", fontsize=7)
    right.set_xscale("log")
    right.set_yticks(ty, [t["layer"] for t in thought], fontsize=7)
    right.set_xlim(right.get_xlim()[0], max(t["params"] for t in thought) * 1e3)
    right.set_xlabel("parameters (log)")
    right.set_title("first layer on a 224x224 RGB image", fontsize=9)
    fig.suptitle(literal(title), fontsize=10)
    # Below both panels, in a strip of fixed height: an axes-relative offset ran into the
    # x-axis label when there were few rows.
    fig.legend(*left.get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=8)
    fig.tight_layout(rect=(0, 0.4 / fig.get_figheight(), 1, 1))
    return save(fig, path)


def interval_note(rows: list[dict]) -> str:
    """What the error bars or bands of a figure are, from the rows' own ``interval`` column."""
    methods = sorted({r["interval"] for r in rows if "interval" in r})
    return f"error bars: {100 * CONFIDENCE:.0f}% interval ({'; '.join(methods)})"


def mean_band(samples: list[list[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95% t-interval over seeds at each point (no band where there is one seed)."""
    intervals = [across_seeds(values) for values in samples]
    return (np.array([i.estimate for i in intervals]), np.array([i.low for i in intervals]),
            np.array([i.high for i in intervals]))


@figure_builder
def plot_translation(rows: list[dict], title: str, path: Path | str) -> Figure:
    """Accuracy against shift, one panel per direction, one line per model: the mean over its
    seeds, with a 95% band (t-interval over seeds) where it has several."""
    directions = list(dict.fromkeys(r["direction"] for r in rows))
    archs = list(dict.fromkeys(r["arch"] for r in rows))
    colours = arch_colours(archs)
    fig, axes = subplots(1, len(directions), figsize=(4.3 * len(directions), 3.8), sharey=True)
    for ax, direction in zip(np.atleast_1d(axes), directions, strict=True):
        for arch in archs:
            mine = [r for r in rows if r["arch"] == arch and r["direction"] == direction]
            shifts = sorted({r["shift"] for r in mine})
            seeds = len({r["seed"] for r in mine})
            mean, low, high = mean_band([[100 * r["accuracy"] for r in mine if r["shift"] == s]
                                         for s in shifts])
            label = arch if seeds == 1 else f"{arch} ({seeds} seeds)"
            ax.plot(shifts, mean, "-o", markersize=3, color=colours[arch], label=label)
            if seeds > 1:
                ax.fill_between(shifts, np.maximum(low, 0.0), np.minimum(high, 100.0),
                                color=colours[arch], alpha=0.2, linewidth=0)
        ax.set_title(f"{direction} shift", fontsize=9)
        ax.set_xlabel("pixels shifted (zero fill)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("test accuracy (%)")
    np.atleast_1d(axes)[-1].legend(fontsize=7)
    fig.suptitle(literal(title), fontsize=10)
    fig.text(0.5, 0.01, f"lines: mean over seeds; bands: {100 * CONFIDENCE:.0f}% t-interval "
             f"over seeds", ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return save(fig, path)


@figure_builder
def plot_permutation(rows: list[dict], title: str, path: Path | str) -> Figure:
    """Accuracy of each model on original and pixel-permuted images, each with its 95%
    interval (over seeds, or a bootstrap over the test images for one seed) as an error bar."""
    archs = [r["arch"] for r in rows]
    x = np.arange(len(rows))
    fig, ax = subplots(figsize=(1.6 * len(rows) + 3, 3.8))
    bars = []
    for offset, which, label, colour in ((-0.2, "original", "original pixels", "#3b6ea5"),
                                         (0.2, "permuted", "pixels permuted (one fixed permutation)",
                                          "#e0a040")):
        values = np.array([100 * r[f"accuracy_{which}"] for r in rows])
        # A t-interval over few seeds can reach past 0% or 100%: drawn within them.
        errors = np.array([[100 * r[f"accuracy_{which}"] - 100 * max(0.0, r[f"{which}_low"]) for r in rows],
                           [100 * min(1.0, r[f"{which}_high"]) - 100 * r[f"accuracy_{which}"] for r in rows]])
        ax.bar(x + offset, values, 0.4, yerr=errors, capsize=3, label=label, color=colour,
               error_kw={"elinewidth": 0.8})
        for xx, value, above in zip(x, values, errors[1], strict=True):
            ax.text(xx + offset, min(value + above + 0.3, 100.3), f"{value:.2f}", ha="center",
                    fontsize=7)
        bars += list(values - errors[0])
    original = [100 * r["accuracy_original"] for r in rows]
    permuted = [100 * r["accuracy_permuted"] for r in rows]
    low = min(original + permuted + bars)
    ax.set_ylim(max(0, low - 5), 101.5)
    ax.set_xticks(x, archs)
    ax.set_ylabel("test accuracy (%)")
    # Below the axes: inside, it covered the shorter bars.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False,
              title=interval_note(rows),
              title_fontsize=8)
    ax.set_title(literal(title), fontsize=10)
    return save(fig, path)


@figure_builder
def plot_data_efficiency(rows: list[dict], title: str, path: Path | str) -> Figure:
    """Test accuracy against training-set size (log axis), one line per model, each point
    with its 95% interval as an error bar."""
    archs = list(dict.fromkeys(r["arch"] for r in rows))
    colours = arch_colours(archs)
    fig, ax = subplots(figsize=(6.5, 4.3))
    for arch in archs:
        mine = sorted((r for r in rows if r["arch"] == arch), key=lambda r: r["train_size"])
        y = np.array([100 * r["test_accuracy"] for r in mine])
        errors = [y - [100 * max(0.0, r["accuracy_low"]) for r in mine],
                  [100 * min(1.0, r["accuracy_high"]) for r in mine] - y]
        seeds = max(r["seeds"] for r in mine)
        ax.errorbar([r["train_size"] for r in mine], y, yerr=errors, fmt="-o", capsize=3,
                    color=colours[arch], markersize=4, elinewidth=0.8,
                    label=arch if seeds == 1 else f"{arch} ({seeds} seeds)")
    ax.set_xscale("log")
    ax.set_xlabel("training images (log)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(literal(title), fontsize=10)
    fig.text(0.5, 0.01, interval_note(rows), ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return save(fig, path)


@figure_builder
def plot_training_dynamics(histories: dict[str, dict[int, list[dict]]], title: str,
                           path: Path | str) -> Figure:
    """Training loss and validation accuracy per epoch, overlaid for all models: the mean over
    each model's seeds, with a 95% band where it has several (the test split is scored once,
    after training, so it has no curve)."""
    colours = arch_colours(list(histories))
    fig, (left, right) = subplots(1, 2, figsize=(11, 4.1))
    for arch, seeds in histories.items():
        runs = list(seeds.values())
        epochs = [int(r["epoch"]) for r in runs[0]]
        label = arch if len(runs) == 1 else f"{arch} ({len(runs)} seeds)"
        for ax, column, scale in ((left, "train_loss", 1.0), (right, "val_acc", 100.0)):
            # The epochs every seed scored (validation may be scored every few epochs).
            shown = [i for i in range(len(epochs))
                     if all(math.isfinite(float(run[i][column])) for run in runs)]
            if not shown:
                continue
            mean, low, high = mean_band([[scale * float(run[i][column]) for run in runs]
                                         for i in shown])
            # Drawn within what can be: a loss above zero (log axis), an accuracy up to 100%.
            low, high = (np.maximum(low, mean / 10), high) if scale == 1.0 else (
                np.maximum(low, 0.0), np.minimum(high, 100.0))
            shown_epochs = [epochs[i] for i in shown]
            ax.plot(shown_epochs, mean, "-o", markersize=3, color=colours[arch], label=label)
            if len(runs) > 1:
                ax.fill_between(shown_epochs, low, high, color=colours[arch], alpha=0.2, linewidth=0)
    left.set_yscale("log")
    left.set_ylabel("training loss (log)")
    right.set_ylabel("validation accuracy (%)")
    finish_epoch_axes((left, right), 7)
    fig.suptitle(literal(title), fontsize=10)
    fig.text(0.5, 0.01, f"lines: mean over seeds; bands: {100 * CONFIDENCE:.0f}% t-interval "
             f"over seeds", ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return save(fig, path)

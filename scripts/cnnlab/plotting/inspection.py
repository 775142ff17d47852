"""Figures of the inspect steps: kernels, operator similarity, kernel norms, feature maps,
sparsity, receptive fields, the parameter table and the shape flow."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from cnnlab.plotting.base import figure_builder, literal, literals, message_figure, save, subplots


def _grid_shape(n: int, max_columns: int = 16) -> tuple[int, int]:
    columns = min(max_columns, max(1, math.ceil(math.sqrt(n * 2))))
    return math.ceil(n / columns), columns


@figure_builder
def plot_kernels(kernels: np.ndarray, title: str, path: Path | str, signed: bool,
                 labels: list[str] | None = None) -> Figure:
    """A grid of kernels: (n, k, k) grey or diverging, or (n, k, k, 3) colour in [0, 1]."""
    n = len(kernels)
    rows, columns = _grid_shape(n)
    fig, axes = subplots(rows, columns, figsize=(0.75 * columns + 0.6, 0.8 * rows + 0.7),
                             squeeze=False)
    image = None
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, kernel) in enumerate(zip(axes.flat, kernels, strict=False)):
        if kernel.ndim == 3:  # colour: map [-1, 1] to [0, 1] when signed
            ax.imshow((kernel + 1) / 2 if signed else kernel, interpolation="nearest")
        elif signed:
            image = ax.imshow(kernel, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
        else:
            image = ax.imshow(kernel, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(labels[i] if labels else str(i), fontsize=5.5, pad=1.5)
    fig.suptitle(literal(title), fontsize=9)
    if image is not None and signed:
        fig.colorbar(image, ax=axes, fraction=0.02, pad=0.01, label="weight / max |weight|")
    return save(fig, path)


@figure_builder
def plot_similarity(trained: list[dict], init: list[dict], title: str, path: Path | str) -> Figure:
    """Best cosine similarity per kernel (sorted), trained vs initialisation, and match counts."""
    fig, (left, right) = subplots(1, 2, figsize=(10, 3.6), width_ratios=[1, 1.2])
    for rows, label, style in ((trained, "trained", "-o"), (init, "at initialisation", "--s")):
        values = sorted((r["best_similarity"] for r in rows), reverse=True)
        left.plot(range(1, len(values) + 1), values, style, markersize=3, label=label)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel("kernels, most operator-like first")
    left.set_ylabel("best cosine similarity")
    left.set_ylim(0, 1)
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    names = sorted({r["best_match"] for r in trained + init})
    counts_t = [sum(r["best_match"] == n for r in trained) for n in names]
    counts_i = [sum(r["best_match"] == n for r in init) for n in names]
    y = np.arange(len(names))
    right.barh(y + 0.2, counts_t, 0.4, label="trained")
    right.barh(y - 0.2, counts_i, 0.4, label="at initialisation")
    right.set_yticks(y, names, fontsize=7)
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.set_xlabel("kernels whose best match it is")
    right.legend(fontsize=8)
    fig.suptitle(literal(title), fontsize=10)
    fig.tight_layout()
    return save(fig, path)


@figure_builder
def plot_channel_norms(layers: list[tuple[str, np.ndarray]], title: str, path: Path | str) -> Figure:
    """For each deeper convolution, a heat map of kernel norms (output x input channels)."""
    if not layers:
        return message_figure("no convolution beyond the first layer", path)
    n = len(layers)
    columns = min(n, 3)
    rows = math.ceil(n / columns)
    fig, axes = subplots(rows, columns, figsize=(4.2 * columns, 3.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, norms) in zip(axes.flat, layers, strict=False):
        ax.axis("on")
        image = ax.imshow(norms, cmap="magma", aspect="auto", interpolation="nearest")
        ax.set_title(f"{name}: {norms.shape[0]} x {norms.shape[1]} kernels", fontsize=8)
        ax.set_xlabel("input channel", fontsize=7)
        ax.set_ylabel("output channel", fontsize=7)
        ax.tick_params(labelsize=6)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=6)
    fig.suptitle(literal(title), fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def _to_rgb(image: np.ndarray, cmap: str, low: float, high: float) -> np.ndarray:
    scaled = (image - low) / (high - low) if high > low else np.zeros_like(image, dtype=float)
    return matplotlib.colormaps[cmap](np.clip(scaled, 0, 1))[..., :3]


@figure_builder
def plot_feature_maps(images: np.ndarray, maps: np.ndarray, row_labels: list[str], title: str,
                      path: Path | str, channels: int) -> Figure:
    """One row per input image: the image, then the first ``channels`` maps of one layer.

    The grid is composed as one RGB mosaic and drawn with a single imshow: a figure of
    hundreds of small axes took matplotlib seconds per layer.
    """
    shown = min(channels, maps.shape[1])
    rows = len(images)
    cell = max(images.shape[-1], maps.shape[-1])
    gap = max(1, cell // 10)
    mosaic = np.ones((rows * (cell + gap) - gap, (shown + 1) * (cell + gap) - gap, 3))

    def place(r: int, c: int, rgb: np.ndarray) -> None:
        factor = max(1, cell // max(rgb.shape[:2]))  # small maps drawn as large as the input
        rgb = rgb.repeat(factor, axis=0).repeat(factor, axis=1)
        h, w = rgb.shape[:2]
        y, x = r * (cell + gap) + (cell - h) // 2, c * (cell + gap) + (cell - w) // 2
        mosaic[y:y + h, x:x + w] = rgb

    for r in range(rows):
        image = images[r]
        if image.shape[0] == 1:
            place(r, 0, _to_rgb(image[0].astype(float), "gray_r", 0, 255))
        else:
            place(r, 0, np.transpose(image, (1, 2, 0)) / 255.0)
        for c in range(shown):
            fmap = maps[r, c]
            place(r, c + 1, _to_rgb(fmap, "viridis", float(fmap.min()), float(fmap.max())))
    fig, ax = subplots(figsize=(0.8 * (shown + 1) + 0.6, 0.8 * rows + 0.6))
    ax.imshow(mosaic, interpolation="nearest")
    centres = [i * (cell + gap) + cell / 2 - 0.5 for i in range(max(rows, shown + 1))]
    ax.set_xticks(centres[: shown + 1], ["input"] + [f"ch {c}" for c in range(shown)], fontsize=6)
    ax.set_yticks(centres[:rows], literals(row_labels), fontsize=6)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(literal(title), fontsize=8, pad=14)
    return save(fig, path)


@figure_builder
def plot_sparsity(rows: list[dict], title: str, path: Path | str) -> Figure:
    """Share of zero activations and of dead channels per ReLU layer."""
    if not rows:
        return message_figure("no ReLU layers: nothing is exactly zero", path)
    labels = [f"{r['layer']}\n(after {r['follows']})" for r in rows]
    x = np.arange(len(rows))
    fig, ax = subplots(figsize=(max(5, 1.1 * len(rows) + 1.5), 3.4))
    ax.bar(x - 0.2, [r["zero_fraction"] for r in rows], 0.4, label="activations exactly zero")
    ax.bar(x + 0.2, [r["dead_fraction"] for r in rows], 0.4, label="channels that never fire")
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share over the test set")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(literal(title), fontsize=10)
    return save(fig, path)


@figure_builder
def plot_receptive_fields(image: np.ndarray, boxes: list[tuple[str, float, int]], title: str,
                          path: Path | str) -> Figure:
    """Each layer's receptive field of one central unit, as a square over the input image.

    ``boxes`` holds (label, centre in input pixels, size); a field larger than the image is
    drawn clipped, with a dashed edge.
    """
    from matplotlib.patches import Rectangle

    size = image.shape[-1]
    fig, ax = subplots(figsize=(6.4, 5.2))
    if image.shape[0] == 1:
        ax.imshow(image[0], cmap="gray_r", vmin=0, vmax=255, extent=(-0.5, size - 0.5, size - 0.5, -0.5))
    else:
        ax.imshow(np.transpose(image, (1, 2, 0)), extent=(-0.5, size - 0.5, size - 0.5, -0.5))
    colours = matplotlib.colormaps["viridis"](np.linspace(0, 0.9, max(1, len(boxes))))
    for (label, centre, rf), colour in zip(boxes, colours, strict=True):
        low = centre - rf / 2
        clipped = low < -0.5 or low + rf > size - 0.5
        ax.add_patch(Rectangle((low, low), rf, rf, fill=False, edgecolor=colour, linewidth=1.6,
                               linestyle="--" if clipped else "-", label=literal(f"{label}: {rf}x{rf}")))
    ax.set_xlim(-0.5 - size * 0.05, size - 0.5 + size * 0.05)
    ax.set_ylim(size - 0.5 + size * 0.05, -0.5 - size * 0.05)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    ax.set_title(literal(title), fontsize=9)
    return save(fig, path)


@figure_builder
def plot_parameters(rows: list[dict], title: str, path: Path | str) -> Figure:
    """Parameters per layer (layers with parameters), with each one's share of the total."""
    rows = [r for r in rows if r["params"] > 0]
    fig, ax = subplots(figsize=(7, 0.38 * len(rows) + 1.2))
    y = np.arange(len(rows))[::-1]
    ax.barh(y, [r["params"] for r in rows], color="#3b6ea5")
    ax.set_yticks(y, [f"{r['name']} ({r['type']})" for r in rows], fontsize=7)
    top = max(r["params"] for r in rows)
    for yy, r in zip(y, rows, strict=True):
        ax.text(r["params"] + top * 0.01, yy, f"{r['params']:,} ({100 * r['share']:.1f}%)",
                va="center", fontsize=7)
    ax.set_xlim(0, top * 1.3)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.set_xlabel("parameters")
    ax.set_title(literal(title), fontsize=10)
    return save(fig, path)


@figure_builder
def plot_shape_flow(flow: list[tuple[str, str]], title: str, path: Path | str) -> Figure:
    """The tensor shape after each layer that changes it, top to bottom."""
    n = len(flow)
    fig, ax = subplots(figsize=(5.2, 0.55 * n + 0.8))
    ax.axis("off")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.5, n - 0.5)
    for i, (label, shape) in enumerate(flow):
        y = n - 1 - i
        ax.text(0.5, y, shape, ha="center", va="center", fontsize=9, family="monospace",
                bbox={"boxstyle": "round,pad=0.3", "facecolor": "#e8eef6", "edgecolor": "#3b6ea5"})
        ax.text(0.02, y, label, ha="left", va="center", fontsize=6.5, color="#444444")
        if i:
            ax.annotate("", xy=(0.5, y + 0.28), xytext=(0.5, y + 0.72),
                        arrowprops={"arrowstyle": "->", "color": "#3b6ea5"})
    ax.set_title(literal(title), fontsize=10)
    return save(fig, path)

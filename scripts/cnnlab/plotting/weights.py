"""Figures of the weights step: how training moved each layer's weights, and how the first
convolution's kernels evolved epoch by epoch."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from cnnlab.plotting.base import figure_builder, literal, save, subplots

# At most this many epochs are drawn in the strip (evenly spaced, the first and last always).
STRIP_EPOCHS = 11
# Kernels are drawn in blocks of this many channels side by side, at most MAX_STRIP_COLUMNS
# cells wide and MAX_STRIP_CHANNELS channels in all.
BLOCK_CHANNELS = 8
MAX_STRIP_COLUMNS = 24
MAX_STRIP_CHANNELS = 32


@figure_builder
def plot_weight_changes(layers: Sequence[dict[str, Any]], title: str, path: Path | str,
                        per_row: int = 4) -> Figure:
    """Per learned layer (``name``, ``edges``, ``init`` and ``trained`` counts, ``change``), the
    distribution of its weights at initialisation and trained, on shared bins."""
    columns = min(per_row, len(layers))
    rows = math.ceil(len(layers) / columns)
    fig, axes = subplots(rows, columns, figsize=(2.5 * columns + 0.4, 2.0 * rows + 0.8),
                         squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, layer in zip(axes.flat, layers, strict=False):
        ax.axis("on")
        edges = layer["edges"]
        ax.stairs(layer["init"], edges, label="initialisation", color="#7f7f7f", fill=True,
                  alpha=0.5)
        ax.stairs(layer["trained"], edges, label="trained", color="#1f77b4", linewidth=1.2)
        ax.set_title(f"{literal(layer['name'])}\nchange {100 * layer['change']:.0f}% of its norm",
                     fontsize=7.5)
        ax.tick_params(labelsize=6)
        ax.set_yticks([])
        ax.set_xlabel("weight", fontsize=7)
    axes[0, 0].legend(fontsize=6.5, loc="upper left")
    fig.suptitle(literal(title), fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def strip_selection(epochs: int, channels: int) -> tuple[np.ndarray, int]:
    """Which epochs (indices into the trajectory, evenly spaced, first and last included) and
    how many channels (the first ones) the evolution strip draws."""
    shown = np.unique(np.round(np.linspace(0, epochs - 1, min(epochs, STRIP_EPOCHS))).astype(int))
    blocks = max(1, MAX_STRIP_COLUMNS // len(shown))
    return shown, min(channels, blocks * BLOCK_CHANNELS, MAX_STRIP_CHANNELS)


def _block_stride(epochs: int, size: int) -> int:
    """Pixels from one block of the strip to the next: its cells (each a kernel and a white
    line) and a kernel's width of white, so blocks read apart from epochs."""
    return epochs * (size + 1) + size


def _strip_canvas(kernels: np.ndarray, shown: np.ndarray, channels: int) -> np.ndarray:
    """The kernels (epochs x out x in x k x k) of the first ``channels`` channels at the
    ``shown`` epochs as one RGB image: a row per channel, a column per epoch, blocks of
    :data:`BLOCK_CHANNELS` channels side by side, white between cells.

    Each channel has one scale over all its epochs, so a kernel's change reads as a change of
    colour: one input channel on a diverging map (blue negative, red positive, white zero),
    three as colours stretched to the channel's range."""
    _, _, inputs, size, _ = kernels.shape
    blocks = math.ceil(channels / BLOCK_CHANNELS)
    rows = min(channels, BLOCK_CHANNELS)
    cell, stride = size + 1, _block_stride(len(shown), size)
    width = (blocks - 1) * stride + len(shown) * cell - 1
    canvas = np.ones((rows * cell - 1, width, 3))
    diverging = matplotlib.colormaps["RdBu_r"]
    for channel in range(channels):
        series = kernels[shown, channel]  # epochs x in x k x k
        if inputs == 3:
            low, high = series.min(), series.max()
            images = ((series - low) / (high - low if high > low else 1.0)).transpose(0, 2, 3, 1)
        else:
            mean = series.mean(axis=1)
            scale = np.abs(mean).max() or 1.0
            images = diverging(0.5 + 0.5 * mean / scale)[..., :3]
        block, row = divmod(channel, BLOCK_CHANNELS)
        for column, image in enumerate(images):
            left = block * stride + column * cell
            canvas[row * cell:row * cell + size, left:left + size] = image
    return canvas


def _draw_strip(ax: Any, canvas: np.ndarray, trajectory: dict[str, Any], shown: np.ndarray,
                channels: int, change: np.ndarray) -> None:
    """The strip's canvas (:func:`_strip_canvas`) with its epochs, the kernel layer's change at
    each, and its channels labelled."""
    kernels, epochs = trajectory["kernels"], trajectory["epochs"]
    size, cell = kernels.shape[-1], kernels.shape[-1] + 1
    stride = _block_stride(len(shown), size)
    blocks = math.ceil(channels / BLOCK_CHANNELS)
    kernel_index = trajectory["layers"].index(trajectory["kernel_layer"])
    ax.imshow(canvas, interpolation="nearest")
    ax.set_xticks([b * stride + c * cell + (size - 1) / 2
                   for b in range(blocks) for c in range(len(shown))])
    ax.set_xticklabels([f"{epochs[e]}\n{change[e, kernel_index]:.0f}%"
                        for _ in range(blocks) for e in shown], fontsize=5.5)
    rows = range(min(channels, BLOCK_CHANNELS))
    ax.set_yticks([r * cell + (size - 1) / 2 for r in rows])
    # One block: its rows are the channels; several: each block says which channels it holds.
    ax.set_yticklabels([str(r) for r in rows] if blocks == 1 else [], fontsize=5.5)
    for block in range(blocks if blocks > 1 else 0):
        last = min(channels, (block + 1) * BLOCK_CHANNELS) - 1
        ax.text(block * stride + (len(shown) * cell - 1) / 2, -1.0,
                f"channels {block * BLOCK_CHANNELS}-{last}", ha="center", va="bottom", fontsize=6)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("epoch (0 = initialisation) and the layer's change from it", fontsize=7)
    ax.set_ylabel("channel", fontsize=7)
    ax.set_title(literal(
        f"{trajectory['kernel_layer']}: kernels of channels 0-{channels - 1} of {kernels.shape[1]}, "
        "each on one scale over the epochs"), fontsize=7.5, pad=14 if blocks > 1 else 6)


@figure_builder
def plot_weight_evolution(trajectory: dict[str, Any], title: str, path: Path | str) -> Figure:
    """A trajectory (:func:`cnnlab.analysis.weights.trajectory_fields`): the first
    convolution's kernels epoch by epoch (where the model has one) above every learned layer's
    relative change ||W_t - W_0|| / ||W_0|| by epoch."""
    epochs, layers = trajectory["epochs"], trajectory["layers"]
    change = 100 * np.asarray(trajectory["relative_change"])
    kernels = trajectory["kernels"]
    curve_height = 2.6
    if kernels is None:
        fig, curve_ax = subplots(figsize=(7.5, curve_height))
    else:
        shown, channels = strip_selection(len(epochs), kernels.shape[1])
        canvas = _strip_canvas(kernels, shown, channels)
        strip_width = min(7.5, 0.06 * canvas.shape[1] + 0.8)
        strip_height = strip_width * canvas.shape[0] / canvas.shape[1] + 0.6
        fig, (strip_ax, curve_ax) = subplots(
            2, 1, figsize=(7.5, strip_height + curve_height + 0.4),
            height_ratios=[strip_height, curve_height])
        _draw_strip(strip_ax, canvas, trajectory, shown, channels, change)
    colours = matplotlib.colormaps["viridis"](np.linspace(0, 0.9, len(layers)))
    for index, (name, colour) in enumerate(zip(layers, colours, strict=True)):
        curve_ax.plot(epochs, change[:, index], marker="o", markersize=3, linewidth=1.2,
                      color=colour, label=literal(name))
    curve_ax.set_xlabel("epoch (0 = initialisation)", fontsize=7.5)
    curve_ax.set_ylabel("||W_t - W_0|| / ||W_0|| (%)", fontsize=7.5)
    curve_ax.set_xticks(epochs if len(epochs) <= 12 else np.unique(np.linspace(
        epochs[0], epochs[-1], 11).round().astype(int)))
    curve_ax.tick_params(labelsize=6.5)
    curve_ax.set_ylim(bottom=0)
    curve_ax.grid(alpha=0.3)
    curve_ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                    ncol=1 if len(layers) <= 14 else 2, title="layer", title_fontsize=6.5)
    curve_ax.set_title("each learned layer's relative change from its initial weights",
                       fontsize=7.5)
    fig.suptitle(literal(title), fontsize=9)
    fig.tight_layout()
    return save(fig, path)

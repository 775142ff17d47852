"""Figures of the units step: what the units of a convolutional model respond to."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import matplotlib
import matplotlib.lines
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cnnlab.analysis.effective_field import Box
from cnnlab.plotting.base import figure_builder, literal, save, subplots

STATES = (("init", "at initialisation"), ("trained", "trained"))


def _paired_grid(count: int, per_row: int, width: float, height: float) -> tuple[Figure, Any, int]:
    """A figure for ``count`` items side by side, ``per_row`` a row, each item two panels one
    above the other (``width`` x ``height`` inches for both): the figure, its axes (all off
    until drawn on) and the number of columns."""
    columns = min(per_row, count)
    blocks = math.ceil(count / columns)
    fig, axes = subplots(2 * blocks, columns, figsize=(width * columns + 0.5, height * blocks + 0.6),
                         squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes, columns


@figure_builder
def plot_effective_fields(results: Sequence[dict[str, Any]], title: str,
                          path: Path | str, per_row: int = 5) -> Figure:
    """Each convolution's ERF at initialisation above the trained one, each scaled to its own
    peak, with the theoretical field of the unit outlined (clipped to the image)."""
    layers = list(dict.fromkeys(r["layer"] for r in results))
    by_key = {(r["layer"], r["state"]): r for r in results}
    fig, axes, columns = _paired_grid(len(layers), per_row, 2.1, 4.6)
    for i, layer in enumerate(layers):
        block, column = divmod(i, columns)
        for r, (state, label) in enumerate(STATES):
            ax = axes[2 * block + r, column]
            result = by_key[(layer, state)]
            field = result["field"]
            box = Box(*result["box"])
            top, bottom, left, right = result["box"]
            # The field and a margin around it, not the whole image: a 3-pixel field of a
            # 28-pixel image would be a dot.
            crop = box.grown(max(2, (bottom - top + 1) // 4), field.shape[0])
            ax.axis("on")
            ax.imshow(field[crop.top:crop.bottom + 1, crop.left:crop.right + 1] / field.max(),
                      cmap="magma", vmin=0, vmax=1,
                      extent=(crop.left - 0.5, crop.right + 0.5, crop.bottom + 0.5, crop.top - 0.5))
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1,
                                   fill=False, edgecolor="#4fc3f7", linewidth=1.2))
            ax.set_xticks([])
            ax.set_yticks([])
            sigma = (result["sigma_rows"] + result["sigma_cols"]) / 2
            heading = f"{literal(layer)}\n" if r == 0 else ""
            ax.set_title(f"{heading}σ {sigma:.2f} px, 95% in {100 * result['mass_share']:.0f}%",
                         fontsize=7)
            if column == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle(literal(title), fontsize=9)
    fig.text(0.5, 0.005, "Blue square: the unit's theoretical receptive field (clipped to the "
             "image), shown with a margin around it. σ: the field's standard deviation (moments, "
             "mean of both axes); 95%: the share of the theoretical field whose pixels hold 95% "
             "of the gradient.",
             ha="center", va="bottom", fontsize=7, wrap=True)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return save(fig, path)


@figure_builder
def plot_top_images(images: np.ndarray, boxes: Sequence[Sequence[Sequence[int]]],
                    values: np.ndarray, channels: Sequence[int], title: str,
                    path: Path | str) -> Figure:
    """For each of ``channels`` (rows), its top test images (uint8 (rows, k, C, H, W)), strongest
    first, each with the patch that caused its peak outlined (``boxes``: top, bottom, left,
    right per image) and the range of the peak activations beside the row.

    The thumbnails are laid into one image and drawn once: a figure of a few hundred axes
    took seconds to draw, and a model has one such figure per convolution.
    """
    rows, count, depth, height, width = images.shape
    gap = 2
    # Gaps are white once drawn: grayscale is drawn inverted (dark ink on white).
    canvas = np.full((rows * (height + gap) - gap, count * (width + gap) - gap, depth),
                     0 if depth == 1 else 255, dtype=np.uint8)
    fig, ax = subplots(figsize=(0.62 * count + 1.3, 0.62 * rows + 0.6))
    for r in range(rows):
        for c in range(count):
            top_px, left_px = r * (height + gap), c * (width + gap)
            canvas[top_px:top_px + height, left_px:left_px + width] = np.transpose(images[r, c],
                                                                                  (1, 2, 0))
            top, bottom, left, right = boxes[r][c]
            ax.add_patch(Rectangle((left_px + left - 0.5, top_px + top - 0.5), right - left + 1,
                                   bottom - top + 1, fill=False, edgecolor="#d62728",
                                   linewidth=0.9))
        ax.text(-gap * 2, r * (height + gap) + height / 2,
                f"ch. {channels[r]}\n{values[r, 0]:.3g}–{values[r, -1]:.3g}", fontsize=6.5,
                ha="right", va="center")
    if depth == 1:
        # Dark ink on white, as the other figures draw grayscale digits.
        ax.imshow(255 - canvas[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(canvas, interpolation="nearest")
    ax.axis("off")
    ax.set_title(literal(title), fontsize=8.5)
    return save(fig, path)


@figure_builder
def plot_embeddings(rows: Sequence[dict[str, Any]], projections: Sequence[dict[str, np.ndarray]],
                    classes: Sequence[str], title: str, path: Path | str,
                    per_row: int = 4) -> Figure:
    """Per model, its PCA (above) and t-SNE (below) projection, points coloured by true class,
    with the model's k-NN accuracy and silhouette score; ``per_row`` models side by side."""
    fig, axes, columns = _paired_grid(len(rows), per_row, 2.4, 4.9)
    colours = matplotlib.colormaps["tab10"](np.linspace(0, 1, 10))
    for i, (row, projection) in enumerate(zip(rows, projections, strict=True)):
        block, column = divmod(i, columns)
        labels = projection["labels"]
        for r, key in enumerate(("pca", "tsne")):
            ax = axes[2 * block + r, column]
            ax.axis("on")
            points = projection[key]
            ax.scatter(points[:, 0], points[:, 1], s=1.5, c=colours[labels % 10], linewidths=0,
                       rasterized=True)
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_ylabel("PCA" if key == "pca" else "t-SNE", fontsize=8)
        axes[2 * block, column].set_title(
            f"{literal(row['arch'])} ({row['features']} features)\n"
            f"k-NN {100 * row['knn_accuracy']:.1f}%, silhouette {row['silhouette']:.2f}",
            fontsize=8)
    handles = [matplotlib.lines.Line2D([], [], marker="o", linestyle="", markersize=4,
                                       color=colours[i % 10], label=literal(name))
               for i, name in enumerate(classes)]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(classes), 10), fontsize=7,
               frameon=False)
    fig.suptitle(literal(title), fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return save(fig, path)


@figure_builder
def plot_optimal_inputs(layers: Sequence[dict[str, Any]], title: str, path: Path | str,
                        per_row: int = 16) -> Figure:
    """Per layer (``name``, ``images``: (C, h, w) crops of each channel's optimal input around
    its unit's field, ``note``), the optima in rows of ``per_row``, each scaled to its own range
    (dark low, bright high)."""
    rows_of = [math.ceil(len(layer["images"]) / per_row) for layer in layers]
    fig, axes = subplots(len(layers), 1, squeeze=False, height_ratios=rows_of,
                         figsize=(0.55 * per_row + 0.4, 0.55 * sum(rows_of) + 0.5 * len(layers) + 0.5))
    for ax, layer in zip(axes[:, 0], layers, strict=True):
        images = layer["images"]
        count, height, width = images.shape
        rows = math.ceil(count / per_row)
        canvas = np.full((rows * (height + 1) - 1, min(count, per_row) * (width + 1) - 1), np.nan)
        for i, image in enumerate(images):
            low, high = float(image.min()), float(image.max())
            scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
            r, c = divmod(i, per_row)
            canvas[r * (height + 1):r * (height + 1) + height,
                   c * (width + 1):c * (width + 1) + width] = scaled
        cmap = matplotlib.colormaps["gray"].with_extremes(bad="white")
        ax.imshow(np.ma.masked_invalid(canvas), cmap=cmap, vmin=0, vmax=1,
                  interpolation="nearest")
        ax.axis("off")
        ax.set_title(literal(f"{layer['name']}: {layer['note']}"), fontsize=7.5)
    fig.suptitle(literal(title), fontsize=9)
    fig.tight_layout()
    return save(fig, path)

"""Figures of the attribution step: maps over the images they explain, and the two sanity checks
(cascading randomisation, deletion and insertion curves)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec

from cnnlab.analysis.attribution import METHODS, SIGNED_METHODS
from cnnlab.analysis.attribution_checks import FAILING_CORRELATION, RANDOM_ORDER
from cnnlab.plotting.base import figure_builder, literal, save, subplots

METHOD_NAMES = {"saliency": "saliency", "integrated_gradients": "integrated\ngradients",
                "grad_cam": "Grad-CAM", "occlusion": "occlusion"}
METHOD_COLOURS = {"saliency": "#1f77b4", "integrated_gradients": "#ff7f0e",
                  "grad_cam": "#2ca02c", "occlusion": "#9467bd", RANDOM_ORDER: "black"}
# Red is evidence for the explained class in every row; blue (signed methods) against it.
POSITIVE_CMAP, SIGNED_CMAP = "Reds", "RdBu_r"


def scaled(attribution: np.ndarray) -> np.ndarray:
    """A map divided by its largest absolute value (a map of zeros stays zero)."""
    peak = float(np.abs(attribution).max())
    return attribution / peak if peak > 0 else np.zeros_like(attribution)


def show_image(ax, image: np.ndarray, alpha: float = 1.0) -> None:  # noqa: ANN001
    """A uint8 (C, H, W) image: grayscale as dark ink on white, colour as it is."""
    if image.shape[0] == 1:
        ax.imshow(image[0], cmap="gray_r", vmin=0, vmax=255, alpha=alpha)
    else:
        ax.imshow(np.transpose(image, (1, 2, 0)), alpha=alpha)


def overlay(ax, image: np.ndarray, attribution: np.ndarray, method: str) -> None:  # noqa: ANN001
    """The map over a faded image; each pixel's opacity is its share of the map's peak."""
    show_image(ax, image, alpha=0.3)
    values = scaled(attribution)
    signed = method in SIGNED_METHODS
    ax.imshow(values, cmap=SIGNED_CMAP if signed else POSITIVE_CMAP,
              vmin=-1 if signed else 0, vmax=1, alpha=np.clip(np.abs(values), 0, 1))


def _colour_bar(fig: Figure, cax, method: str) -> None:  # noqa: ANN001
    """The colour scale of ``method``'s rows: 0 to 1, or -1 to 1 for a signed method."""
    signed = method in SIGNED_METHODS
    mappable = ScalarMappable(Normalize(-1 if signed else 0, 1),
                              colormaps[SIGNED_CMAP if signed else POSITIVE_CMAP])
    bar = fig.colorbar(mappable, cax=cax)
    bar.set_ticks([-1, 0, 1] if signed else [0, 0.5, 1])
    bar.ax.tick_params(labelsize=6)
    bar.set_label("share of peak", fontsize=5.5)


def _figure(width: float, height: float) -> Figure:
    """A figure with its own Agg canvas, for layouts that need a GridSpec."""
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _bare(ax) -> None:  # noqa: ANN001
    """No ticks: an image panel, whose axis label may still name its row."""
    ax.set_xticks([])
    ax.set_yticks([])


@figure_builder
def plot_attribution_mosaic(images: np.ndarray, maps: Mapping[str, np.ndarray],
                            captions: Sequence[str], wrong: Sequence[bool],
                            blocks: Sequence[tuple[str, int]], title: str,
                            path: Path | str) -> Figure:
    """Each image (uint8 (N, C, H, W)) above every method's map of it, in blocks of columns
    (``blocks``: a heading and how many images, in order); a colour bar per method row."""
    blocks = [(heading, count) for heading, count in blocks if count]
    columns = max(count for _, count in blocks)
    rows = 1 + len(METHODS)
    height = (0.8 * rows + 0.75) * len(blocks) + 0.4
    fig = _figure(0.8 * columns + 1.3, height)
    # Each block's first row holds its heading and, below it, the images' three-line captions.
    grid = GridSpec(len(blocks) * (rows + 1), columns + 2, figure=fig,
                    width_ratios=[1.0] * columns + [0.15, 0.12],
                    height_ratios=([1.0] + [1.0] * rows) * len(blocks), hspace=0.12, wspace=0.06,
                    top=1 - 0.4 / height, bottom=0.01, left=0.06, right=0.97)
    start = 0
    for b, (heading, count) in enumerate(blocks):
        top = b * (rows + 1)
        head = fig.add_subplot(grid[top, :columns])
        head.axis("off")
        head.text(0, 1, literal(heading), fontsize=9, fontweight="bold", va="top",
                  transform=head.transAxes)
        for c in range(count):
            i = start + c
            ax = fig.add_subplot(grid[top + 1, c])
            show_image(ax, images[i])
            ax.set_title(literal(captions[i]), fontsize=6.5,
                         color="#b22222" if wrong[i] else "black")
            _bare(ax)
            if c == 0:
                ax.set_ylabel("image", fontsize=7)
            for r, method in enumerate(METHODS, start=1):
                ax = fig.add_subplot(grid[top + 1 + r, c])
                overlay(ax, images[i], maps[method][i], method)
                _bare(ax)
                if c == 0:
                    ax.set_ylabel(METHOD_NAMES[method], fontsize=7)
        for r, method in enumerate(METHODS, start=1):
            if count == columns:
                cax = fig.add_subplot(grid[top + 1 + r, columns + 1])
            else:  # beside the block's last image, not across the empty columns
                cell = fig.add_subplot(grid[top + 1 + r, count])
                cell.axis("off")
                cax = cell.inset_axes((0.08, 0.0, 0.12, 1.0))
            _colour_bar(fig, cax, method)
        start += count
    fig.suptitle(literal(title), fontsize=10)
    return save(fig, path)


def _wrapped(name: str, width: int = 13) -> str:
    """A dotted layer name broken at its dots into lines of about ``width`` characters."""
    lines = [""]
    for part in name.split("."):
        piece = part if not lines[-1] else "." + part
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines.append(piece)
        else:
            lines[-1] += piece
    return "\n".join(lines)


@figure_builder
def plot_randomisation_example(image: np.ndarray, example: Mapping[str, Sequence[np.ndarray]],
                               layers: Sequence[str], title: str, path: Path | str) -> Figure:
    """One image's map by each method (rows) for the trained model and after each further
    layer is randomised, from the output down (columns)."""
    columns = len(layers) + 2  # the image, the trained model's map, one per randomised layer
    height = 0.9 * len(METHODS) + 1.1
    fig = _figure(0.85 * columns + 0.6, height)
    grid = GridSpec(len(METHODS), columns, figure=fig, wspace=0.06, hspace=0.08,
                    top=1 - 0.8 / height, bottom=0.01, left=0.6 / (0.85 * columns + 0.6),
                    right=0.99)
    for r, method in enumerate(METHODS):
        ax = fig.add_subplot(grid[r, 0])
        show_image(ax, image)
        _bare(ax)
        ax.set_ylabel(METHOD_NAMES[method], fontsize=7)
        if r == 0:
            ax.set_title("image", fontsize=6.5)
        for c, attribution in enumerate(example[method]):
            ax = fig.add_subplot(grid[r, c + 1])
            overlay(ax, image, attribution, method)
            _bare(ax)
            if r == 0:
                ax.set_title("trained" if c == 0 else "+ " + _wrapped(layers[c - 1]), fontsize=6)
    fig.suptitle(literal(title), fontsize=9)
    return save(fig, path)


@figure_builder
def plot_attribution_checks(layers: Sequence[str], correlation: Mapping[str, Sequence[float]],
                            fractions: np.ndarray, deletion: Mapping[str, np.ndarray],
                            insertion: Mapping[str, np.ndarray],
                            deletion_area: Mapping[str, float], insertion_area: Mapping[str, float],
                            notes: tuple[str, str], title: str, path: Path | str) -> Figure:
    """Top: each method's rank correlation with the trained maps as layers are randomised from
    the output down. Bottom: the class probability as pixels are deleted, and as they are
    inserted, in each method's order and in a random one (areas in the legend)."""
    fig, axes = subplots(2, 2, figsize=(9.5, 7.2), height_ratios=[1.1, 1])
    top = fig.add_subplot(2, 1, 1)
    axes[0, 0].remove()
    axes[0, 1].remove()
    steps = np.arange(len(layers) + 1)
    for method in METHODS:
        top.plot(steps, [1.0, *correlation[method]], "-o", markersize=3.5,
                 color=METHOD_COLOURS[method], label=METHOD_NAMES[method].replace("\n", " "))
    top.axhline(FAILING_CORRELATION, color="#b22222", linestyle="--", linewidth=1)
    top.text(len(layers), FAILING_CORRELATION + 0.02,
             f"flagged as failing at or above {FAILING_CORRELATION}", color="#b22222",
             fontsize=7, ha="right", va="bottom")
    top.axhline(0, color="grey", linewidth=0.6)
    top.set_xticks(steps, ["none (trained)", *("+ " + literal(name) for name in layers)],
                   rotation=30, ha="right", fontsize=7)
    lowest = np.nanmin([np.nanmin(v) if not np.all(np.isnan(v)) else 0.0
                        for v in correlation.values()])
    top.set_ylim(min(-0.2, lowest - 0.05), 1.05)
    top.set_ylabel("Spearman's rank correlation of |map|\nwith the trained model's")
    top.set_xlabel(literal(notes[0]), fontsize=8)
    top.set_title("Cascading randomisation, from the output layer down", fontsize=9)
    top.grid(alpha=0.3)
    top.legend(fontsize=7, loc="lower left", ncol=4)
    for ax, curves, areas, name, corner in ((axes[1, 0], deletion, deletion_area, "Deletion",
                                             "upper right"),
                                            (axes[1, 1], insertion, insertion_area, "Insertion",
                                             "lower right")):
        for order, curve in curves.items():
            label = ("random order" if order == RANDOM_ORDER
                     else METHOD_NAMES[order].replace("\n", " "))
            ax.plot(100 * fractions, curve, "--" if order == RANDOM_ORDER else "-",
                    color=METHOD_COLOURS[order], label=f"{label} (area {areas[order]:.3f})")
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(f"pixels {'set to the baseline' if name == 'Deletion' else 'restored'}, "
                      "most attributed first (%)")
        ax.set_ylabel("probability of the explained class")
        ax.set_title(f"{name} ({'lower' if name == 'Deletion' else 'higher'} area is better)",
                     fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6.5, loc=corner)
    fig.text(0.5, 0.005, literal(notes[1]), ha="center", va="bottom", fontsize=7.5)
    fig.suptitle(literal(title), fontsize=10)
    fig.tight_layout(rect=(0, 0.025, 1, 1))
    return save(fig, path)

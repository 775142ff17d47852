"""What every figure shares: a pinned style applied in a context, pyplot-free figures, saving,
literal data labels, colours per model, and label placement without overlaps.

Figures are built on :class:`matplotlib.figure.Figure` with an Agg canvas of their own, so
no pyplot state, backend switch or global rcParams change outlives a builder.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox

from cnnlab.io import atomic_target

DPI = 150
# Pinned so that a user's matplotlibrc cannot change what the report shows; mathtext stays on
# (log-axis tick labels are mathtext), and data labels are escaped with `literal` instead.
STYLE = {
    "text.usetex": False,
    "text.parse_math": True,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "axes.unicode_minus": True,
}

Builder = TypeVar("Builder", bound=Callable[..., Figure])


def figure_builder(build: Builder) -> Builder:
    """Run a figure builder with :data:`STYLE` in force, and only while it runs."""

    @functools.wraps(build)
    def styled(*args: Any, **kwargs: Any) -> Figure:
        with matplotlib.rc_context(STYLE):
            return build(*args, **kwargs)

    return styled  # type: ignore[return-value]


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float],
             **kwargs: Any) -> tuple[Figure, Any]:
    """A new figure with its own Agg canvas, and its axes (as ``Figure.subplots`` gives them)."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def save(fig: Figure, path: Path | str) -> Figure:
    """Write ``fig`` as PNG (no software stamp, so the bytes depend on the content only).

    Through :func:`cnnlab.io.atomic_target`, so a full disk leaves the old figure, not half a PNG.
    """
    with atomic_target(path) as temporary:
        fig.savefig(temporary, format="png", dpi=DPI, bbox_inches="tight",
                    metadata={"Software": None})
    return fig


def message_figure(text: str, path: Path | str) -> Figure:
    """A small figure that says why there is nothing to draw (the report still has its file)."""
    fig, ax = subplots(figsize=(5, 1))
    ax.axis("off")
    ax.text(0.5, 0.5, literal(text), ha="center", va="center")
    return save(fig, path)


def literal(text: str) -> str:
    """``text`` drawn as written: a ``$`` from a data file (a class name) is a dollar sign,
    not the start of TeX math that fails to parse and loses the figure."""
    return str(text).replace("$", r"\$")


def literals(texts: Sequence[str]) -> list[str]:
    """:func:`literal` of each text."""
    return [literal(t) for t in texts]


def arch_colours(archs: list[str]) -> dict[str, tuple]:
    """A tab10 colour per model, in the order given."""
    palette = matplotlib.colormaps["tab10"](np.linspace(0, 1, 10))
    return {arch: tuple(palette[i % 10]) for i, arch in enumerate(archs)}


def finish_epoch_axes(axes: tuple, legend_size: int) -> None:
    """Integer epoch ticks, a light grid, and the legend on the last panel."""
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=legend_size)


# Where a point's label may go, nearest first: offsets in points and the text's anchor.
_LABEL_SPOTS = [
    (dx * r, dy * r, ha, va)
    for r in (1, 2.5, 4.5, 7)
    for dx, dy, ha, va in ((4, 3, "left", "bottom"), (4, -3, "left", "top"),
                           (-4, 3, "right", "bottom"), (-4, -3, "right", "top"),
                           (0, 5, "center", "bottom"), (0, -5, "center", "top"))
]
_MARKER_HALF_PX = 5.0


def place_labels(ax: Axes, points: Sequence[tuple[float, float]], labels: Sequence[str],
                 fontsize: float = 7) -> list[Any]:
    """Label each data point where the label overlaps no earlier label and no point.

    Each label tries the spots of :data:`_LABEL_SPOTS` in order and takes the first whose box
    stays inside the axes and clear of every placed label and every point's marker; when none
    is clear, the spot with the least overlap. Call it once the layout is final (positions are
    measured in display pixels).
    """
    renderer = ax.figure.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    centres = ax.transData.transform(np.asarray(points, dtype=float).reshape(-1, 2))
    markers = [Bbox.from_extents(x - _MARKER_HALF_PX, y - _MARKER_HALF_PX,
                                 x + _MARKER_HALF_PX, y + _MARKER_HALF_PX) for x, y in centres]
    placed: list[Bbox] = []
    legend = ax.get_legend()
    if legend is not None:
        placed.append(legend.get_window_extent(renderer))
    texts = []
    for point, label in zip(points, labels, strict=True):
        best = None
        for dx, dy, ha, va in _LABEL_SPOTS:
            text = ax.annotate(literal(label), point, xytext=(dx, dy), textcoords="offset points",
                               ha=ha, va=va, fontsize=fontsize)
            box = text.get_window_extent(renderer)
            cost = sum(_overlap(box, other) for other in placed + markers)
            if not _contains(inside, box):
                cost += box.width * box.height
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, text, box)
            else:
                text.remove()
            if cost == 0:
                break
        assert best is not None
        placed.append(best[2])
        texts.append(best[1])
    return texts


def _overlap(a: Bbox, b: Bbox) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return width * height if width > 0 and height > 0 else 0.0


def _contains(outer: Bbox, inner: Bbox) -> bool:
    return (outer.x0 <= inner.x0 and outer.y0 <= inner.y0 and inner.x1 <= outer.x1
            and inner.y1 <= outer.y1)

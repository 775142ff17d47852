"""Figures of the units step: what the units of a convolutional model respond to."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cnnlab.plotting.base import figure_builder, literal, save, subplots

STATES = (("init", "at initialisation"), ("trained", "trained"))


@figure_builder
def plot_effective_fields(results: Sequence[dict[str, Any]], title: str,
                          path: Path | str, per_row: int = 5) -> Figure:
    """Each convolution's ERF at initialisation above the trained one, each scaled to its own
    peak, with the theoretical field of the unit outlined (clipped to the image)."""
    layers = list(dict.fromkeys(r["layer"] for r in results))
    by_key = {(r["layer"], r["state"]): r for r in results}
    columns = min(per_row, len(layers))
    blocks = math.ceil(len(layers) / columns)
    fig, axes = subplots(2 * blocks, columns, figsize=(2.1 * columns + 0.6, 4.6 * blocks + 0.5),
                         squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, layer in enumerate(layers):
        block, column = divmod(i, columns)
        for r, (state, label) in enumerate(STATES):
            ax = axes[2 * block + r, column]
            result = by_key[(layer, state)]
            field = result["field"]
            top, bottom, left, right = result["box"]
            # The field and a margin around it, not the whole image: a 3-pixel field of a
            # 28-pixel image would be a dot.
            margin = max(2, (bottom - top + 1) // 4)
            r0, r1 = max(0, top - margin), min(field.shape[0] - 1, bottom + margin)
            c0, c1 = max(0, left - margin), min(field.shape[1] - 1, right + margin)
            ax.axis("on")
            ax.imshow(field[r0:r1 + 1, c0:c1 + 1] / field.max(), cmap="magma", vmin=0, vmax=1,
                      extent=(c0 - 0.5, c1 + 0.5, r1 + 0.5, r0 - 0.5))
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

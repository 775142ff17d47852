"""Effective receptive fields (Luo et al. 2016, "Understanding the Effective Receptive Field in
Deep Convolutional Neural Networks"): the region of the input a unit actually uses.

For the centre unit of a layer's output (its activations summed over channels), the absolute
gradient with respect to each input pixel, summed over input channels and averaged over images,
is the unit's effective receptive field (ERF). Its spread is measured twice: by moments (the
standard deviation of the ERF read as a distribution of mass over pixels: exact, and what the
tests check against a textbook value) and by a least-squares fit of an axis-aligned 2-D Gaussian.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import optimize
from torch import nn

from cnnlab.analysis import receptive_field
from cnnlab.analysis.receptive_field import FieldRow

# The share of the ERF's mass whose pixels are counted against the theoretical field.
MASS = 0.95


@dataclass(frozen=True)
class Box:
    """The theoretical field of the centre unit, clipped to the image: rows and columns
    ``[top, bottom]`` and ``[left, right]`` (inclusive pixel indices)."""

    top: int
    bottom: int
    left: int
    right: int

    @classmethod
    def centred(cls, centre: float, size: int, image: int) -> "Box":
        """The square field of ``size`` pixels around ``centre`` (both axes), clipped."""
        low = max(0, math.ceil(centre - (size - 1) / 2))
        high = min(image - 1, math.floor(centre + (size - 1) / 2))
        return cls(low, high, low, high)

    def grown(self, margin: int, image: int) -> "Box":
        """The box with ``margin`` pixels more on every side, clipped to the image."""
        return Box(max(0, self.top - margin), min(image - 1, self.bottom + margin),
                   max(0, self.left - margin), min(image - 1, self.right + margin))

    def corners(self) -> list[int]:
        """[top, bottom, left, right], as the artifacts record a box."""
        return [self.top, self.bottom, self.left, self.right]

    @property
    def area(self) -> int:
        """Pixels in the box."""
        return (self.bottom - self.top + 1) * (self.right - self.left + 1)

    def mask(self, height: int, width: int) -> np.ndarray:
        """True on the box's pixels of a (height, width) image."""
        inside = np.zeros((height, width), dtype=bool)
        inside[self.top:self.bottom + 1, self.left:self.right + 1] = True
        return inside


def effective_field(layer_model: nn.Module, images: torch.Tensor,
                    batch_size: int = 250) -> np.ndarray:
    """The mean absolute input gradient (H, W) of the centre unit of ``layer_model``'s output
    (a (N, C, h, w) map, summed over its channels) over ``images``."""
    total = torch.zeros(images.shape[-2:], dtype=torch.float64)
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].detach().clone().requires_grad_(True)
        out = layer_model(x)
        height, width = out.shape[-2:]
        # Each image's unit depends on that image only: one backward gives every gradient.
        out[:, :, height // 2, width // 2].sum().backward()
        total += x.grad.abs().sum(1).sum(0).double().cpu()
    return (total / len(images)).numpy()


def moments(field: np.ndarray) -> tuple[float, float, float, float]:
    """Centre (row, column) and standard deviation (rows, columns) of the field's mass."""
    mass = field / field.sum()
    rows, cols = np.indices(field.shape, dtype=np.float64)
    row_mean, col_mean = float((mass * rows).sum()), float((mass * cols).sum())
    row_sd = math.sqrt(float((mass * (rows - row_mean) ** 2).sum()))
    col_sd = math.sqrt(float((mass * (cols - col_mean) ** 2).sum()))
    return row_mean, col_mean, row_sd, col_sd


def _gaussian(coordinates: tuple[np.ndarray, np.ndarray], amplitude: float, row: float,
              col: float, row_sd: float, col_sd: float) -> np.ndarray:
    rows, cols = coordinates
    return amplitude * np.exp(-((rows - row) ** 2 / (2 * row_sd ** 2)
                                + (cols - col) ** 2 / (2 * col_sd ** 2)))


def gaussian_fit(field: np.ndarray, box: "Box | None" = None) -> tuple[float, float, float]:
    """Standard deviations (rows, columns) of the least-squares 2-D Gaussian, started from the
    moments, and the share of the field's variance the fit explains (R^2) over the pixels of
    ``box`` (all pixels without one): the zeros outside a unit's theoretical field would make
    even a flat square look Gaussian."""
    rows, cols = np.indices(field.shape, dtype=np.float64)
    row, col, row_sd, col_sd = moments(field)
    start = (float(field.max()), row, col, max(row_sd, 0.3), max(col_sd, 0.3))
    data = (rows.ravel(), cols.ravel())
    parameters, _ = optimize.curve_fit(_gaussian, data, field.ravel(), p0=start, maxfev=20_000)
    inside = (np.ones(field.shape, dtype=bool) if box is None
              else box.mask(*field.shape)).ravel()
    values = field.ravel()[inside]
    residual = values - _gaussian(data, *parameters)[inside]
    spread = float(((values - values.mean()) ** 2).sum())
    r_squared = 1 - float((residual ** 2).sum()) / spread if spread > 0 else float("nan")
    return abs(float(parameters[3])), abs(float(parameters[4])), r_squared


def mass_share(field: np.ndarray, box: Box, mass: float = MASS) -> float:
    """The share of the theoretical field's pixels that hold ``mass`` of the ERF: the fewest
    pixels, taken largest first, whose gradient adds up to that share of the total."""
    values = np.sort(field.ravel())[::-1]
    cumulative = np.cumsum(values)
    pixels = int(np.searchsorted(cumulative, mass * cumulative[-1]) + 1)
    return pixels / box.area


# The largest share of the ERF's mass outside the theoretical field that is rounding: a GPU's
# convolution algorithms (Winograd, FFT) may leave ~1e-8 where the exact gradient is 0.
OUTSIDE_TOLERANCE = 1e-6


def outside_mass(field: np.ndarray, box: Box) -> float:
    """The ERF's mass outside the theoretical field (0 for a correct analysis, up to rounding)."""
    return float(field[~box.mask(*field.shape)].sum() / field.sum())


def centre_box(row: FieldRow, image: int) -> Box:
    """The theoretical field of the centre unit of a receptive-field table's row."""
    return Box.centred(row.start + (row.output_size // 2) * row.jump, row.receptive_field, image)


def measure(model: nn.Module, images: torch.Tensor, state: str) -> list[dict[str, object]]:
    """The ERF of the centre unit of every convolution of ``model`` over ``images``, with its
    spread, its fit, and how it fills the theoretical field; ``state`` labels the rows."""
    model.eval()
    graph = receptive_field.trace(model)
    size = images.shape[-1]
    results = []
    rows = receptive_field.convolution_rows(model, size, graph)
    called_twice = sorted({row.layer for row in rows if [r.layer for r in rows].count(row.layer) > 1})
    if called_twice:
        # The truncated graph stops at a module's first call: a second would be measured wrong.
        raise receptive_field.ReceptiveFieldError(
            f"{type(model).__name__} calls {', '.join(called_twice)} more than once per forward "
            f"pass; its effective field per call cannot be measured")
    for row in rows:
        field = effective_field(receptive_field.truncate(graph, row.layer), images)
        box = centre_box(row, size)
        _, _, row_sd, col_sd = moments(field)
        fit_rows, fit_cols, r_squared = gaussian_fit(field, box)
        results.append({
            "layer": row.layer, "state": state, "receptive_field": row.receptive_field,
            "box": box.corners(), "sigma_rows": row_sd,
            "sigma_cols": col_sd, "fit_sigma_rows": fit_rows, "fit_sigma_cols": fit_cols,
            "fit_r_squared": r_squared, "mass_share": mass_share(field, box),
            "outside_mass": outside_mass(field, box), "field": field,
        })
    return results

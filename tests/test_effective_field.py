"""Effective receptive fields against the textbook case, and inside the analytic field."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from cnnlab.analysis import effective_field as erf
from cnnlab.models import create_model, list_models, model_spec
from torch import nn


def box_stack(layers: int, kernel: int) -> nn.Module:
    """``layers`` stride-1 convolutions with every weight 1 and no non-linearity: the input
    gradient of one output unit is the ``layers``-fold convolution of a k x k box."""
    convolutions = [nn.Conv2d(1, 1, kernel, padding=kernel // 2, bias=False) for _ in range(layers)]
    for convolution in convolutions:
        nn.init.constant_(convolution.weight, 1.0)
    return nn.Sequential(*convolutions).double()


@pytest.mark.parametrize("layers,kernel", [(1, 3), (2, 3), (4, 3), (3, 5), (2, 7)])
def test_a_linear_box_stack_has_the_textbook_standard_deviation(layers: int, kernel: int) -> None:
    size = 2 * layers * (kernel // 2) + 9  # the whole field inside the image
    images = torch.randn(3, 1, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    field = erf.effective_field(box_stack(layers, kernel), images)
    row, col, row_sd, col_sd = erf.moments(field)
    expected = math.sqrt(layers * (kernel ** 2 - 1) / 12)  # k = 3: sqrt(2n/3)
    assert row_sd == pytest.approx(expected, abs=1e-6)
    assert col_sd == pytest.approx(expected, abs=1e-6)
    assert (row, col) == pytest.approx((size // 2, size // 2), abs=1e-9)
    # The support is exactly the analytic field: n (k - 1) + 1 pixels a side.
    side = layers * (kernel - 1) + 1
    assert (field > 0).sum() == side * side


def test_the_gaussian_fit_approaches_the_moments_as_the_stack_deepens() -> None:
    images = torch.zeros(1, 1, 41, 41, dtype=torch.float64)
    field = erf.effective_field(box_stack(6, 3), images)
    fit_rows, fit_cols, r_squared = erf.gaussian_fit(field)
    assert fit_rows == pytest.approx(2.0, rel=0.05) and fit_cols == pytest.approx(2.0, rel=0.05)
    assert r_squared > 0.99


def test_mass_share_counts_the_fewest_pixels_holding_95_percent() -> None:
    field = np.zeros((10, 10))
    field[2:4, 0:10] = 1.0  # 20 pixels of equal mass
    box = erf.Box(0, 9, 0, 9)
    assert erf.mass_share(field, box) == pytest.approx(19 / 100)
    field[0, 0] = 100.0  # one pixel with most of the mass: 95% of 120 is in it and 14 others
    assert erf.mass_share(field, box) == pytest.approx(15 / 100)
    assert erf.outside_mass(field, erf.Box(2, 3, 0, 9)) == pytest.approx(100 / 120)


def test_a_field_larger_than_the_image_is_clipped() -> None:
    assert erf.Box.centred(14, 40, 28) == erf.Box(0, 27, 0, 27)
    assert erf.Box.centred(13.5, 4, 28) == erf.Box(12, 15, 12, 15)
    assert erf.Box.centred(14, 3, 28).area == 9


CONVOLUTIONAL = [name for name in list_models() if model_spec(name).is_convolutional]


@pytest.mark.parametrize("arch", CONVOLUTIONAL)
def test_the_effective_field_never_leaves_the_analytic_one(arch: str) -> None:
    torch.manual_seed(0)
    model = create_model(arch, num_classes=10)
    images = torch.randn(4, *model_spec(arch).input_shape, generator=torch.Generator().manual_seed(1))
    results = erf.measure(model, images, "init")
    assert results and all(r["outside_mass"] == 0 for r in results)
    assert all(r["field"].sum() > 0 and 0 < r["mass_share"] <= 1 for r in results)
    convolutions = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    assert sorted(r["layer"] for r in results) == sorted(convolutions)


def test_a_convolution_called_twice_is_refused_and_r_squared_reads_the_field() -> None:
    from cnnlab.analysis.receptive_field import ReceptiveFieldError

    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(self.conv(x))

    with pytest.raises(ReceptiveFieldError, match="calls conv more than once"):
        erf.measure(Twice(), torch.randn(2, 1, 12, 12), "init")
    # R^2 is read over the field's own pixels: a Gaussian bump on a flat pedestal filling the
    # field is fitted worse there than the zeros around the field would suggest.
    rows, cols = np.indices((28, 28))
    bump = np.exp(-((rows - 14) ** 2 + (cols - 14) ** 2) / (2 * 1.5 ** 2))
    box = erf.Box(8, 20, 8, 20)
    field = bump + 0.3 * box.mask(28, 28)
    _, _, inside = erf.gaussian_fit(field, box)
    _, _, everywhere = erf.gaussian_fit(field)
    assert inside < everywhere - 0.2
    _, _, exact = erf.gaussian_fit(bump, box)
    assert exact == pytest.approx(1.0, abs=1e-9)

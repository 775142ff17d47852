"""Receptive fields: hand-computed stacks, residual joins, torchvision models, and analytic ==
measured for every model of the zoo."""

from __future__ import annotations

import pytest
import torch
import torchvision.models as tvm
from cnnlab.analysis.receptive_field import (
    ReceptiveFieldError,
    analytic_table,
    measure_field,
    receptive_field_table,
    trace,
)
from cnnlab.models import create_model, list_models, model_spec
from torch import nn


def fields(model: nn.Module, size: int = 28, channels: int = 1) -> list[tuple[int, int]]:
    rows = receptive_field_table(model, (channels, size, size))
    assert all(r.receptive_field == r.receptive_field_empirical for r in rows), rows
    return [(r.receptive_field, r.jump) for r in rows]


def test_three_stacked_3x3_convolutions_see_7_pixels() -> None:
    model = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(3)])
    assert fields(model) == [(3, 1), (5, 1), (7, 1)]


def test_stride_multiplies_the_jump() -> None:
    model = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1), nn.Conv2d(1, 1, 3, padding=1))
    rows = analytic_table(model, 28)
    assert [(r.receptive_field, r.jump, r.output_size) for r in rows] == [(3, 2, 14), (7, 2, 14)]


def test_dilation_widens_the_kernel() -> None:
    model = nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2, padding=2), nn.Conv2d(1, 1, 3, dilation=4, padding=4))
    assert fields(model) == [(5, 1), (13, 1)]


def test_pooling_counts_and_activations_do_not() -> None:
    model = nn.Sequential(nn.Conv2d(1, 1, 5), nn.BatchNorm2d(1), nn.ReLU(), nn.Dropout(0.5),
                          nn.MaxPool2d(2), nn.Conv2d(1, 1, 3), nn.AvgPool2d(3, stride=2, padding=1))
    assert fields(model, 32) == [(5, 1), (6, 2), (10, 2), (14, 4)]


def test_start_and_effective_padding() -> None:
    rows = analytic_table(create_model("digitcnn"), 28)
    assert [r.receptive_field for r in rows] == [3, 4, 8, 10]  # building-a-cnn-from-scratch
    assert [r.jump for r in rows] == [1, 2, 2, 4]
    assert [r.start for r in rows] == [0.0, 0.5, 0.5, 1.5]
    assert [r.effective_padding for r in rows] == [1, 1, 3, 3]
    assert [r.output_size for r in rows] == [28, 14, 14, 7]


def test_output_sizes_match_a_real_forward_pass() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 4, stride=3, padding=2), nn.MaxPool2d(3, 2, ceil_mode=True),
                          nn.Conv2d(2, 2, 2, stride=2), nn.AvgPool2d(2, ceil_mode=True, padding=1))
    sizes = []
    x = torch.zeros(1, 1, 37, 37)
    for layer in model:
        x = layer(x)
        sizes.append(x.shape[-1])
    assert [r.output_size for r in analytic_table(model, 37)] == sizes


class TwoPaths(nn.Module):
    """A wide path (7x7) and a narrow one (3x3) joined by addition."""

    def __init__(self) -> None:
        super().__init__()
        self.wide = nn.Conv2d(1, 1, 7, padding=3)
        self.narrow = nn.Conv2d(1, 1, 3, padding=1)
        self.after = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.after(torch.relu(self.narrow(x) + self.wide(x)))


def test_residual_join_takes_the_largest_path() -> None:
    rows = {r.layer: r for r in receptive_field_table(TwoPaths(), (1, 28, 28))}
    assert rows["wide"].receptive_field == 7 and rows["narrow"].receptive_field == 3
    assert rows["after"].receptive_field == 9 == rows["after"].receptive_field_empirical


@pytest.mark.parametrize("name", [n for n in list_models() if model_spec(n).is_convolutional])
def test_analytic_equals_measured_for_every_zoo_model(name: str) -> None:
    rows = receptive_field_table(create_model(name), model_spec(name).input_shape)
    assert rows and all(r.receptive_field == r.receptive_field_empirical for r in rows)
    assert all(r.receptive_field >= rows[0].receptive_field for r in rows)


def test_resnet_small_residual_rows() -> None:
    rows = {r.layer: r.receptive_field for r in analytic_table(create_model("resnet_small"), 28)}
    assert rows["features.3.conv2"] == 7
    assert rows["features.4.shortcut.0"] == 7  # the skip path sees the block input's field
    assert rows["features.5.conv1"] == 17  # 13 from the main path, + 2 x jump 2


@pytest.mark.parametrize("name,last", [("alexnet", 195), ("vgg16", 212), ("resnet18", 435)])
def test_torchvision_models_match_published_fields(name: str, last: int) -> None:
    # Araujo, Norris & Sim (Distill, 2019), table of classification networks.
    rows = analytic_table(getattr(tvm, name)(), 224)
    assert max(r.receptive_field for r in rows) == last


def test_measured_field_grows_the_input_when_the_field_is_larger() -> None:
    model = nn.Sequential(nn.Conv2d(1, 1, 9, padding=4), nn.Conv2d(1, 1, 9, padding=4))
    rows = receptive_field_table(model, (1, 8, 8))
    assert rows[-1].receptive_field == 17 == rows[-1].receptive_field_empirical


def test_unknown_layer_is_named() -> None:
    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ConvTranspose2d(1, 1, 3))
    with pytest.raises(ReceptiveFieldError, match="ConvTranspose2d"):
        analytic_table(model, 28)


def test_dense_layers_end_the_table() -> None:
    rows = analytic_table(create_model("mlp"), 28)
    assert rows == []


def test_measure_field_of_a_single_conv() -> None:
    sub = trace(nn.Sequential(nn.Conv2d(1, 1, 5).double()))
    with torch.no_grad():
        sub.get_submodule("0").weight.fill_(1.0)
    assert measure_field(sub, 1, 28) == 5

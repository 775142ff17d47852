"""Per-layer parameter and shape tables."""

from __future__ import annotations

import pytest
import torch
from cnnlab.analysis.layers import layer_table, shape_flow
from cnnlab.models import create_model, list_models, model_spec
from torch import nn


def test_digitcnn_reproduces_the_article_table() -> None:
    rows = layer_table(create_model("digitcnn"), (1, 28, 28))
    with_params = [(r.type, r.params, r.weight_params, r.bias_params) for r in rows if r.params]
    assert with_params == [("Conv2d", 160, 144, 16), ("Conv2d", 4_640, 4_608, 32),
                           ("Linear", 200_832, 200_704, 128), ("Linear", 1_290, 1_280, 10)]
    fc1 = next(r for r in rows if r.params == 200_832)
    assert fc1.share == pytest.approx(0.9706, abs=1e-4)
    assert [r.output_shape for r in rows][:6] == ["16x28x28", "16x28x28", "16x14x14", "32x14x14",
                                                  "32x14x14", "32x7x7"]
    assert rows[0].mult_adds == 16 * 28 * 28 * 9 and fc1.mult_adds == 1568 * 128


@pytest.mark.parametrize("name", list_models())
def test_totals_equal_the_model_parameters(name: str) -> None:
    model = create_model(name)
    rows = layer_table(model, model_spec(name).input_shape)
    assert sum(r.params for r in rows) == sum(p.numel() for p in model.parameters())
    assert sum(r.share for r in rows) == pytest.approx(1.0)
    assert all(r.trainable for r in rows)


def test_batchnorm_buffers_are_counted_apart_from_parameters() -> None:
    rows = layer_table(create_model("simplecnn_bn"), (1, 28, 28))
    bn = [r for r in rows if r.type == "BatchNorm2d"]
    assert [(r.params, r.buffers) for r in bn] == [(64, 65), (128, 129)]


def test_a_module_called_twice_counts_its_parameters_once() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer(self.layer(x))

    rows = layer_table(Twice(), (4,))
    assert [r.params for r in rows] == [20, 0]
    assert [r.mult_adds for r in rows] == [16, 16]


def test_frozen_layers_are_marked() -> None:
    model = create_model("logreg")
    model.classifier.weight.requires_grad_(False)
    assert [r.trainable for r in layer_table(model, (1, 28, 28)) if r.params] == [False]


def test_shape_flow_of_digitcnn() -> None:
    shapes = [s for _, s in shape_flow(create_model("digitcnn"), (1, 28, 28))]
    assert shapes == ["1x28x28", "16x28x28", "16x14x14", "32x14x14", "32x7x7", "1568", "128", "10"]

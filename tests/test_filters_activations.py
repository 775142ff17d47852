"""First-layer filters, operator similarity, feature-map capture and sparsity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cnnlab.analysis import activations, filters
from cnnlab.models import create_model
from torch import nn


def test_bank_has_textbook_operators_and_their_negatives() -> None:
    bank = filters.operator_bank(3)
    assert bank["sobel_x"].tolist() == [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    assert np.array_equal(bank["neg_sobel_x"], -bank["sobel_x"])
    assert {"laplacian_4", "centre_surround", "diagonal_main", "prewitt_y", "blob"} <= set(bank)
    gabors = [name for name in filters.operator_bank(5) if name.startswith("gabor")]
    assert len(gabors) == 8


def test_a_sobel_kernel_is_recognised_as_sobel() -> None:
    weight = torch.zeros(2, 1, 3, 3)
    weight[0, 0] = torch.tensor(filters.operator_bank(3)["sobel_y"]) * 0.3
    weight[1, 0] = -torch.tensor(filters.operator_bank(3)["laplacian_4"])
    rows = filters.similarity_table(weight, "trained")
    assert (rows[0]["best_match"], rows[0]["best_similarity"]) == ("sobel_y", pytest.approx(1.0))
    assert rows[0]["neg_sobel_y"] == pytest.approx(-1.0)
    assert rows[1]["best_match"] == "neg_laplacian_4"


def test_kernel_grid_normalises_each_kernel_on_its_own() -> None:
    weight = torch.stack([torch.arange(9.0).view(1, 3, 3), -5 * torch.arange(9.0).view(1, 3, 3)])
    unsigned = filters.kernel_grid(weight, signed=False)
    assert unsigned.shape == (2, 3, 3)
    assert unsigned.min(axis=(1, 2)).tolist() == [0, 0] and unsigned.max(axis=(1, 2)).tolist() == [1, 1]
    signed = filters.kernel_grid(weight, signed=True)
    assert signed[1].min() == -1 and signed[1, 0, 0] == 0  # zero stays zero


def test_colour_first_layers_are_drawn_in_colour() -> None:
    _, conv = filters.first_conv(create_model("cifar_vgg"))
    assert filters.kernel_grid(conv.weight, signed=False).shape == (64, 3, 3, 3)


def test_models_without_convolutions_have_no_filters() -> None:
    with pytest.raises(ValueError, match="has no Conv2d layer"):
        filters.first_conv(create_model("mlp"))


def test_one_image_per_class() -> None:
    labels = np.array([3, 1, 1, 0, 2, 3, 0, 2])
    picks = activations.one_per_class(labels, 4, seed=0)
    assert labels[picks].tolist() == [0, 1, 2, 3]


def test_feature_map_layers_of_a_residual_model() -> None:
    labels = [layer.label for layer in activations.feature_map_layers(create_model("resnet_small"))]
    assert "features.3.conv1 (Conv2d, after ReLU)" in labels
    assert "features.3.conv2 (Conv2d, before activation)" in labels  # the ReLU follows the add
    assert "features.4.shortcut.0 (Conv2d, before activation)" in labels
    assert "features.5 (ResidualBlock output)" in labels


def test_capture_maps_removes_its_hooks_even_when_the_pass_fails() -> None:
    model = create_model("digitcnn").eval()
    layers = activations.feature_map_layers(model)
    maps = activations.capture_maps(model, torch.randn(3, 1, 28, 28), layers)
    assert maps["features.1"].shape == (3, 16, 28, 28) and (maps["features.1"] >= 0).all()
    with pytest.raises(RuntimeError):
        activations.capture_maps(model, torch.randn(3, 3, 32, 32), layers)
    assert all(not m._forward_hooks for m in model.modules())


def test_sparsity_counts_zeros_and_dead_units_by_hand() -> None:
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]))
        model[0].bias.zero_()
    x = torch.tensor([[1.0, -1.0], [2.0, 3.0]])
    (row,) = activations.sparsity_table(model, x, batch_size=1)
    # outputs [1, 0, 0] and [2, 3, 0]: 3 zeros of 6; unit 2 never fires
    assert row["zero_fraction"] == 0.5
    assert (row["units"], row["dead_units"], row["follows"]) == (3, 1, "Linear")
    assert all(not m._forward_hooks for m in model.modules())


def test_sparsity_labels_residual_relus() -> None:
    rows = activations.sparsity_table(create_model("resnet_small"), torch.randn(4, 1, 28, 28), 2)
    follows = {r["layer"]: r["follows"] for r in rows}
    assert follows["features.3.relu1"] == "Conv2d"
    assert follows["features.3.relu2"] == "add (residual)"

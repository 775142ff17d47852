"""Attribution maps (Captum) against what each method must give on hand-built models."""

from __future__ import annotations

import pytest
import torch
from cnnlab.analysis import attribution
from cnnlab.models import create_model
from torch import nn


def one_channel_cnn() -> nn.Module:
    """A convolution with one output channel (padding keeps 8x8), ReLU-free global average
    pooling and a linear layer whose weight for class 1 is positive."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(1, 2))
    with torch.no_grad():
        model[3].weight.copy_(torch.tensor([[-0.7], [1.3]]))
    return model.double()


def test_grad_cam_with_one_channel_is_the_relu_of_that_channels_activation() -> None:
    model = one_channel_cnn()
    images = torch.randn(3, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    maps = attribution.attribute(model, images, torch.tensor([1, 1, 1]), "grad_cam")
    activation = torch.relu(model[0](images))[:, 0]
    # The channel's weight is its mean gradient, the class weight (1.3) / 64: the same constant
    # for every image and pixel.
    constant = model[3].weight[1, 0].item() / 64
    assert torch.allclose(maps, activation * constant, rtol=0, atol=1e-15)
    assert (maps > 0).sum() > 0 and torch.equal(maps > 0, activation > 0)
    layer = attribution.grad_cam_layer(model, images)
    assert (layer.name, layer.module, layer.shape) == ("0", model[0], (1, 8, 8))


def test_occluding_the_whole_image_leaves_the_baselines_output() -> None:
    model = create_model("digitcnn", num_classes=10).double().eval()
    images = torch.randn(2, 1, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    targets = torch.tensor([3, 7])
    settings = attribution.AttributionSettings(window=28, stride=28, baseline=(-0.42,))
    maps = attribution.attribute(model, images, targets, "occlusion", settings)
    with torch.no_grad():
        score = model(images)[torch.arange(2), targets]
        baseline = model(torch.full_like(images, -0.42))[torch.arange(2), targets]
    # One window covers every pixel: each pixel carries the whole drop, score - baseline score
    # (to float32's precision: Captum accumulates the occlusion sums in float32).
    for i in range(2):
        assert torch.allclose(maps[i], (score[i] - baseline[i]).expand(28, 28), rtol=0, atol=1e-7)
        assert float(score[i] - maps[i, 0, 0]) == pytest.approx(float(baseline[i]), abs=1e-7)


def test_integrated_gradients_add_up_to_the_score_difference() -> None:
    model = create_model("mlp", num_classes=10).double().eval()
    images = torch.randn(2, 1, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    targets = torch.tensor([0, 5])
    settings = attribution.AttributionSettings(steps=200)
    maps = attribution.attribute(model, images, targets, "integrated_gradients", settings)
    with torch.no_grad():
        drop = model(images)[torch.arange(2), targets] - model(torch.zeros_like(images))[torch.arange(2), targets]
    assert torch.allclose(maps.sum((1, 2)), drop, rtol=1e-3, atol=1e-4)  # completeness


def test_saliency_is_the_absolute_input_gradient() -> None:
    model = create_model("digitcnn", num_classes=10).double().eval()
    images = torch.randn(1, 1, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    x = images.clone().requires_grad_(True)
    model(x)[0, 2].backward()
    maps = attribution.attribute(model, images, torch.tensor([2]), "saliency")
    assert torch.allclose(maps[0], x.grad[0, 0].abs(), rtol=0, atol=1e-12)


def test_grad_cam_needs_a_convolution_and_methods_are_named() -> None:
    with pytest.raises(ValueError, match="no convolution"):
        attribution.grad_cam_layer(create_model("mlp", num_classes=10), torch.zeros(1, 1, 28, 28))
    with pytest.raises(ValueError, match="known: saliency"):
        attribution.attribute(one_channel_cnn(), torch.zeros(1, 1, 8, 8, dtype=torch.float64),
                              torch.tensor([0]), "lime")


# The last convolution's output after the layers that keep its size, declared per model.
GRAD_CAM_LAYERS = {"digitcnn": ("features.4", nn.ReLU, (32, 14, 14)),
                   "digitcnn_gap": ("features.4", nn.ReLU, (32, 14, 14)),
                   "lenet5": ("features.4", nn.Tanh, (16, 10, 10)),
                   # The last block's sum of both paths after its ReLU, not the shortcut's
                   # projection that comes last in module order.
                   "resnet_small": ("features.5.relu2", nn.ReLU, (64, 7, 7)),
                   "simplecnn_bn": ("features.6", nn.ReLU, (64, 14, 14)),
                   "cifar_simplecnn": ("features.10", nn.ReLU, (128, 8, 8)),
                   # An in-place ReLU hands on its BatchNorm's tensor: read after the ReLU.
                   "cifar_vgg": ("features.19", nn.ReLU, (256, 8, 8))}


@pytest.mark.parametrize("arch", sorted(GRAD_CAM_LAYERS))
def test_grad_cam_reads_the_last_convolutions_output_before_pooling(arch: str) -> None:
    model = create_model(arch, num_classes=10).eval()
    shape = (2, 3, 32, 32) if arch.startswith("cifar") else (2, 1, 28, 28)
    layer = attribution.grad_cam_layer(model, torch.zeros(shape))
    name, kind, shape = GRAD_CAM_LAYERS[arch]
    assert (layer.name, type(layer.module), layer.shape) == (name, kind, shape)
    assert model.get_submodule(layer.name) is layer.module


def test_the_baseline_has_one_value_per_channel() -> None:
    images = torch.zeros(2, 3, 4, 5)
    baseline = attribution.baseline_like(images, attribution.AttributionSettings(baseline=(1.0, -2.0, 0.5)))
    assert baseline.shape == images.shape
    assert baseline[:, :, 2, 3].tolist() == [[1.0, -2.0, 0.5]] * 2
    same = attribution.baseline_like(images, attribution.AttributionSettings(baseline=(0.25,)))
    assert torch.equal(same, torch.full_like(images, 0.25))

"""Which pixels drive a decision: attribution maps of a trained model, computed by Captum.

Four methods, each giving one map per image at the input's height and width:
saliency (|d score / d pixel|), integrated gradients (from a baseline image), Grad-CAM on the
model's last convolution (found from the model, not named per architecture) and occlusion
(the drop of the class score when a window of pixels is set to the baseline).
Maps of several input channels are summed over the channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion, Saliency
from torch import nn

METHODS = ("saliency", "integrated_gradients", "grad_cam", "occlusion")


@dataclass(frozen=True)
class AttributionSettings:
    """How each method is run: integration steps, occlusion window and stride (pixels), and
    the baseline value (in normalised units) that stands for "no information"."""

    steps: int = 32
    window: int = 4
    stride: int = 2
    baseline: float = 0.0


def last_convolution(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """The model's last ``nn.Conv2d`` in module order, with its name: Grad-CAM's layer."""
    convolutions = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not convolutions:
        raise ValueError(f"{type(model).__name__} has no convolution: Grad-CAM needs one")
    return convolutions[-1]


DEFAULT_SETTINGS = AttributionSettings()


def attribute(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, method: str,
              settings: AttributionSettings = DEFAULT_SETTINGS) -> torch.Tensor:
    """Attribution of each image's ``targets`` score by ``method``: a (N, H, W) tensor.

    ``images`` are normalised model inputs (N, C, H, W); the model is put in eval mode.
    """
    model.eval()
    x = images.detach().clone().requires_grad_(method != "occlusion")
    baseline = torch.full_like(images, settings.baseline)
    if method == "saliency":
        maps = Saliency(model).attribute(x, target=targets, abs=True)
    elif method == "integrated_gradients":
        maps = IntegratedGradients(model).attribute(x, baselines=baseline, target=targets,
                                                    n_steps=settings.steps)
    elif method == "grad_cam":
        _, layer = last_convolution(model)
        coarse = LayerGradCam(model, layer).attribute(x, target=targets, relu_attributions=True)
        maps = LayerAttribution.interpolate(coarse, tuple(images.shape[-2:]), "bilinear")
    elif method == "occlusion":
        channels = images.shape[1]
        with torch.no_grad():
            maps = Occlusion(model).attribute(
                x, sliding_window_shapes=(channels, settings.window, settings.window),
                strides=(channels, settings.stride, settings.stride), target=targets,
                baselines=baseline)
    else:
        raise ValueError(f"unknown attribution method {method!r}; known: {', '.join(METHODS)}")
    return maps.detach().to(images.dtype).sum(1)

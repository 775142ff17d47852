"""Which pixels drive a decision: attribution maps of a trained model, computed by Captum.

Four methods, each giving one map per image at the input's height and width:
saliency (|d score / d pixel|), integrated gradients (from a baseline image), Grad-CAM on the
model's last convolution (found from the model, not named per architecture) and
occlusion (the drop of the class score when a window of pixels is set to the baseline).
Maps of several input channels are summed over the channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Sequence

import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion, Saliency
from torch import nn

METHODS = ("saliency", "integrated_gradients", "grad_cam", "occlusion")
# Methods whose maps are signed (evidence for and against the class); the others are >= 0.
SIGNED_METHODS = ("integrated_gradients", "occlusion")


@dataclass(frozen=True)
class AttributionSettings:
    """How each method is run: integration steps, occlusion window and stride (pixels), and
    the baseline image's value per input channel (normalised units) that stands for "no
    information" (one value serves every channel)."""

    steps: int = 32
    window: int = 4
    stride: int = 2
    baseline: Sequence[float] = (0.0,)


DEFAULT_SETTINGS = AttributionSettings()
# Inputs per forward (and backward) pass of integrated gradients (images x steps) and of the
# deletion curves. Passes must keep the activations within a CPU's caches: on a 2-core AVX2
# EPYC, SimpleCNN-BN's forward pass ran at 3,900 images/s in passes of 256 and 8,700 in passes
# of 128 (the evaluation batch: inference.EVAL_BATCH_SIZE).
PASS_SIZE = 128


def baseline_like(images: torch.Tensor, settings: AttributionSettings) -> torch.Tensor:
    """The baseline image of each of ``images``: every pixel at the baseline's channel value."""
    values = torch.as_tensor(list(settings.baseline), dtype=images.dtype, device=images.device)
    return values.view(1, -1, 1, 1).expand_as(images).contiguous()


class GradCamLayer(NamedTuple):
    """Where Grad-CAM looks: the module, its dotted name and its output's (C, H, W)."""

    name: str
    module: nn.Module
    shape: tuple[int, ...]


def grad_cam_layer(model: nn.Module, example: torch.Tensor) -> GradCamLayer:
    """Where Grad-CAM looks: the output of the model's last convolution, taken after the layers
    that keep its size (BatchNorm, the non-linearity, a residual sum), before any pooling.

    Found by running ``example`` (one input batch) through the model, so the convolution that
    runs last (in a residual block, possibly the shortcut's projection) decides the resolution.
    Where containers pass a child's output on unchanged (a Sequential, a residual block), the
    layer that computed the map last is named.
    """
    finished: list[tuple[str, nn.Module, Any]] = []

    def record(name: str) -> Callable[[nn.Module, Any, Any], None]:
        return lambda module, inputs, output: finished.append((name, module, output))

    hooks = [module.register_forward_hook(record(name))
             for name, module in model.named_modules() if name]
    try:
        with torch.no_grad():
            model(example[:1])
    finally:
        for hook in hooks:
            hook.remove()
    convolutions = [i for i, (_, module, _) in enumerate(finished) if isinstance(module, nn.Conv2d)]
    if not convolutions:
        raise ValueError(f"{type(model).__name__} has no convolution: Grad-CAM needs one")
    size = finished[convolutions[-1]][2].shape[-2:]
    same_size = [entry for entry in finished[convolutions[-1]:]
                 if isinstance(entry[2], torch.Tensor) and entry[2].dim() == 4
                 and entry[2].shape[-2:] == size]
    last = same_size[-1][2]
    # The last module without children to hand on that very tensor: an in-place ReLU returns
    # its input object, and the map must be read after it, not at the BatchNorm before it.
    name, module, output = next(entry for entry in reversed(same_size)
                                if entry[2] is last and not any(entry[1].children()))
    return GradCamLayer(name, module, tuple(output.shape[1:]))


def attribute(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, method: str,
              settings: AttributionSettings = DEFAULT_SETTINGS,
              layer: nn.Module | None = None) -> torch.Tensor:
    """Attribution of each image's ``targets`` score by ``method``: a (N, H, W) tensor.

    ``images`` are normalised model inputs (N, C, H, W); the model is put in eval mode.
    Grad-CAM uses ``layer`` where given (a module of ``model``), else :func:`grad_cam_layer`.
    """
    model.eval()
    x = images.detach().clone().requires_grad_(method != "occlusion")
    baseline = baseline_like(images, settings)
    if method == "saliency":
        maps = Saliency(model).attribute(x, target=targets, abs=True)
    elif method == "integrated_gradients":
        maps = IntegratedGradients(model).attribute(x, baselines=baseline, target=targets,
                                                    n_steps=settings.steps,
                                                    internal_batch_size=PASS_SIZE)
    elif method == "grad_cam":
        module = layer if layer is not None else grad_cam_layer(model, images).module
        coarse = LayerGradCam(model, module).attribute(x, target=targets, relu_attributions=True)
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


def attribute_all(model: nn.Module, images: torch.Tensor, targets: torch.Tensor,
                  settings: AttributionSettings, layer: nn.Module,
                  batch_size: int = 100) -> dict[str, torch.Tensor]:
    """Every method's maps of ``images`` (N, H, W each), computed ``batch_size`` images at a
    time so that integrated gradients' N x steps inputs stay small."""
    maps: dict[str, list[torch.Tensor]] = {method: [] for method in METHODS}
    for start in range(0, len(images), batch_size):
        chunk, chunk_targets = images[start:start + batch_size], targets[start:start + batch_size]
        for method in METHODS:
            maps[method].append(attribute(model, chunk, chunk_targets, method, settings, layer))
    return {method: torch.cat(parts) for method, parts in maps.items()}

"""The input a unit responds to most (activation maximisation, Erhan et al. 2009): projected
gradient ascent on the input to raise one channel's activation at the centre of its feature
map, with the input held inside an L2 ball.

On 28 x 28 grayscale digits the tricks of feature-visualisation tools for large colour images
(jitter, scaling, decorrelated colour spaces) do not apply; the regulariser here is total
variation (the sum of absolute differences between neighbouring pixels), which suppresses the
pixel-level noise that maximises a deep unit without looking like anything. For a first-layer
convolution without a non-linearity the answer is known: the centre unit's activation is the
dot product of the kernel with the patch under it (plus the bias), so under an L2 bound the
optimum is the kernel itself, scaled to the bound, and zero outside the patch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class Ascent:
    """How the inputs are optimised."""

    steps: int = 256
    learning_rate: float = 0.1  # the first step, as a share of the radius
    total_variation: float = 0.0  # weight of the regulariser, per unit of activation
    radius: float = 10.0  # the L2 bound on the input (normalised units)
    seed: int = 0


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Per image: the sum of absolute differences between vertically and horizontally
    neighbouring pixels."""
    return ((x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).sum(1)
            + (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).sum(1))


def _project(x: torch.Tensor, radius: float) -> torch.Tensor:
    """Each image scaled back into the L2 ball of ``radius`` (left alone inside it)."""
    norms = x.flatten(1).norm(dim=1).clamp_min(1e-12)
    return x * (radius / norms).clamp(max=1.0).view(-1, *([1] * (x.dim() - 1)))


def maximise(layer_model: nn.Module, channels: int, shape: tuple[int, ...],
             ascent: Ascent) -> tuple[torch.Tensor, np.ndarray]:
    """For each of the ``channels`` channels of ``layer_model``'s (N, C, h, w) output, the input
    of ``shape`` (C, H, W) that maximises that channel's centre unit, found by projected
    gradient ascent from small seeded noise; and each optimum's activation.

    Each step moves an image by ``learning_rate`` x radius along its own normalised gradient,
    the step shrinking linearly to 0 so that the iterate settles on the optimum rather than
    circling it, then scales it back into the ball. (Adam would not do: it moves every pixel
    by about the same amount whatever its gradient, which for a linear unit ends at the sign
    of the kernel, not at the kernel.)
    """
    layer_model.eval()
    device = next(layer_model.parameters()).device
    generator = torch.Generator().manual_seed(ascent.seed)
    x = (0.01 * torch.randn(channels, *shape, generator=generator)).to(device).requires_grad_(True)
    index = torch.arange(channels, device=device)
    for step in range(ascent.steps):
        out = layer_model(x)
        height, width = out.shape[-2:]
        activation = out[index, index, height // 2, width // 2]
        objective = (activation - ascent.total_variation * total_variation(x)).sum()
        (gradient,) = torch.autograd.grad(objective, x)
        size = ascent.learning_rate * ascent.radius * (1 - step / ascent.steps)
        norms = gradient.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * len(shape)))
        with torch.no_grad():
            x.add_(size * gradient / norms)
            x.copy_(_project(x, ascent.radius))
    with torch.no_grad():
        out = layer_model(x)
        height, width = out.shape[-2:]
        final = out[index, index, height // 2, width // 2]
    return x.detach(), final.cpu().numpy()


def cosine_to_kernels(optima: torch.Tensor, convolution: nn.Conv2d, box: tuple[int, int, int, int]
                      ) -> np.ndarray:
    """Cosine similarity of each optimum's patch (``box``: top, bottom, left, right, the centre
    unit's field) with the kernel of its channel."""
    top, bottom, left, right = box
    patches = optima[:, :, top:bottom + 1, left:right + 1].flatten(1)
    kernels = convolution.weight.detach().flatten(1)
    return torch.nn.functional.cosine_similarity(patches, kernels, dim=1).cpu().numpy()

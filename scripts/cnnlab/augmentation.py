"""Batched augmentation on the device: a whole batch in a few tensor operations, no per-image
Python (``make bench`` compares it with torchvision's per-image transforms)."""

from __future__ import annotations

import torch


def crop_flip(x: torch.Tensor, generator: torch.Generator, pad: int = 4,
              fill: torch.Tensor | None = None) -> torch.Tensor:
    """Random crop after ``pad``-pixel padding, then a random horizontal flip, for a whole batch.

    ``fill`` (one value per channel) is what a zero (black) pixel becomes after normalisation,
    so the padding matches torchvision's pad-then-normalise order.
    """
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    if fill is not None:
        border = torch.ones(1, 1, h + 2 * pad, w + 2 * pad, device=x.device, dtype=x.dtype)
        border[..., pad:pad + h, pad:pad + w] = 0
        padded = padded + border * fill.view(1, c, 1, 1)
    offsets = torch.randint(0, 2 * pad + 1, (2, n), generator=generator).to(x.device)
    rows = (offsets[0].view(n, 1, 1, 1) + torch.arange(h, device=x.device).view(1, 1, h, 1))
    padded = padded.gather(2, rows.expand(n, c, h, w + 2 * pad))
    cols = (offsets[1].view(n, 1, 1, 1) + torch.arange(w, device=x.device).view(1, 1, 1, w))
    out = padded.gather(3, cols.expand(n, c, h, w))
    flip = (torch.rand(n, generator=generator) < 0.5).to(x.device).view(n, 1, 1, 1)
    return torch.where(flip, out.flip(3), out)

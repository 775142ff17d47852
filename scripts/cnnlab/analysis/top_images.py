"""The test images that excite each channel of a convolution most (Zeiler & Fergus 2014; Olah
et al. 2017 call them dataset examples): for every image, a channel's strongest response is its
largest activation over the output positions; the images with the largest such responses are
the channel's top images, and the position says which patch of the image caused it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from cnnlab.analysis.effective_field import Box
from cnnlab.analysis.receptive_field import FieldRow

TOP = 9


@dataclass(frozen=True)
class Peaks:
    """Each image's strongest response per channel (N, C) and where it is (row, column)."""

    values: np.ndarray
    rows: np.ndarray
    cols: np.ndarray


@torch.no_grad()
def channel_peaks(model: nn.Module, layers: Sequence[str], images: torch.Tensor,
                  batch_size: int = 500) -> dict[str, Peaks]:
    """For each named layer (a module called once per forward pass, with a (N, C, h, w)
    output), the largest activation of each channel in each image and its position (the
    first in scan order where several are equal); one pass of the model over ``images``."""
    model.eval()
    found: dict[str, tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]] = {
        name: ([], [], []) for name in layers}

    def record(name: str) -> Callable[[nn.Module, Any, torch.Tensor], None]:
        def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            values, rows, cols = found[name]
            width = output.shape[-1]
            peak, where = output.float().flatten(2).max(2)
            values.append(peak.cpu())
            rows.append((where // width).cpu())
            cols.append((where % width).cpu())
        return hook

    hooks = [model.get_submodule(name).register_forward_hook(record(name)) for name in layers]
    try:
        for start in range(0, len(images), batch_size):
            model(images[start:start + batch_size])
    finally:
        for hook in hooks:
            hook.remove()
    return {name: Peaks(*(torch.cat(parts).numpy() for parts in found[name])) for name in layers}


def top_images(peaks: Peaks, count: int = TOP) -> np.ndarray:
    """Per channel (C, count): the images with the largest peaks, largest first; equal peaks
    in the images' order."""
    order = np.argsort(-peaks.values, axis=0, kind="stable")
    return order[:count].T


def patch(row: FieldRow, out_row: int, out_col: int, image: int) -> Box:
    """The input pixels the unit at (``out_row``, ``out_col``) of ``row``'s output sees: its
    theoretical receptive field, clipped to the image."""
    size = row.receptive_field
    rows = Box.centred(row.start + out_row * row.jump, size, image)
    cols = Box.centred(row.start + out_col * row.jump, size, image)
    return Box(rows.top, rows.bottom, cols.left, cols.right)

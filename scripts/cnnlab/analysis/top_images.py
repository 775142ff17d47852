"""The test images that excite each channel of a convolution most (Zeiler & Fergus 2014; Olah
et al. 2017 call them dataset examples): for every image, a channel's strongest response is its
largest activation over the output positions; the images with the largest such responses are
the channel's top images, and the position says which patch of the image caused it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.fx as fx
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
                  batch_size: int = 500,
                  signs: dict[str, torch.Tensor] | None = None) -> dict[str, Peaks]:
    """For each named layer (a module called once per forward pass, with a (N, C, h, w)
    output), the largest response of each channel in each image and its position (the first
    in scan order where several are equal); one pass of the model over ``images``. A layer's
    ``signs`` (one per channel, (1, C, 1, 1)) turn its output into the response ranked."""
    model.eval()
    signs = signs or {}
    found: dict[str, tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]] = {
        name: ([], [], []) for name in layers}

    calls = dict.fromkeys(layers, 0)

    def record(name: str) -> Callable[[nn.Module, Any, torch.Tensor], None]:
        def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            calls[name] += 1
            values, rows, cols = found[name]
            width = output.shape[-1]
            response = output.float() * signs.get(name, 1.0)
            peak, where = response.flatten(2).max(2)
            values.append(peak.cpu())
            rows.append((where // width).cpu())
            cols.append((where % width).cpu())
        return hook

    hooks = [model.get_submodule(name).register_forward_hook(record(name)) for name in layers]
    try:
        for batch, start in enumerate(range(0, len(images), batch_size), start=1):
            model(images[start:start + batch_size])
            twice = [name for name, count in calls.items() if count != batch]
            if twice:  # the peaks would mix calls: rows of the wrong images
                raise ValueError(f"{', '.join(twice)} are not called exactly once per forward pass")
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


def batch_norm_signs(model: nn.Module, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """For each layer whose output goes straight into a BatchNorm, the sign of that BatchNorm's
    scale per channel (1, C, 1, 1): BatchNorm (and the monotone non-linearity after it) keeps
    the order of a channel's values where its scale is positive and reverses it where it is
    negative, so the sign turns the convolution's output into what the next layer sees, in
    order."""
    modules = dict(model.named_modules())
    signs = {}
    for node in fx.symbolic_trace(model).graph.nodes:
        if node.op != "call_module" or str(node.target) not in layers:
            continue
        users = list(node.users)
        if len(users) == 1 and users[0].op == "call_module" and isinstance(
                modules[str(users[0].target)], nn.BatchNorm2d):
            weight = modules[str(users[0].target)].weight.detach()
            signs[str(node.target)] = torch.where(weight < 0, -1.0, 1.0).view(1, -1, 1, 1)
    return signs

"""The maths of the CNN-vs-MLP comparison that runs models: shifted test sets and dense
equivalents of each convolution. (The cost table is cnnlab.analysis.cost; the derived datasets
live in cnnlab.datasets.derived.)"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from cnnlab.inference import PLAIN_INFERENCE, Inference, correct_on

DIRECTIONS = {"horizontal": (1, 0), "vertical": (0, 1), "diagonal": (1, 1)}
# Models are tested against each other on test images shifted this way (see tested_shift).
TEST_DIRECTION = "horizontal"


# ---------------------------------------------------------------------------------------------
# Translation


def shift_images(images: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Shift (N, C, H, W) uint8 images right by ``dx`` and down by ``dy``, filling with zeros."""
    out = np.zeros_like(images)
    h, w = images.shape[-2:]
    if abs(dx) >= w or abs(dy) >= h:
        return out
    src_y = slice(max(0, -dy), h - max(0, dy))
    dst_y = slice(max(0, dy), h - max(0, -dy))
    src_x = slice(max(0, -dx), w - max(0, dx))
    dst_x = slice(max(0, dx), w - max(0, -dx))
    out[..., dst_y, dst_x] = images[..., src_y, src_x]
    return out


def translation_rows(models: Mapping[tuple[str, int], nn.Module], images: np.ndarray,
                     labels: np.ndarray, mean: Sequence[float], std: Sequence[float],
                     max_shift: int, device: torch.device, batch_size: int,
                     inference: Mapping[tuple[str, int], Inference] | None = None,
                     ) -> tuple[list[dict[str, Any]], dict[tuple[str, int], np.ndarray]]:
    """Accuracy of each (arch, seed) model with the test set shifted by 0..max_shift pixels per
    direction; and which images each gets right at the :func:`tested_shift` (the paired tests).

    ``inference`` gives each model's path (as trained); shift 0 then equals its evaluation.
    """
    rows, at_test_shift = [], {}
    tested = (TEST_DIRECTION, tested_shift(max_shift))
    for (arch, seed), model in models.items():
        path = (inference or {}).get((arch, seed), PLAIN_INFERENCE)

        def correct(dx: int, dy: int, model: nn.Module = model,
                    path: Inference = path) -> np.ndarray:
            return correct_on(model, shift_images(images, dx, dy), labels, mean, std, device,
                              batch_size, path)

        plain = correct(0, 0)
        for direction, (ux, uy) in DIRECTIONS.items():
            for shift in range(max_shift + 1):
                hits = plain if shift == 0 else correct(ux * shift, uy * shift)
                if (direction, shift) == tested:
                    at_test_shift[(arch, seed)] = hits
                rows.append({"arch": arch, "seed": seed, "direction": direction, "shift": shift,
                             "accuracy": float(hits.mean())})
    return rows, at_test_shift


def tested_shift(max_shift: int) -> int:
    """The shift at which two models' robustness is tested: half the largest, at least 1
    pixel (at the largest, every model may be near chance)."""
    return max(1, max_shift // 2)


# ---------------------------------------------------------------------------------------------
# Dense equivalents


@torch.no_grad()
def dense_equivalent_rows(arch: str, model: nn.Module, input_shape: Sequence[int]) -> list[dict[str, Any]]:
    """For each convolution: its parameters, and those of a dense layer with the same input
    and output shapes (weights + biases), and the factor weight sharing saves."""
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            def hook(m: nn.Module, args: Any, out: torch.Tensor, name: str = name) -> None:
                shapes[name] = (tuple(args[0].shape[1:]), tuple(out.shape[1:]))
            handles.append(module.register_forward_hook(hook))
    try:
        model.eval()
        model(torch.zeros(1, *input_shape))
    finally:
        for handle in handles:
            handle.remove()
    rows = []
    modules = dict(model.named_modules())
    for name, (shape_in, shape_out) in shapes.items():
        conv_params = sum(p.numel() for p in modules[name].parameters())
        n_in, n_out = math.prod(shape_in), math.prod(shape_out)
        dense = n_in * n_out + n_out
        rows.append({"arch": arch, "layer": name,
                     "input_shape": "x".join(map(str, shape_in)),
                     "output_shape": "x".join(map(str, shape_out)),
                     "conv_params": conv_params, "dense_params": dense,
                     "saving_factor": dense / conv_params})
    return rows


def thought_experiment_rows(hidden_units: int = 1024, channels: int = 64) -> list[dict[str, Any]]:
    """The articles' thought experiment, computed: a first layer on a 224x224x3 image."""
    n_in = 224 * 224 * 3
    conv = channels * 3 * 3 * 3 + channels
    conv_out = channels * 224 * 224
    return [
        {"layer": f"dense, 224x224x3 -> {hidden_units} hidden units",
         "params": n_in * hidden_units + hidden_units},
        {"layer": f"conv 3x3, 3 -> {channels} channels (padding 1)", "params": conv},
        {"layer": f"dense with that conv's output shape (224x224x{channels})",
         "params": n_in * conv_out + conv_out},
    ]

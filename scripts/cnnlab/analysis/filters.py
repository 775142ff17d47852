"""First-layer filters and how much they resemble classic image operators.

The articles say learned first-layer filters "look like Sobel"; :func:`similarity_table`
measures it as the cosine similarity of each kernel to a bank of classic operators, for the
trained model and, as a control, for the same model at initialisation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """Every ``nn.Conv2d`` of ``model`` with its qualified name, in definition order."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """The first convolution; a model without one raises."""
    layers = conv_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer: it has no filters to show")
    return layers[0]


def _gabor(size: int, theta: float, wavelength: float, sigma: float) -> np.ndarray:
    half = (size - 1) / 2
    y, x = np.mgrid[-half:half + 1, -half:half + 1]
    xr = x * math.cos(theta) + y * math.sin(theta)
    yr = -x * math.sin(theta) + y * math.cos(theta)
    g = np.exp(-(xr**2 + yr**2) / (2 * sigma**2)) * np.cos(2 * math.pi * xr / wavelength)
    return g - g.mean()


def operator_bank(size: int) -> dict[str, np.ndarray]:
    """Classic operators of ``size`` x ``size``: edges, Laplacians, diagonals, blobs, Gabors.

    Each comes with its negative (a learned filter may detect the opposite polarity).
    For 3x3 kernels the bank is the textbook one; larger kernels get Gabor patches at
    eight orientations and a difference-of-Gaussians blob.
    """
    base: dict[str, np.ndarray] = {}
    if size == 3:
        base = {
            "sobel_x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float),
            "sobel_y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], float),
            "prewitt_x": np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], float),
            "prewitt_y": np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], float),
            "diagonal_main": np.array([[0, 1, 2], [-1, 0, 1], [-2, -1, 0]], float),
            "diagonal_anti": np.array([[-2, -1, 0], [-1, 0, 1], [0, 1, 2]], float),
            "laplacian_4": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float),
            # The 8-neighbour Laplacian negated: a bright centre on a dark surround.
            "centre_surround": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], float),
            "blob": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], float),
        }
    else:
        sigma = size / 4
        for i in range(8):
            theta = i * math.pi / 8
            base[f"gabor_{round(math.degrees(theta))}deg"] = _gabor(size, theta, size / 1.5, sigma)
        half = (size - 1) / 2
        y, x = np.mgrid[-half:half + 1, -half:half + 1]
        r2 = x**2 + y**2
        dog = np.exp(-r2 / (2 * (size / 8) ** 2)) - 0.5 * np.exp(-r2 / (2 * (size / 4) ** 2))
        base["centre_surround"] = dog - dog.mean()
        base["blob"] = np.exp(-r2 / (2 * (size / 4) ** 2))
    bank: dict[str, np.ndarray] = {}
    for name, kernel in base.items():
        bank[name] = kernel
        bank[f"neg_{name}"] = -kernel
    return bank


def kernel_luminance(weight: torch.Tensor) -> np.ndarray:
    """(out, k, k) kernels: the mean over input channels (the response to a grey image)."""
    return weight.detach().float().mean(1).cpu().numpy()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two arrays (0 when either is all zeros)."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float((a.ravel() @ b.ravel()) / (na * nb)) if na > 0 and nb > 0 else 0.0


def similarity_table(weight: torch.Tensor, state: str) -> list[dict[str, Any]]:
    """One row per kernel: its cosine similarity to each operator and the best match."""
    kernels = kernel_luminance(weight)
    bank = operator_bank(kernels.shape[-1])
    rows = []
    for index, kernel in enumerate(kernels):
        scores = {name: cosine(kernel, op) for name, op in bank.items()}
        best = max(scores, key=scores.__getitem__)
        rows.append({"state": state, "kernel": index, "best_match": best,
                     "best_similarity": scores[best], **scores})
    return rows


def kernel_grid(weight: torch.Tensor, signed: bool) -> np.ndarray:
    """Kernels ready to draw: (out, k, k) or (out, k, k, 3) for colour first layers.

    Unsigned: each kernel scaled to [0, 1] on its own (min-max), as in the articles.
    Signed: each kernel divided by its largest absolute value, so 0 stays 0 in [-1, 1].
    """
    w = weight.detach().float().cpu().numpy()
    if w.shape[1] == 3:
        w = np.transpose(w, (0, 2, 3, 1))
    else:
        w = w.mean(1)
    axes = tuple(range(1, w.ndim))
    if signed:
        scale = np.abs(w).max(axis=axes, keepdims=True)
        return w / np.where(scale > 0, scale, 1)
    low = w.min(axis=axes, keepdims=True)
    span = w.max(axis=axes, keepdims=True) - low
    return (w - low) / np.where(span > 0, span, 1)


def channel_norms(conv: nn.Conv2d) -> np.ndarray:
    """(out, in) L2 norm of each kernel slice: a compact view of a deep convolution."""
    return conv.weight.detach().float().flatten(2).norm(dim=2).cpu().numpy()

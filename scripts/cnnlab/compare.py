"""CNN vs MLP experiments: cost, dense equivalents, translation, permutation, data efficiency.

Derived datasets (pixel-permuted, subsets of the training split) are written as ordinary
prepared-dataset artifacts, so their training runs are ordinary cached jobs of the pipeline.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from cnnlab.data import Split, balanced_subset, channel_stats
from cnnlab.training import PLAIN_INFERENCE, Inference, predict_split

DIRECTIONS = {"horizontal": (1, 0), "vertical": (0, 1), "diagonal": (1, 1)}


# ---------------------------------------------------------------------------------------------
# Derived datasets


def pixel_permutation(height: int, width: int, seed: int) -> np.ndarray:
    """A seeded permutation of the ``height * width`` pixel positions."""
    return np.random.default_rng(seed).permutation(height * width)


def permute_pixels(images: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """Move every pixel of (N, C, H, W) images to a new place; every channel moves alike."""
    n, c, h, w = images.shape
    return images.reshape(n, c, h * w)[:, :, permutation].reshape(n, c, h, w)


def permuted_dataset(arrays: Mapping[str, np.ndarray], record: Mapping[str, Any],
                     seed: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The same dataset with one fixed pixel permutation applied to train and test images."""
    _, _, h, w = arrays["train_images"].shape
    permutation = pixel_permutation(h, w, seed)
    out = dict(arrays)
    out["train_images"] = permute_pixels(arrays["train_images"], permutation)
    out["test_images"] = permute_pixels(arrays["test_images"], permutation)
    out["permutation"] = permutation
    derived = dict(record)
    derived["derived"] = {"kind": "pixel_permutation", "from": record["dataset"], "seed": seed}
    return out, derived


def subset_dataset(arrays: Mapping[str, np.ndarray], record: Mapping[str, Any], fraction: float,
                   seed: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A class-balanced, seeded subset of the training split (the test split is kept whole).

    Subsets drawn with the same seed are nested: a smaller fraction is part of every larger one.
    Normalisation statistics are recomputed on the subset, the only training data the run sees.
    """
    labels = arrays["train_labels"]
    num_classes = len(record["classes"])
    size = max(num_classes, round(fraction * len(labels)))
    keep = balanced_subset(labels, size, num_classes, seed)
    out = dict(arrays)
    out["train_images"] = np.ascontiguousarray(arrays["train_images"][keep])
    out["train_labels"] = labels[keep]
    out["subset_indices"] = keep
    mean, std = channel_stats(out["train_images"])
    derived = dict(record)
    derived.update(
        train_size=int(len(keep)),
        train_class_counts=np.bincount(out["train_labels"], minlength=num_classes).tolist(),
        normalization={"mean": mean, "std": std, "computed_on": "train subset"},
        derived={"kind": "subset", "from": record["dataset"], "fraction": fraction, "seed": seed},
    )
    return out, derived


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


def accuracy_on(model: nn.Module, images: np.ndarray, labels: np.ndarray, mean: Sequence[float],
                std: Sequence[float], device: torch.device, batch_size: int,
                inference: Inference = PLAIN_INFERENCE) -> float:
    """Accuracy of ``model`` on uint8 images, run exactly as evaluation runs the test set."""
    logits, y = predict_split(model, Split(images, labels), list(mean), list(std), device,
                              batch_size, inference)
    return int((logits.argmax(1) == y).sum()) / len(y)


def translation_rows(models: Mapping[str, nn.Module], images: np.ndarray, labels: np.ndarray,
                     mean: Sequence[float], std: Sequence[float], max_shift: int,
                     device: torch.device, batch_size: int,
                     inference: Mapping[str, Inference] | None = None) -> list[dict[str, Any]]:
    """Accuracy of each model with the test set shifted by 0..max_shift pixels per direction.

    ``inference`` gives each model's path (as trained); shift 0 then equals its evaluation.
    """
    rows = []
    for arch, model in models.items():
        path = (inference or {}).get(arch, PLAIN_INFERENCE)
        plain = accuracy_on(model, images, labels, mean, std, device, batch_size, path)
        for direction, (ux, uy) in DIRECTIONS.items():
            for shift in range(max_shift + 1):
                accuracy = plain if shift == 0 else accuracy_on(
                    model, shift_images(images, ux * shift, uy * shift), labels, mean, std,
                    device, batch_size, path)
                rows.append({"arch": arch, "direction": direction, "shift": shift,
                             "accuracy": accuracy})
    return rows


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


# ---------------------------------------------------------------------------------------------
# Tables of the runs' own records


def cost_rows(records: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per model from its metrics, training record and parameter table."""
    rows = []
    for arch, r in records.items():
        rows.append({
            "arch": arch,
            "convolutional": r["convolutional"],
            "test_accuracy": r["metrics"]["test_accuracy"],
            "parameters": r["train"]["parameters"],
            "mult_adds": r["mult_adds"],
            "epochs": r["train"]["epochs"],
            "seconds_per_epoch": r["train"]["seconds_per_epoch"],
            "images_per_second": r["images_per_second"],
        })
    return rows


def subset_epochs(epochs: int, fraction: float, max_epochs: int) -> int:
    """Epochs for a training subset: as many optimiser steps as the full run, capped."""
    return max(epochs, min(max_epochs, math.ceil(epochs / fraction)))

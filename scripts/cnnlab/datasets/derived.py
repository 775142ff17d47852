"""Datasets derived from a prepared one for the CNN-vs-MLP experiments: one fixed pixel
permutation, and class-balanced nested subsets of the training split.

They are written as ordinary prepared-dataset artifacts, so their training runs are ordinary
cached jobs of the pipeline.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from cnnlab.datasets.prepared import balanced_subset, channel_stats


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
    if "validation_images" in arrays:
        out["validation_images"] = permute_pixels(arrays["validation_images"], permutation)
    out["permutation"] = permutation
    derived = dict(record)
    derived["derived"] = {"kind": "pixel_permutation", "from": record["dataset"], "seed": seed}
    return out, derived


def subset_dataset(arrays: Mapping[str, np.ndarray], record: Mapping[str, Any], fraction: float,
                   seed: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A class-balanced, seeded subset of the training split (validation and test are kept whole).

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


def subset_epochs(epochs: int, fraction: float, max_epochs: int) -> int:
    """Epochs for a training subset: as many optimiser steps as the full run, capped."""
    return max(epochs, min(max_epochs, math.ceil(epochs / fraction)))

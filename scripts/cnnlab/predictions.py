"""The per-image outcome of a model on the test split (``predictions.npz``), written by the
train job's evaluation and read by the misclassified-images figure and by the tests that pair
two models on the same images. No torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnlab.io import write_npz


def save_predictions(path: Path | str, labels: np.ndarray, predicted: np.ndarray,
                     confidence: np.ndarray) -> None:
    """Write true labels, predicted labels and the predicted class's probability per image."""
    write_npz(path, {"labels": labels, "predicted": predicted, "confidence": confidence})


def load_predictions(path: Path | str) -> dict[str, np.ndarray]:
    """The arrays of a file of :func:`save_predictions`: labels, predicted, confidence."""
    with np.load(path, allow_pickle=False) as arrays:
        return {name: arrays[name] for name in ("labels", "predicted", "confidence")}


def most_confident_errors(labels: np.ndarray, predicted: np.ndarray, confidence: np.ndarray,
                          limit: int) -> np.ndarray:
    """Indices of misclassified test images, most confidently wrong first (ties in image
    order)."""
    wrong = np.flatnonzero(labels != predicted)
    order = np.argsort(-confidence[wrong], kind="stable")
    return wrong[order][:limit]


def load_correct(path: Path | str) -> np.ndarray:
    """Whether each test image was classified correctly, from a file of :func:`save_predictions`."""
    with np.load(path, allow_pickle=False) as arrays:
        return arrays["predicted"] == arrays["labels"]

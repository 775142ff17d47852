"""The per-image outcome of a model on the test split (``predictions.npz``), written by the
train job's evaluation and read by the misclassified-images figure and by the tests that pair
two models on the same images; and its logits on the test and validation splits
(``logits.npz``), from which the calibration job works. No torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnlab.io import read_npz, write_npz

PREDICTION_ARRAYS = ("labels", "predicted", "confidence")


def save_predictions(path: Path | str, labels: np.ndarray, predicted: np.ndarray,
                     confidence: np.ndarray) -> None:
    """Write true labels, predicted labels and the predicted class's probability per image."""
    write_npz(path, dict(zip(PREDICTION_ARRAYS, (labels, predicted, confidence), strict=True)))


def _read_arrays(path: Path | str, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named arrays of an .npz file; a KeyError names the one it lacks."""
    arrays = read_npz(path)
    return {name: arrays[name] for name in names}


def load_predictions(path: Path | str) -> dict[str, np.ndarray]:
    """The arrays of a file of :func:`save_predictions`: labels, predicted, confidence."""
    return _read_arrays(path, PREDICTION_ARRAYS)


def most_confident_errors(labels: np.ndarray, predicted: np.ndarray, confidence: np.ndarray,
                          limit: int) -> np.ndarray:
    """Indices of misclassified test images, most confidently wrong first (ties in image
    order)."""
    wrong = np.flatnonzero(labels != predicted)
    order = np.argsort(-confidence[wrong], kind="stable")
    return wrong[order][:limit]


LOGIT_ARRAYS = ("test_logits", "test_labels", "validation_logits", "validation_labels")


def save_logits(path: Path | str, test_logits: np.ndarray, test_labels: np.ndarray,
                validation_logits: np.ndarray, validation_labels: np.ndarray) -> None:
    """Write float32 logits (N, classes) and labels of the test and validation splits; a run
    without a validation split writes (0, classes) and (0,) arrays for it."""
    arrays = (test_logits, test_labels, validation_logits, validation_labels)
    write_npz(path, dict(zip(LOGIT_ARRAYS, arrays, strict=True)))


def load_logits(path: Path | str) -> dict[str, np.ndarray]:
    """The arrays of a file of :func:`save_logits`, by the names in :data:`LOGIT_ARRAYS`."""
    return _read_arrays(path, LOGIT_ARRAYS)


def load_correct(path: Path | str) -> np.ndarray:
    """Whether each test image was classified correctly, from a file of :func:`save_predictions`."""
    arrays = load_predictions(path)
    return arrays["predicted"] == arrays["labels"]

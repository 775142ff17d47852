"""The per-image outcome of a model on the test split (``predictions.npz``), written by the
evaluate step and read by the tests that pair two models on the same images. No torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnlab.io import write_npz


def save_predictions(path: Path | str, labels: np.ndarray, predicted: np.ndarray,
                     confidence: np.ndarray) -> None:
    """Write true labels, predicted labels and the predicted class's probability per image."""
    write_npz(path, {"labels": labels, "predicted": predicted, "confidence": confidence})


def load_correct(path: Path | str) -> np.ndarray:
    """Whether each test image was classified correctly, from a file of :func:`save_predictions`."""
    with np.load(path, allow_pickle=False) as arrays:
        return arrays["predicted"] == arrays["labels"]

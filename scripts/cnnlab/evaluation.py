"""Test-set metrics of a trained model: accuracy, loss, per-class scores, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnlab.data import PreparedData
from cnnlab.models import create_model
from cnnlab.training import PLAIN_INFERENCE, Inference, predict_split


class ModelFileError(RuntimeError):
    """A model file is missing, damaged, or not a plain state dict of the expected network."""


def load_trained_model(arch: str, path: Path | str, num_classes: int,
                       device: torch.device) -> nn.Module:
    """Build ``arch`` and load the state dict at ``path`` (``weights_only=True``: no code runs)."""
    model = create_model(arch, num_classes=num_classes)
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # damaged zip, hostile pickle, truncated file...
        raise ModelFileError(
            f"{path}: cannot be loaded as a plain state dict ({type(exc).__name__}: {exc}); "
            f"delete it and rerun the train rule"
        ) from exc
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"{path}: does not hold {arch} weights ({exc})") from exc
    return model.to(device).eval()


@dataclass
class Predictions:
    """Per-image outcome on the test split."""

    labels: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray  # softmax probability of the predicted class
    loss: float


def predict_test_set(model: nn.Module, data: PreparedData, device: torch.device,
                     batch_size: int, inference: Inference = PLAIN_INFERENCE) -> Predictions:
    """Run the whole test split through ``model`` (as it was trained: see :class:`Inference`)."""
    logits, y = predict_split(model, data.test, data.mean, data.std, device, batch_size, inference)
    loss = nn.functional.cross_entropy(logits, y).item()
    probs = logits.softmax(1)
    confidence, predicted = probs.max(1)
    return Predictions(y.cpu().numpy(), predicted.cpu().numpy(), confidence.cpu().numpy(), loss)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts with true classes as rows and predicted classes as columns."""
    return np.bincount(labels * num_classes + predicted,
                       minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def classification_metrics(pred: Predictions, classes: list[str]) -> dict[str, Any]:
    """Accuracy, loss, per-class precision, recall, F1 and support, and the confusion matrix."""
    k = len(classes)
    cm = confusion_matrix(pred.labels, pred.predicted, k)
    tp = np.diag(cm).astype(np.float64)
    predicted_counts = cm.sum(0).astype(np.float64)
    support = cm.sum(1).astype(np.float64)
    precision = np.divide(tp, predicted_counts, out=np.zeros(k), where=predicted_counts > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)
    per_class = [
        {"class": classes[i], "precision": float(precision[i]), "recall": float(recall[i]),
         "f1": float(f1[i]), "support": int(support[i])}
        for i in range(k)
    ]
    return {
        "test_accuracy": float(tp.sum() / cm.sum()),
        "test_loss": pred.loss,
        "test_size": int(cm.sum()),
        "errors": int(cm.sum() - tp.sum()),
        "macro_f1": float(f1.mean()),
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
        "classes": classes,
    }


def most_confident_errors(pred: Predictions, limit: int) -> np.ndarray:
    """Indices of misclassified test images, most confidently wrong first."""
    wrong = np.flatnonzero(pred.labels != pred.predicted)
    order = np.argsort(-pred.confidence[wrong], kind="stable")
    return wrong[order][:limit]

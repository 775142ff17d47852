"""A trained model meeting test images: loading it, running it as it was trained, and the
metrics of its predictions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from cnnlab.datasets import PreparedData, Split
from cnnlab.device import autocast, seed_everything, to_device, use_bf16
from cnnlab.io import read_json
from cnnlab.models import create_model


class ModelFileError(RuntimeError):
    """A model file is missing, damaged, or not a plain state dict of the expected network."""


# Images per forward pass without gradients, for library callers; the config's
# evaluation.batch_size (same default) is what the pipeline passes.
EVAL_BATCH_SIZE = 128


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


def initial_model(arch: str, num_classes: int, seed: int) -> nn.Module:
    """``arch`` with the weights a run with training seed ``seed`` starts from: the trainer
    builds its model here, and the inspections that compare with initialisation draw it
    again here."""
    seed_everything(seed)
    return create_model(arch, num_classes=num_classes)


@dataclass(frozen=True)
class Inference:
    """How a trained model meets test images: in the layout and precision it was trained in.

    Evaluation, the per-epoch test accuracy and the comparisons all use it, so they agree to
    the last image, and inference gets the trainer's fast paths (on this project's CPU,
    channels-last and bf16 make a pass over MNIST's test set 4-5 times faster).
    """

    channels_last: bool = False
    bf16: bool = False

    @classmethod
    def of_run(cls, settings: Mapping[str, Any], device: torch.device) -> "Inference":
        """The inference path of a run from its recorded recipe (``train.json``'s settings)."""
        return cls(bool(settings.get("channels_last", False)),
                   use_bf16(settings.get("bf16", False), device))

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format


# float32 in the default layout: for models whose recipe is not known.
PLAIN_INFERENCE = Inference()


@dataclass(frozen=True)
class TrainedRun:
    """A trained run ready to meet images: its data, device, model, record and inference path."""

    data: PreparedData
    device: torch.device
    model: nn.Module
    record: dict[str, Any]
    inference: Inference

    def logits(self, split: Split, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """float32 logits and labels of ``split``, the model run as it was trained."""
        return predict_split(self.model, split, self.data.mean, self.data.std, self.device,
                             batch_size, self.inference)


def load_run(arch: str, data: PreparedData, model_path: Path | str,
             train_record_path: Path | str, device: torch.device) -> TrainedRun:
    """The run of ``arch`` on ``data`` whose weights and record (``train.json``) are given."""
    model = load_trained_model(arch, model_path, len(data.classes), device)
    record = read_json(train_record_path)
    return TrainedRun(data, device, model, record, Inference.of_run(record["settings"], device))


def predict_split(model: nn.Module, split: Split, mean: list[float], std: list[float],
                  device: torch.device, batch_size: int,
                  inference: Inference = PLAIN_INFERENCE) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 logits and labels of a whole uint8 split, normalised as in training."""
    x, y = to_device(split, mean, std, device, inference.memory_format)
    model.to(memory_format=inference.memory_format)
    with autocast(device, inference.bf16):
        logits = predict_logits(model, x, batch_size)
    return logits.float(), y


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Logits for every image of ``x``, in eval mode, batch by batch."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def evaluate_loss_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                           batch_size: int) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (a fraction) of ``model`` on ``(x, y)``."""
    logits = predict_logits(model, x, batch_size)
    loss = nn.functional.cross_entropy(logits.float(), y).item()
    accuracy = (logits.argmax(1) == y).float().mean().item()
    return loss, accuracy


def accuracy_on(model: nn.Module, images: np.ndarray, labels: np.ndarray, mean: Sequence[float],
                std: Sequence[float], device: torch.device, batch_size: int,
                inference: Inference = PLAIN_INFERENCE) -> float:
    """Accuracy of ``model`` on uint8 images, run exactly as evaluation runs the test set."""
    return float(correct_on(model, images, labels, mean, std, device, batch_size, inference).mean())


def correct_on(model: nn.Module, images: np.ndarray, labels: np.ndarray, mean: Sequence[float],
               std: Sequence[float], device: torch.device, batch_size: int,
               inference: Inference = PLAIN_INFERENCE) -> np.ndarray:
    """Whether ``model`` classifies each of the uint8 ``images`` correctly (as evaluated)."""
    logits, y = predict_split(model, Split(images, labels), list(mean), list(std), device,
                              batch_size, inference)
    return (logits.argmax(1) == y).cpu().numpy()


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
    return predictions_of(logits, y)


def predictions_of(logits: torch.Tensor, y: torch.Tensor) -> Predictions:
    """The per-image outcome of float32 ``logits`` against labels ``y``."""
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



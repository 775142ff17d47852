"""How far a model's confidence can be trusted: a reliability table, expected and maximum
calibration error, negative log-likelihood and Brier score; and temperature scaling (Guo et al.
2017, "On Calibration of Modern Neural Networks"), fitted on the validation split only.

Bins are equal-width on the confidence axis: bin i holds confidences in (i/B, (i+1)/B], the
first one [0, 1/B]. ECE is the share-weighted mean gap |accuracy - confidence| over the bins,
MCE the largest gap of a non-empty bin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import optimize

BINS = 15
# Temperatures searched (log-uniformly) when scaling: far beyond what a trained net needs.
TEMPERATURE_RANGE = (0.05, 20.0)


@dataclass(frozen=True)
class Calibration:
    """Calibration of one set of predicted probabilities against the true labels."""

    counts: np.ndarray  # images per bin
    confidence: np.ndarray  # mean confidence per bin (nan where empty)
    accuracy: np.ndarray  # accuracy per bin (nan where empty)
    ece: float
    mce: float
    nll: float
    brier: float

    def as_dict(self) -> dict[str, object]:
        def listed(values: np.ndarray) -> list[float | None]:
            return [None if math.isnan(v) else float(v) for v in values]

        return {"ece": self.ece, "mce": self.mce, "nll": self.nll, "brier": self.brier,
                "bins": {"counts": [int(c) for c in self.counts],
                         "confidence": listed(self.confidence), "accuracy": listed(self.accuracy)}}


def bin_index(confidence: np.ndarray, bins: int = BINS) -> np.ndarray:
    """The bin of each confidence: (i/B, (i+1)/B] -> i, and 0 -> 0."""
    return np.clip(np.ceil(np.asarray(confidence, dtype=np.float64) * bins).astype(int) - 1,
                   0, bins - 1)


def calibration(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0,
                bins: int = BINS) -> Calibration:
    """Reliability bins, ECE, MCE, NLL and Brier score of ``softmax(logits / temperature)``."""
    scaled = logits.double() / temperature
    probabilities = scaled.softmax(1)
    nll = float(torch.nn.functional.cross_entropy(scaled, labels).item())
    one_hot = torch.nn.functional.one_hot(labels, probabilities.shape[1]).double()
    brier = float(((probabilities - one_hot) ** 2).sum(1).mean().item())
    confidence, predicted = probabilities.max(1)
    conf = confidence.cpu().numpy()
    correct = (predicted == labels).cpu().numpy().astype(np.float64)
    index = bin_index(conf, bins)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=conf, minlength=bins) / counts
        accuracy = np.bincount(index, weights=correct, minlength=bins) / counts
    gaps = np.abs(accuracy - mean_conf)
    filled = counts > 0
    ece = float(np.sum(counts[filled] * gaps[filled]) / len(conf))
    mce = float(gaps[filled].max()) if filled.any() else 0.0
    return Calibration(counts, mean_conf, accuracy, ece, mce, nll, brier)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature that minimises the negative log-likelihood of ``logits`` (bounded scalar
    search over log T with scipy.optimize); 1.0 when no temperature does better than none, so
    scaling never raises the NLL of the split it is fitted on. Dividing logits by a positive
    number keeps every prediction's argmax."""
    scores = logits.double()

    def nll(log_t: float) -> float:
        return float(torch.nn.functional.cross_entropy(scores / math.exp(log_t), labels).item())

    low, high = (math.log(t) for t in TEMPERATURE_RANGE)
    found = optimize.minimize_scalar(nll, bounds=(low, high), method="bounded",
                                     options={"xatol": 1e-5})
    return float(math.exp(found.x)) if found.fun < nll(0.0) else 1.0

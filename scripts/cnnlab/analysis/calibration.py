"""How far a model's confidence can be trusted: a reliability table, expected and maximum
calibration error, negative log-likelihood and Brier score; and temperature scaling (Guo et al.
2017, "On Calibration of Modern Neural Networks"), fitted on the validation split only.

Bins are equal-width on the confidence axis: bin i holds confidences in (i/B, (i+1)/B], the
first one [0, 1/B]. ECE is the share-weighted mean gap |accuracy - confidence| over the bins,
MCE the largest gap of a non-empty bin.

Logits in, float64 throughout, no torch: the rule that calibrates a model reads the logits its
train job saved, and starts in a second instead of importing torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

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


def _log_probabilities(logits: np.ndarray, temperature: float) -> np.ndarray:
    return special.log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)


def _nll(log_probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.take_along_axis(log_probabilities, labels[:, None], 1).mean())


def calibration(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0,
                bins: int = BINS) -> Calibration:
    """Reliability bins, ECE, MCE, NLL and Brier score of ``softmax(logits / temperature)``
    (logits (N, K), labels (N,) class indices)."""
    labels = np.asarray(labels, dtype=np.int64)
    log_probabilities = _log_probabilities(logits, temperature)
    probabilities = np.exp(log_probabilities)
    nll = _nll(log_probabilities, labels)
    one_hot = np.eye(probabilities.shape[1])[labels]
    brier = float(((probabilities - one_hot) ** 2).sum(1).mean())
    predicted = probabilities.argmax(1)
    conf = probabilities[np.arange(len(labels)), predicted]
    correct = (predicted == labels).astype(np.float64)
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


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of ``logits`` (bounded scalar
    search over log T with scipy.optimize); 1.0 when no temperature does better than none, so
    scaling never raises the NLL of the split it is fitted on. Dividing logits by a positive
    number keeps every prediction's argmax."""
    scores = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)

    def nll(log_t: float) -> float:
        return _nll(_log_probabilities(scores, math.exp(log_t)), labels)

    low, high = (math.log(t) for t in TEMPERATURE_RANGE)
    found = optimize.minimize_scalar(nll, bounds=(low, high), method="bounded",
                                     options={"xatol": 1e-5})
    return float(math.exp(found.x)) if found.fun < nll(0.0) else 1.0

"""How sure a number is: intervals for an accuracy and for the difference between two models,
and McNemar's test of two models scored on the same test images. The distributions and tests
are scipy.stats'; this module only decides what is resampled and how a result is worded.

With one seed per model, the spread that can be measured is that of the test images: a
bootstrap over them (the models fixed) says how much the accuracy would move on another test
set drawn from the same distribution, not how much it would move with another seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
# Resamples of the bootstrap: enough for the second decimal of a percentage point.
RESAMPLES = 10_000
BATCH = 500
# McNemar's test (and an interval) is called significant below this p-value.
SIGNIFICANCE = 0.05
BOOTSTRAP_METHOD = "percentile bootstrap over test images"


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95% interval, and how the interval was computed."""

    estimate: float
    low: float
    high: float
    method: str

    @property
    def spans_zero(self) -> bool:
        return self.low <= 0.0 <= self.high

    def as_dict(self) -> dict[str, float | str]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "method": self.method}


def t_interval(values: np.ndarray | list[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean of ``values`` (one per seed) with Student's t interval (scipy.stats.t)."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        raise ValueError("a t-interval needs at least two values (seeds)")
    low, high = stats.t.interval(confidence, len(values) - 1, loc=mean, scale=stats.sem(values))
    return Interval(mean, float(low), float(high), f"t-interval over {len(values)} seeds")


def _bootstrap(statistic, samples: tuple[np.ndarray, ...], paired: bool, seed: int) -> tuple[float, float]:
    # In batches: all resamples of a 10,000-image test set at once would take gigabytes.
    result = stats.bootstrap(samples, statistic, paired=paired, vectorized=True,
                             n_resamples=RESAMPLES, batch=BATCH, confidence_level=CONFIDENCE,
                             method="percentile", rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def accuracy_interval(correct: np.ndarray, seed: int = 0) -> Interval:
    """Accuracy (share of ``correct``, one bool per test image) with a bootstrap interval."""
    correct = np.asarray(correct, dtype=np.float64)
    low, high = _bootstrap(lambda x, axis: x.mean(axis=axis), (correct,), False, seed)
    return Interval(float(correct.mean()), low, high, BOOTSTRAP_METHOD)


def difference_interval(correct_a: np.ndarray, correct_b: np.ndarray, seed: int = 0) -> Interval:
    """Accuracy of B minus accuracy of A on the same test images, with a paired bootstrap
    interval (each resample draws the same images for both models)."""
    a = np.asarray(correct_a, dtype=np.float64)
    b = np.asarray(correct_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"the two models were scored on different test sets ({a.shape} vs {b.shape})")
    low, high = _bootstrap(lambda x, y, axis: y.mean(axis=axis) - x.mean(axis=axis), (a, b), True, seed)
    return Interval(float(b.mean() - a.mean()), low, high, "paired " + BOOTSTRAP_METHOD)


@dataclass(frozen=True)
class McNemar:
    """McNemar's test on the test images that exactly one of two models gets right."""

    only_a: int  # images A gets right and B wrong
    only_b: int
    statistic: float  # (only_a - only_b)^2 / (only_a + only_b), chi-square with 1 dof
    p_value: float  # exact: two-sided binomial test of only_a against p = 1/2

    @property
    def significant(self) -> bool:
        return self.p_value < SIGNIFICANCE



def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> McNemar:
    """McNemar's test of two models scored on the same images (scipy.stats.binomtest).

    The p-value is the exact conditional one, valid for few discordant images too; the
    statistic is the textbook chi-square form, reported alongside.
    """
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    discordant = only_a + only_b
    if discordant == 0:
        return McNemar(0, 0, 0.0, 1.0)
    statistic = (only_a - only_b) ** 2 / discordant
    p_value = stats.binomtest(only_a, discordant, 0.5).pvalue
    return McNemar(only_a, only_b, float(statistic), float(min(1.0, p_value)))


def significant(change: Interval, test: McNemar) -> bool:
    """A difference is called significant when McNemar's test and its interval agree on it."""
    return test.significant and not change.spans_zero


def describe_p(p_value: float) -> str:
    """``p < 0.001``, ``p = 0.03``: as a reader expects a p-value written."""
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.2g}"

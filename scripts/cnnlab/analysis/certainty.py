"""How sure a number is: intervals for an accuracy and for the difference between two models,
and McNemar's test of two models scored on the same test images. The distributions and tests
are scipy.stats'; this module only decides what is resampled and how a result is worded.

With several seeds, a number is the mean over seeds with Student's t interval, and two sets
of runs are compared seed by seed (a paired t-test): the spread is the real seed-to-seed
variation, since one seed always gives the same numbers. With one seed per model, the spread
that can be measured is that of the test images: a bootstrap over them (the models fixed)
says how much the accuracy would move on another test set drawn from the same distribution,
not how much it would move with another seed; two models are then compared by McNemar's test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence, TypeVar

import numpy as np
from scipy import stats

T = TypeVar("T")

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

    @property
    def half_width(self) -> float:
        """Half the interval's width: the ``± h`` of ``mean ± h``."""
        return (self.high - self.low) / 2

    def as_dict(self) -> dict[str, float | str]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "method": self.method}

    @classmethod
    def from_dict(cls, values: Mapping[str, float | str]) -> "Interval":
        return cls(float(values["estimate"]), float(values["low"]), float(values["high"]),
                   str(values["method"]))


# Values closer than this are one value: accuracies of a few thousand images that are equal in
# exact arithmetic differ in the last bits of a float, and scipy's t then loses all precision.
NO_SPREAD = 1e-12


def _no_spread(values: np.ndarray) -> bool:
    return float(np.ptp(values)) <= NO_SPREAD


def t_interval(values: np.ndarray | list[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean of ``values`` (one per seed) with Student's t interval (scipy.stats.t)."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        raise ValueError("a t-interval needs at least two values (seeds)")
    method = f"t-interval over {len(values)} seeds"
    if _no_spread(values):  # scipy's interval of a zero scale is nan
        return Interval(mean, mean, mean, method)
    low, high = stats.t.interval(confidence, len(values) - 1, loc=mean, scale=stats.sem(values))
    return Interval(mean, float(low), float(high), method)


def across_seeds(values: Sequence[float], single: Interval | Mapping[str, float | str] | None = None
                 ) -> Interval:
    """A number measured once per seed: the mean with its t-interval over seeds; with one
    seed, ``single`` (that run's bootstrap interval over test images) when given, else the
    bare value with no spread."""
    if len(values) >= 2:
        return t_interval(values)
    if len(values) == 0:
        raise ValueError("no run to summarise")
    if single is not None:
        return single if isinstance(single, Interval) else Interval.from_dict(single)
    value = float(values[0])
    return Interval(value, value, value, "one seed, no interval")


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


@dataclass(frozen=True)
class Evidence:
    """How sure the difference B minus A between two sets of runs is."""

    change: Interval
    p_value: float
    test: str  # which test gave the p-value, and over what
    seeds: int  # pairs of runs compared (1: one seed each, the test images resampled)

    @property
    def significant(self) -> bool:
        """The test and the interval agree that there is a difference."""
        return self.p_value < SIGNIFICANCE and not self.change.spans_zero

    def as_row(self, prefix: str = "change") -> dict[str, float | str | int | bool]:
        """The columns a comparison table gives a difference."""
        return {prefix: self.change.estimate, f"{prefix}_low": self.change.low,
                f"{prefix}_high": self.change.high, "p_value": self.p_value, "test": self.test,
                "seeds": self.seeds, "significant": self.significant}


def paired_seeds(a: Sequence[float], b: Sequence[float]) -> Evidence:
    """B minus A, run by run (the same seed on both sides): the mean difference with its
    t-interval and the paired t-test (scipy.stats.ttest_rel)."""
    a_values, b_values = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a_values.shape != b_values.shape or len(a_values) < 2:
        raise ValueError(f"a paired test over seeds needs two or more pairs, got {len(a_values)} "
                         f"and {len(b_values)} runs")
    differences = b_values - a_values
    change = t_interval(differences)
    if _no_spread(differences):  # t is infinite, or undefined at 0
        p_value = 1.0 if abs(change.estimate) <= NO_SPREAD else 0.0
    else:
        p_value = float(stats.ttest_rel(b_values, a_values).pvalue)
    return Evidence(change, p_value, f"paired t-test over {len(a_values)} seeds", len(a_values))


def pair_runs(a: Mapping[int, T], b: Mapping[int, T]) -> tuple[list[T], list[T]]:
    """The runs ({seed: run}) of two models to compare: those of their common seeds where there
    are two or more; else one pair, tested on the test images: the runs of their one common
    seed, or each model's first seed."""
    common = [seed for seed in a if seed in b]
    if len(common) >= 2:
        return [a[s] for s in common], [b[s] for s in common]
    if common:  # one shared seed: that pair, rather than two different seeds' runs
        return [a[common[0]]], [b[common[0]]]
    return [next(iter(a.values()))], [next(iter(b.values()))]


def compare_correct(correct_a: Sequence[np.ndarray], correct_b: Sequence[np.ndarray]) -> Evidence:
    """B minus A from per-image correctness, one array per run, paired by position (the same
    seed on both sides). Two or more pairs: :func:`paired_seeds` of the accuracies. One pair:
    a paired bootstrap over test images and McNemar's exact test."""
    if len(correct_a) != len(correct_b) or not correct_a:
        raise ValueError(f"cannot pair {len(correct_a)} runs with {len(correct_b)}")
    if len(correct_a) >= 2:
        return paired_seeds([float(np.mean(c)) for c in correct_a],
                            [float(np.mean(c)) for c in correct_b])
    change = difference_interval(correct_a[0], correct_b[0])
    test = mcnemar(correct_a[0], correct_b[0])
    return Evidence(change, test.p_value, "McNemar's exact test, one seed", 1)


def describe_p(p_value: float) -> str:
    """``p < 0.001``, ``p = 0.03``: as a reader expects a p-value written."""
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.2g}"

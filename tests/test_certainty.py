"""Intervals and tests of the certainty module against textbook values and scipy itself."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from cnnlab.analysis import certainty
from cnnlab.report.findings import permutation_finding


def test_the_t_interval_is_the_textbook_one() -> None:
    values = [0.97, 0.98, 0.985]
    mean = sum(values) / 3
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 2)
    half = 4.302652729911275 * sd / math.sqrt(3)  # t(0.975, 2 dof), from a printed table
    interval = certainty.t_interval(values)
    assert interval.estimate == pytest.approx(mean)
    assert (interval.low, interval.high) == pytest.approx((mean - half, mean + half), abs=1e-12)
    with pytest.raises(ValueError, match="at least two"):
        certainty.t_interval([0.9])


def test_mcnemar_matches_the_textbook_example() -> None:
    # The 2x2 table of Wikipedia's McNemar example: 101 both right, 121 only A, 59 only B, 33 neither.
    a = np.array([1] * 101 + [1] * 121 + [0] * 59 + [0] * 33, dtype=bool)
    b = np.array([1] * 101 + [0] * 121 + [1] * 59 + [0] * 33, dtype=bool)
    test = certainty.mcnemar(a, b)
    assert (test.only_a, test.only_b) == (121, 59)
    assert test.statistic == pytest.approx(21.35, abs=0.01)  # (121 - 59)^2 / 180
    exact = 2 * sum(math.comb(180, k) for k in range(0, 60)) / 2 ** 180
    assert test.p_value == pytest.approx(exact, rel=1e-9) and test.significant
    # No discordant image: nothing to tell the models apart.
    same = certainty.mcnemar(a, a)
    assert (same.statistic, same.p_value, same.significant) == (0.0, 1.0, False)


def test_a_bootstrap_interval_of_an_accuracy_has_the_binomial_width() -> None:
    correct = np.zeros(2000, dtype=bool)
    correct[:1800] = True
    interval = certainty.accuracy_interval(correct)
    half = 1.96 * math.sqrt(0.9 * 0.1 / 2000)
    assert interval.estimate == 0.9
    assert interval.low == pytest.approx(0.9 - half, abs=0.002)
    assert interval.high == pytest.approx(0.9 + half, abs=0.002)
    assert certainty.accuracy_interval(correct) == interval  # seeded


def test_a_paired_difference_is_resampled_image_by_image() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(1000) < 0.9
    b = a.copy()
    b[np.flatnonzero(~a)[:50]] = True  # B also gets 50 of A's mistakes right
    gain = certainty.difference_interval(a, b)
    assert gain.estimate == pytest.approx(0.05)
    assert 0 < gain.low < 0.05 < gain.high  # paired: only the 50 images differ
    none = certainty.difference_interval(a, a)
    assert (none.low, none.high) == (0.0, 0.0) and none.spans_zero
    with pytest.raises(ValueError, match="different test sets"):
        certainty.difference_interval(a, b[:10])


def test_a_claim_whose_interval_spans_zero_is_said_to_be_not_significant() -> None:
    row = {"arch": "mlp", "convolutional": False, "accuracy_original": 0.9761,
           "accuracy_permuted": 0.9771, "change": 0.001, "change_low": -0.002, "change_high": 0.004,
           "p_value": 0.47, "test": "McNemar's exact test, one seed", "significant": False}
    text = permutation_finding(row)
    assert "not significant" in text and "McNemar's exact test, one seed, p = 0.47" in text
    assert "-0.20 to +0.40" in text
    cnn = {**row, "arch": "digitcnn", "convolutional": True, "change": -0.027,
           "change_low": -0.031, "change_high": -0.023, "p_value": 0.004, "significant": True,
           "test": "paired t-test over 3 seeds", "accuracy_original": 0.9901,
           "accuracy_permuted": 0.9631}
    text = permutation_finding(cnn)
    assert text.startswith("Permuting the pixels costs the CNN digitcnn 2.70 points")
    assert "paired t-test over 3 seeds, p = 0.004" in text and "not significant" not in text


def _summary_row(arch: str, convolutional: bool, accuracy: float, seeds: int) -> dict:
    return {"dataset": "d", "arch": arch, "convolutional": convolutional, "parameters": 10 if convolutional else 20,
            "test_accuracy": accuracy, "epochs": 1, "seeds": seeds,
            "accuracy": {"estimate": accuracy, "low": accuracy - 0.01, "high": accuracy + 0.01}}


def test_the_best_cnn_against_the_best_mlp_comes_with_its_evidence(tmp_path) -> None:
    from cnnlab.predictions import save_predictions
    from cnnlab.report.findings import findings, head_to_head

    labels = np.arange(1000) % 10
    for arch, wrong in (("cnn", 10), ("mlp", 30)):
        predicted = labels.copy()
        predicted[:wrong] = (predicted[:wrong] + 1) % 10  # the mlp's errors include the cnn's
        (tmp_path / "d" / arch).mkdir(parents=True)
        save_predictions(tmp_path / "d" / arch / "predictions.npz", labels, predicted, np.ones(1000))
    summary = [_summary_row("cnn", True, 0.99, 1), _summary_row("mlp", False, 0.97, 1)]
    seeds = {"cnn": [0], "mlp": [0]}
    text = " ".join(findings(summary, None, lambda a, b: head_to_head(tmp_path, "d", seeds, a, b)))
    # 20 images only the cnn gets right, none only the mlp: exact p = 2 / 2^20.
    low, high = map(float, re.search(r"\(\+2\.00 points, 95% interval \+(\S+) to \+(\S+) points,", text).groups())
    assert 1.0 <= low <= 1.3 and 2.7 <= high <= 3.0  # 2 points +- 1.96 * sqrt(20) / 10
    assert "McNemar's exact test, one seed, p < 0.001: significant" in text
    assert "not significant" in head_to_head(tmp_path, "d", seeds, "cnn", "cnn")
    assert "99.00 ± 1.00% (one seed)" in text


def test_two_models_with_common_seeds_are_compared_seed_by_seed(tmp_path) -> None:
    from cnnlab.predictions import save_predictions
    from cnnlab.report.findings import head_to_head
    from scipy import stats

    labels = np.arange(1000) % 10
    errors = {("cnn", 0): 10, ("cnn", 1): 14, ("cnn", 2): 12,
              ("mlp", 0): 30, ("mlp", 1): 31, ("mlp", 2): 36, ("mlp", 9): 500}
    for (arch, seed), wrong in errors.items():
        folder = tmp_path / "d" / arch / ("" if seed in (0,) else f"seed_{seed}")
        folder.mkdir(parents=True, exist_ok=True)
        predicted = labels.copy()
        predicted[:wrong] = (predicted[:wrong] + 1) % 10
        save_predictions(folder / "predictions.npz", labels, predicted, np.ones(1000))
    # mlp's seed 9 is not the cnn's: the pairs are seeds 0, 1 and 2.
    text = head_to_head(tmp_path, "d", {"cnn": [0, 1, 2], "mlp": [0, 1, 2, 9]}, "cnn", "mlp")
    cnn, mlp = [0.99, 0.986, 0.988], [0.97, 0.969, 0.964]
    expected = stats.ttest_rel(cnn, mlp).pvalue
    assert "paired t-test over 3 seeds" in text and f"p = {expected:.2g}" in text
    assert text.startswith(f"{100 * (np.mean(cnn) - np.mean(mlp)):+.2f} points")


def test_a_not_significant_row_read_back_from_its_csv_renders_as_not_significant(tmp_path) -> None:
    from cnnlab.io import read_csv, typed_rows, write_csv
    from cnnlab.report import environment
    from conftest import PROJECT

    rows = [{"arch": "mlp", "accuracy_original": 0.9753, "accuracy_permuted": 0.9754, "change": 0.0001,
             "change_low": -0.0018, "change_high": 0.002, "p_value": 1.0, "significant": False},
            {"arch": "digitcnn", "accuracy_original": 0.99, "accuracy_permuted": 0.965, "change": -0.025,
             "change_low": -0.029, "change_high": -0.022, "p_value": 1e-49, "significant": True}]
    write_csv(tmp_path / "p.csv", rows, list(rows[0]))
    table = typed_rows(read_csv(tmp_path / "p.csv"))
    assert [r["significant"] for r in table] == [False, True]
    env = environment(PROJECT / "workflow" / "report" / "templates")
    html = env.from_string(
        "{% for row in rows %}<td>{{ 'significant' if row.significant else 'not significant' }}</td>"
        "{% endfor %}").render(rows=table)
    assert html == "<td>not significant</td><td>significant</td>"

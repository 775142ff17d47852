"""Calibration: ECE and MCE against the textbook and torchmetrics, the Brier score and NLL
against their definitions and torch, and temperature scaling's promises. The module takes
numpy arrays (it runs without torch); torch draws the test data and checks the results."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from cnnlab.analysis import calibration
from torchmetrics.functional.classification import multiclass_calibration_error


def logits_for(confidences: list[float], predicted: list[int], classes: int = 3) -> np.ndarray:
    """Logits whose softmax puts ``confidence`` on the predicted class and the rest evenly."""
    rows = []
    for conf, label in zip(confidences, predicted, strict=True):
        rest = (1 - conf) / (classes - 1)
        probs = [rest] * classes
        probs[label] = conf
        rows.append([math.log(p) for p in probs])
    return np.array(rows)


def test_ece_and_mce_are_the_textbook_values() -> None:
    # Four images in bin (0.6, 0.667]: confidence 0.65 each, 2 right -> gap 0.15;
    # two in bin (0.933, 1]: confidence 0.95, both right -> gap 0.05.
    logits = logits_for([0.65, 0.65, 0.65, 0.65, 0.95, 0.95], [0, 0, 0, 0, 1, 1])
    labels = np.array([0, 0, 1, 2, 1, 1])
    result = calibration.calibration(logits, labels)
    assert result.ece == pytest.approx(4 / 6 * 0.15 + 2 / 6 * 0.05, abs=1e-12)
    assert result.mce == pytest.approx(0.15, abs=1e-12)
    assert result.counts.sum() == 6 and result.counts[9] == 4 and result.counts[14] == 2
    assert np.isnan(result.accuracy[0]) and result.accuracy[9] == 0.5


def test_ece_and_mce_equal_torchmetrics() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(2000, 10, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 10, (2000,), generator=generator)
    labels[:1200] = logits[:1200].argmax(1)  # mostly right, as a trained model is
    result = calibration.calibration(logits.numpy(), labels.numpy())
    probs = logits.softmax(1)
    for norm, ours in (("l1", result.ece), ("max", result.mce)):
        theirs = multiclass_calibration_error(probs, labels, num_classes=10, n_bins=15, norm=norm)
        assert ours == pytest.approx(float(theirs), abs=1e-6)
    assert result.counts.sum() == 2000


def test_nll_and_brier_follow_their_definitions() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 1])
    p = logits.softmax(1).numpy()
    nll = -np.mean([math.log(p[0, 0]), math.log(p[1, 0]), math.log(p[2, 1])])
    brier = np.mean([(p[0, 0] - 1) ** 2 + p[0, 1] ** 2, (p[1, 0] - 1) ** 2 + p[1, 1] ** 2,
                     p[2, 0] ** 2 + (p[2, 1] - 1) ** 2])
    result = calibration.calibration(logits.numpy(), labels.numpy())
    assert result.nll == pytest.approx(nll, abs=1e-12)
    assert result.nll == pytest.approx(float(torch.nn.functional.cross_entropy(logits, labels)),
                                       abs=1e-12)
    assert result.brier == pytest.approx(brier, abs=1e-12)
    # Temperature 2 is softmax of halved logits.
    halved = calibration.calibration(logits.numpy() / 2, labels.numpy())
    assert calibration.calibration(logits.numpy(), labels.numpy(), 2.0).nll == pytest.approx(
        halved.nll, abs=1e-12)


def test_temperature_scaling_recovers_an_overconfident_model_and_changes_no_prediction() -> None:
    generator = torch.Generator().manual_seed(1)
    true_logits = 2 * torch.randn(20000, 10, generator=generator, dtype=torch.float64)
    labels = torch.multinomial(true_logits.softmax(1), 1, generator=generator).squeeze(1)
    overconfident = 3 * true_logits  # calibrated at T = 3 by construction
    temperature = calibration.fit_temperature(overconfident.numpy(), labels.numpy())
    assert temperature == pytest.approx(3.0, rel=0.05)
    before = calibration.calibration(overconfident.numpy(), labels.numpy())
    after = calibration.calibration(overconfident.numpy(), labels.numpy(), temperature)
    assert after.nll <= before.nll and after.ece < before.ece / 3
    assert torch.equal((overconfident / temperature).argmax(1), overconfident.argmax(1))


def test_a_calibrated_model_keeps_temperature_one_and_scaling_never_raises_the_fitted_nll() -> None:
    generator = torch.Generator().manual_seed(2)
    for scale in (0.3, 1.0, 4.0):
        logits = scale * torch.randn(500, 5, generator=generator, dtype=torch.float64)
        labels = torch.randint(0, 5, (500,), generator=generator)
        logits_np, labels_np = logits.numpy(), labels.numpy()
        temperature = calibration.fit_temperature(logits_np, labels_np)
        assert calibration.TEMPERATURE_RANGE[0] <= temperature <= calibration.TEMPERATURE_RANGE[1]
        assert (calibration.calibration(logits_np, labels_np, temperature).nll
                <= calibration.calibration(logits_np, labels_np).nll + 1e-12)


def test_bins_are_closed_on_the_right() -> None:
    # (i/15, (i+1)/15] -> i; 0 joins the first bin and 1 the last.
    index = calibration.bin_index(np.array([0.0, 0.066, 0.0667, 0.5, 0.999, 1.0]))
    assert index.tolist() == [0, 0, 1, 7, 14, 14]


def test_calibration_findings_compare_kinds_by_their_medians() -> None:
    from cnnlab.report.model_findings import calibration_findings

    def model(arch: str, convolutional: bool, batch_norm: bool, ece: float, after: float,
              temperature: float) -> dict:
        return {"arch": arch, "convolutional": convolutional,
                "calibration": {"batch_norm": batch_norm, "before": {"ece": ece},
                                "after": {"ece": after}, "temperature": temperature,
                                "temperature_fitted": True}}

    models = [model("a", True, False, 0.002, 0.002, 1.0), model("gap", True, False, 0.08, 0.03, 0.8),
              model("b", True, False, 0.003, 0.003, 1.0), model("bn", True, True, 0.009, 0.004, 1.3),
              model("mlp", False, False, 0.004, 0.003, 1.1)]
    text = " ".join(calibration_findings(models))
    # CNN median of 0.2, 8, 0.3 and 0.9 percent is 0.6; one underfitted model does not decide it.
    assert "the CNNs are worse calibrated" in text and "median ECE 0.60%" in text
    assert "least calibrated model is gap (ECE 8.00%)" in text
    assert "with BatchNorm (bn) have a median ECE of 0.90%, those without (a, gap, b) 0.30%" in text
    assert "as Guo et al. (2017) report" in text
    assert "T from 0.80 for gap to 1.30 for bn" in text and "median ECE from 0.40% to 0.30%" in text

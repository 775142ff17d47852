"""The sanity checks of attribution maps against values worked out by hand or by scipy."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from cnnlab.analysis import attribution
from cnnlab.analysis import attribution_checks as checks
from scipy import stats
from torch import nn


def test_rank_correlation_is_scipys_spearman_of_the_absolute_maps() -> None:
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(4, 6, 6, generator=generator)
    b = torch.randn(4, 6, 6, generator=generator)
    b[1] = -a[1] * 3  # the same ranking of |value|
    b[2] = torch.round(b[2])  # ties
    rho, defined = checks.rank_correlation(a, b)
    for i in range(4):
        expected = stats.spearmanr(a[i].abs().flatten(), b[i].abs().flatten()).statistic
        assert rho[i] == pytest.approx(expected, abs=1e-12)
    assert rho[1] == pytest.approx(1.0) and defined.all()


def test_a_constant_map_has_no_rank_correlation_and_counts_as_zero() -> None:
    a = torch.randn(2, 5, 5, generator=torch.Generator().manual_seed(1))
    b = a.clone()
    b[0] = 0.0
    rho, defined = checks.rank_correlation(a, b)
    assert defined.tolist() == [False, True]
    assert rho[0] == 0.0 and rho[1] == pytest.approx(1.0)


def test_attribution_order_puts_the_largest_first_and_breaks_ties_at_random() -> None:
    maps = torch.tensor([[[0.1, 0.9], [0.5, -0.3]], [[0.0, 0.0], [0.0, 0.0]]])
    order = checks.attribution_order(maps, np.random.default_rng(0))
    assert order[0].tolist() == [1, 2, 0, 3]
    assert sorted(order[1].tolist()) == [0, 1, 2, 3]
    flat = torch.zeros(1, 10, 10)
    orders = {tuple(checks.attribution_order(flat, np.random.default_rng(seed))[0]) for seed in range(3)}
    assert len(orders) == 3  # a flat map is not read in scan order


class PixelSum(nn.Module):
    """Logits (0, scale * sum of weighted pixels): class 1's probability is a sigmoid."""

    def __init__(self, weights: torch.Tensor, scale: float) -> None:
        super().__init__()
        self.weights, self.scale = weights, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = (x * self.weights).flatten(1).sum(1) * self.scale
        return torch.stack([torch.zeros_like(total), total], 1)


def sigmoid(value: float) -> float:
    return 1 / (1 + math.exp(-value))


def test_deletion_and_insertion_follow_the_order_pixel_by_pixel() -> None:
    weights = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=torch.float64)
    model = PixelSum(weights, 0.5)
    images = torch.ones(1, 1, 2, 2, dtype=torch.float64)
    baseline = torch.zeros_like(images)
    order = np.array([[3, 2, 1, 0]])  # the pixels weighing 4, 3, 2 and 1
    fractions, deletion, insertion = checks.perturbation_curves(
        model, images, torch.tensor([1]), order, baseline, points=5)
    assert fractions.tolist() == [0, 0.25, 0.5, 0.75, 1]
    kept = [10, 6, 3, 1, 0]  # the weighted sum left after deleting 0..4 pixels
    assert deletion[0] == pytest.approx([sigmoid(0.5 * k) for k in kept], abs=1e-12)
    assert insertion[0] == pytest.approx([sigmoid(0.5 * (10 - k)) for k in kept], abs=1e-12)
    expected_area = sum((sigmoid(0.5 * a) + sigmoid(0.5 * b)) / 2 * 0.25
                        for a, b in zip(kept, kept[1:], strict=False))
    assert checks.area(fractions, deletion)[0] == pytest.approx(expected_area, abs=1e-12)


def tiny_cnn() -> nn.Module:
    """A 1x1 convolution (one weight), then a linear layer over the 16 pixels."""
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv2d(1, 1, 1), nn.Flatten(), nn.Linear(16, 3)).double().eval()


def test_cascading_randomisation_matches_saliency_worked_out_by_hand() -> None:
    """Saliency of this model is |conv weight x linear row|: the image does not matter, so
    its rank correlation after randomising the linear layer is Spearman's of |W| and |W'|."""
    model = tiny_cnn()
    before = copy.deepcopy(model.state_dict())
    images = torch.randn(3, 1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    targets = torch.tensor([0, 1, 2])
    result = checks.cascading_randomisation(model, images, targets,
                                            attribution.AttributionSettings(steps=4), "0", seed=7)
    assert result.layers == ["2", "0"]  # the top first
    torch.manual_seed(7)
    fresh = copy.deepcopy(model)
    fresh[2].reset_parameters()
    expected = np.mean([stats.spearmanr(model[2].weight[t].detach().abs(), fresh[2].weight[t].detach().abs()).statistic
                        for t in range(3)])
    assert result.correlation["saliency"][0] == pytest.approx(expected, abs=1e-12)
    assert len(result.example["grad_cam"]) == 3  # trained, then each step
    # The trained model is left as it was: the cascade works on a copy.
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_deletion_insertion_compares_every_method_with_a_random_order() -> None:
    model = tiny_cnn()
    images = torch.randn(12, 1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        targets = model(images).argmax(1)
    result = checks.deletion_insertion(model, images, targets, attribution.AttributionSettings(steps=8),
                                       "0", seed=0, points=17)
    assert set(result.deletion) == {*attribution.METHODS, checks.RANDOM_ORDER}
    assert result.fractions.tolist() == pytest.approx(np.linspace(0, 1, 17).tolist())
    for order, curve in result.deletion.items():
        # Nothing deleted yet: the model's own probability; everything inserted: the same.
        assert curve[0] == pytest.approx(result.insertion[order][-1], abs=1e-12)
    shares = result.beats_random()
    assert all(0 <= v <= 1 for s in shares.values() for v in s.values())


def test_occlusion_of_single_pixels_gives_a_linear_model_the_fastest_deletion() -> None:
    """Class 1's probability is the sigmoid of a linear score (class 0's logit is held at 0);
    1x1 occlusion measures each pixel's exact share of the score, so deleting in its order
    leaves the smallest score after every step: no order, random included, does better."""
    model = tiny_cnn()
    model[2] = nn.Linear(16, 2).double()
    with torch.no_grad():
        model[2].weight[0] = 0
        model[2].bias[0] = 0
    images = torch.randn(20, 1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    targets = torch.ones(20, dtype=torch.long)
    settings = attribution.AttributionSettings(window=1, stride=1)
    result = checks.deletion_insertion(model, images, targets, settings, "0", seed=0, points=17)
    assert (result.deletion_area["occlusion"] <= result.deletion_area[checks.RANDOM_ORDER] + 1e-12).all()
    assert (result.insertion_area["occlusion"] >= result.insertion_area[checks.RANDOM_ORDER] - 1e-12).all()
    assert result.beats_random()["occlusion"]["deletion"] > 0.9

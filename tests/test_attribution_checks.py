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
    rho = checks.rank_correlation(a, b)
    for i in range(4):
        expected = stats.spearmanr(a[i].abs().flatten(), b[i].abs().flatten()).statistic
        assert rho[i] == pytest.approx(expected, abs=1e-12)
    assert rho[1] == pytest.approx(1.0)
    # Over chosen pixels only: scipy's Spearman of those pixels.
    where = torch.rand(4, 6, 6, generator=generator) > 0.5
    rho = checks.rank_correlation(a, b, where)
    for i in range(4):
        expected = stats.spearmanr(a[i][where[i]].abs(), b[i][where[i]].abs()).statistic
        assert rho[i] == pytest.approx(expected, abs=1e-12)


def test_a_constant_map_has_no_rank_correlation_and_is_left_out_of_the_mean() -> None:
    a = torch.randn(3, 5, 5, generator=torch.Generator().manual_seed(1))
    b = a.clone()
    b[0] = 0.0
    b[2] = a[2].flip(0)
    rho = checks.rank_correlation(a, b)
    assert np.isnan(rho[0]) and rho[1] == pytest.approx(1.0)
    # A map that goes blank cannot lower the mean: it is not counted as "changed".
    assert checks._mean_defined(rho) == pytest.approx((1.0 + rho[2]) / 2)
    assert np.isnan(checks._mean_defined(np.array([np.nan])))


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
    # Pixel 2 (weight 3) first, then 0 (1), 3 (4) and 1 (2): an order that is not its own
    # inverse, so reading it as ranks would give other sums.
    order = np.array([[2, 0, 3, 1]])
    fractions, deletion, insertion = checks.perturbation_curves(
        model, images, torch.tensor([1]), order, baseline, points=5)
    assert fractions.tolist() == [0, 0.25, 0.5, 0.75, 1]
    kept = [10, 7, 6, 2, 0]  # the weighted sum left after deleting 0..4 pixels
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
    """Saliency of this model is |conv weight x linear row|: the image does not matter, so its
    rank correlation after each step is Spearman's of the trained and the randomised products,
    the layers reset one after another (cumulatively) from one seeded stream."""
    model = tiny_cnn()
    before = copy.deepcopy(model.state_dict())
    images = torch.randn(3, 1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    targets = torch.tensor([0, 1, 2])
    torch.manual_seed(123)
    result = checks.cascading_randomisation(model, images, targets,
                                            attribution.AttributionSettings(steps=4), "0", seed=7)
    after_cascade = torch.rand(1)
    assert result.layers == ["2", "0"]  # the top first

    def saliency(net: nn.Module) -> torch.Tensor:
        return (net[0].weight.detach().reshape(()) * net[2].weight.detach()).abs()

    fresh = copy.deepcopy(model)
    torch.manual_seed(7)
    expected = []
    for name in result.layers:
        fresh.get_submodule(name).reset_parameters()
        expected.append(np.mean([stats.spearmanr(saliency(model)[t], saliency(fresh)[t]).statistic
                                 for t in range(3)]))
    assert result.correlation["saliency"] == pytest.approx(expected, abs=1e-12)
    # Randomising the one-weight convolution only rescales the map (a new |weight|): the
    # ranking is kept, so the last step equals the first.
    assert expected[1] == pytest.approx(expected[0], abs=1e-12)
    assert len(result.example["grad_cam"]) == 3  # trained, then each step
    # The trained model and the caller's random stream are left as they were.
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    torch.manual_seed(123)
    assert torch.equal(after_cascade, torch.rand(1))


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

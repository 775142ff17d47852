"""Can an attribution map be trusted? Two checks of each method on a trained model.

- Cascading model-parameter randomisation (Adebayo et al. 2018, "Sanity Checks for Saliency
  Maps"): the learned layers are re-initialised one after another from the output down, and the
  maps of the randomised model are compared with the trained model's by Spearman's rank
  correlation of their absolute values. A map that explains the model must change once the
  weights it explains are gone; one that barely changes shows the image, not the model.
- Deletion and insertion (Petsiuk et al. 2018, "RISE"): the pixels are set to the baseline (or
  restored from it) in the order of their attribution, and the class probability is followed;
  a faithful map makes it fall fast (a small deletion area) and rise fast (a large insertion
  area), compared with a random order of the same pixels.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import integrate, stats
from torch import nn

from cnnlab.analysis import attribution
from cnnlab.analysis.attribution import METHODS, AttributionSettings, attribute_all, baseline_like

# A method whose maps keep a mean rank correlation this high with the trained model's after
# every learned layer is randomised is flagged as failing the randomisation check.
FAILING_CORRELATION = 0.3
# Points of the deletion and insertion curves: 0, 5%, ..., 100% of the pixels.
CURVE_POINTS = 21
RANDOM_ORDER = "random"


def learned_layers(model: nn.Module) -> list[str]:
    """Names of the convolutions and linear layers, in the order the model defines them: what
    the cascade randomises (BatchNorm keeps its statistics and its per-channel scale)."""
    return [name for name, module in model.named_modules()
            if isinstance(module, (nn.Conv2d, nn.Linear))]


def rank_correlation(a: torch.Tensor, b: torch.Tensor,
                     where: torch.Tensor | None = None) -> np.ndarray:
    """Spearman's correlation of |a[i]| and |b[i]| for each image i, over every pixel or over
    the pixels where ``where[i]`` is true; nan where either map is constant there (all zero,
    as Grad-CAM's ReLU can leave it): a constant map has no ranking to compare."""
    x_all = a.abs().flatten(1).double().cpu().numpy()
    y_all = b.abs().flatten(1).double().cpu().numpy()
    keep = (np.ones_like(x_all, dtype=bool) if where is None
            else where.flatten(1).cpu().numpy().astype(bool))
    rho = np.full(len(x_all), np.nan)
    for i, (x, y, k) in enumerate(zip(x_all, y_all, keep, strict=True)):
        x, y = stats.rankdata(x[k]), stats.rankdata(y[k])
        x, y = x - x.mean(), y - y.mean()
        norm = np.sqrt((x * x).sum() * (y * y).sum())
        if norm > 0:
            rho[i] = (x * y).sum() / norm
    return rho


def _mean_defined(values: np.ndarray) -> float:
    """The mean of the defined (non-nan) values; nan when there are none."""
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if len(defined) else math.nan


@dataclass(frozen=True)
class Randomisation:
    """Mean rank correlation with the trained maps after each cascade step, per method: over
    every pixel, and over the image's own pixels (those that differ from the baseline; there,
    a method that is zero wherever the image equals the baseline cannot agree by construction).
    Means are over the images whose correlation is defined; ``undefined`` counts the others."""

    layers: list[str]  # randomised in this order (top first); step k has the first k random
    correlation: dict[str, list[float]]
    on_image: dict[str, list[float]]
    undefined: dict[str, list[int]]  # images per step whose correlation (all pixels) is undefined
    example: dict[str, list[np.ndarray]]  # the first image's map: trained, then per step

    def final(self, method: str) -> float:
        """The mean correlation once every learned layer is random."""
        return self.correlation[method][-1]

    def failing(self) -> list[str]:
        """Methods whose maps keep at least :data:`FAILING_CORRELATION` of their ranking."""
        return [m for m in self.correlation if self.final(m) >= FAILING_CORRELATION]


def cascading_randomisation(model: nn.Module, images: torch.Tensor, targets: torch.Tensor,
                            settings: AttributionSettings, layer_name: str,
                            seed: int) -> Randomisation:
    """Re-initialise the learned layers from the top down (each with its own
    ``reset_parameters``, seeded), recomputing every method's maps after each layer."""
    model.eval()
    trained = attribute_all(model, images, targets, settings, model.get_submodule(layer_name))
    randomised = copy.deepcopy(model).eval()
    layers = learned_layers(model)[::-1]
    # The image's own pixels: off the baseline by more than rounding (a grey level is ~0.01).
    drawn = ((images - baseline_like(images, settings)).abs() > 1e-4).any(1)
    correlation: dict[str, list[float]] = {m: [] for m in METHODS}
    on_image: dict[str, list[float]] = {m: [] for m in METHODS}
    undefined: dict[str, list[int]] = {m: [] for m in METHODS}
    example = {m: [trained[m][0].cpu().numpy()] for m in METHODS}
    # The caller's random state is left as it was: the draws here are the cascade's own.
    with torch.random.fork_rng(devices=[images.device] if images.is_cuda else []):
        torch.manual_seed(seed)
        for name in layers:
            with torch.no_grad():
                randomised.get_submodule(name).reset_parameters()
            maps = attribute_all(randomised, images, targets, settings,
                                 randomised.get_submodule(layer_name))
            for method in METHODS:
                rho = rank_correlation(trained[method], maps[method])
                correlation[method].append(_mean_defined(rho))
                on_image[method].append(_mean_defined(
                    rank_correlation(trained[method], maps[method], drawn)))
                undefined[method].append(int(np.isnan(rho).sum()))
                example[method].append(maps[method][0].cpu().numpy())
    return Randomisation(layers, correlation, on_image, undefined, example)


def attribution_order(maps: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
    """Pixel indices (N, H*W), the largest attribution first; ties broken at random, so that a
    flat region of a map is not read in scan order."""
    values = maps.flatten(1).double().cpu().numpy()
    shuffle = np.stack([rng.permutation(values.shape[1]) for _ in range(len(values))])
    ranked = np.argsort(-np.take_along_axis(values, shuffle, 1), axis=1, kind="stable")
    return np.take_along_axis(shuffle, ranked, 1)


def random_order(count: int, pixels: int, rng: np.random.Generator) -> np.ndarray:
    """A random order of the ``pixels`` of each of ``count`` images (N, pixels)."""
    return np.stack([rng.permutation(pixels) for _ in range(count)])


@torch.no_grad()
def perturbation_curves(model: nn.Module, images: torch.Tensor, targets: torch.Tensor,
                        order: np.ndarray, baseline: torch.Tensor, points: int = CURVE_POINTS,
                        inputs_per_pass: int = attribution.PASS_SIZE,
                        memory_format: torch.memory_format = torch.contiguous_format,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fractions of pixels changed, and the target-class probability of each image (N,
    points) as the pixels are deleted (set to ``baseline``) or inserted (into the baseline)
    in ``order``, every channel of a pixel at once; the model is run on inputs in
    ``memory_format`` (the layout it was trained in is the fast one)."""
    model.eval()
    n, _, height, width = images.shape
    pixels = height * width
    counts = np.round(np.linspace(0, pixels, points)).astype(int)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(pixels)[None].repeat(n, 0), 1)
    rank_t = torch.as_tensor(rank, device=images.device).view(n, 1, 1, height, width)
    count_t = torch.as_tensor(counts, device=images.device).view(1, points, 1, 1, 1)
    batch_size = max(1, inputs_per_pass // points)
    deletion = np.empty((n, points))
    insertion = np.empty((n, points))
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        changed = rank_t[start:stop] < count_t  # (b, points, 1, H, W)
        x = images[start:stop, None]
        base = baseline[start:stop, None]
        target = targets[start:stop].repeat_interleave(points)
        for curves, perturbed in ((deletion, torch.where(changed, base, x)),
                                  (insertion, torch.where(changed, x, base))):
            flat = perturbed.reshape(-1, *images.shape[1:]).contiguous(memory_format=memory_format)
            probability = model(flat).double().softmax(1)[torch.arange(len(flat)), target]
            curves[start:stop] = probability.view(stop - start, points).cpu().numpy()
    return counts / pixels, deletion, insertion


def area(fractions: np.ndarray, curves: np.ndarray) -> np.ndarray:
    """Area under each curve (trapezoids over the fractions of pixels changed)."""
    return integrate.trapezoid(curves, fractions, axis=-1)


@dataclass(frozen=True)
class Perturbation:
    """Mean deletion and insertion curves per order (each method and a random one), the areas
    per image, and how often each method's order beats the random order image by image."""

    fractions: np.ndarray
    deletion: dict[str, np.ndarray]  # mean curve
    insertion: dict[str, np.ndarray]
    deletion_area: dict[str, np.ndarray]  # per image
    insertion_area: dict[str, np.ndarray]

    def beats_random(self) -> dict[str, dict[str, float]]:
        """Share of images whose deletion area is below the random order's, and whose
        insertion area is above it."""
        return {m: {"deletion": float((self.deletion_area[m] < self.deletion_area[RANDOM_ORDER]).mean()),
                    "insertion": float((self.insertion_area[m] > self.insertion_area[RANDOM_ORDER]).mean())}
                for m in METHODS}


def deletion_insertion(model: nn.Module, images: torch.Tensor, targets: torch.Tensor,
                       settings: AttributionSettings, layer_name: str, seed: int,
                       points: int = CURVE_POINTS,
                       memory_format: torch.memory_format = torch.contiguous_format) -> Perturbation:
    """Deletion and insertion curves of every method's order and of a random order."""
    maps = attribute_all(model, images, targets, settings, model.get_submodule(layer_name))
    rng = np.random.default_rng(seed)
    orders = {m: attribution_order(maps[m], rng) for m in METHODS}
    orders[RANDOM_ORDER] = random_order(len(images), images[0, 0].numel(), rng)
    baseline = baseline_like(images, settings)
    deletion, insertion, deletion_area, insertion_area = {}, {}, {}, {}
    fractions = np.empty(0)
    for name, order in orders.items():
        fractions, deleted, inserted = perturbation_curves(model, images, targets, order,
                                                           baseline, points,
                                                           memory_format=memory_format)
        deletion[name], insertion[name] = deleted.mean(0), inserted.mean(0)
        deletion_area[name], insertion_area[name] = area(fractions, deleted), area(fractions, inserted)
    return Perturbation(fractions, deletion, insertion, deletion_area, insertion_area)

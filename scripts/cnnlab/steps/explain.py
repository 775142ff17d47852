"""Step of workflow/rules/explain.smk: why a model decides as it does."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnnlab import datasets, device, inference
from cnnlab.analysis import attribution
from cnnlab.analysis import attribution_checks as checks
from cnnlab.io import write_json
from cnnlab.plotting import attribution as figures
from cnnlab.predictions import most_confident_errors

log = logging.getLogger("cnnlab")


def baseline_values(baseline: str, mean: list[float], std: list[float]) -> tuple[float, ...]:
    """The baseline image's normalised value per channel: ``black`` (pixel intensity 0, the
    background of MNIST's digits) or ``mean`` (the training images' mean, 0 once normalised)."""
    if baseline == "black":
        return tuple(-m / s for m, s in zip(mean, std, strict=True))
    if baseline == "mean":
        return tuple(0.0 for _ in mean)
    raise ValueError(f"attribution.baseline must be 'black' or 'mean', not {baseline!r}")


def example_images(labels: np.ndarray, predicted: np.ndarray, confidence: np.ndarray,
                   classes: int, misclassified: int) -> tuple[list[int], list[int]]:
    """The first test image of each class (the same images for every model), and the
    ``misclassified`` test images the model got wrong with the highest confidence."""
    first = [int(np.flatnonzero(labels == c)[0]) for c in range(classes) if (labels == c).any()]
    wrong = most_confident_errors(labels, predicted, confidence, misclassified)
    return first, [int(i) for i in wrong]


def explain_decisions(*, dataset: str, arch: str, threads: int, npz_path: Path | str,
                      record_path: Path | str, model_path: Path | str,
                      train_record_path: Path | str, mosaic_path: Path | str,
                      checks_path: Path | str, checks_png_path: Path | str,
                      randomisation_path: Path | str, seed: int, misclassified: int,
                      images: int, randomisation_images: int, steps: int,
                      occlusion_window: int, occlusion_stride: int, baseline: str,
                      batch_size: int,
                      device_preference: str = "auto") -> dict[str, Any]:
    """Attribution maps of one convolutional model (every method, for one test image per class
    and its most confidently misclassified ones) and their two sanity checks on a seeded
    sample of the test split. Each map explains the class the model predicted."""
    device.use_threads(threads)
    data = datasets.load_prepared(npz_path, record_path)
    trained = inference.load_run(arch, data, model_path, train_record_path,
                                 device.select_device(device_preference))
    # Everything here runs in float32 in the layout the model was trained in (the fast one for
    # its kernels): the classes explained are those of the very model the maps are taken from.
    layout = trained.inference.memory_format
    model = trained.model.float().to(memory_format=layout).eval()
    x, labels_t = device.to_device(data.test, data.mean, data.std, trained.device, layout)
    confidence_t, predicted_t = inference.predict_logits(model, x, batch_size).float().softmax(1).max(1)
    labels, predicted = labels_t.cpu().numpy(), predicted_t.cpu().numpy()
    confidence = confidence_t.cpu().numpy()
    settings = attribution.AttributionSettings(
        steps, occlusion_window, occlusion_stride,
        baseline_values(baseline, data.mean, data.std))
    layer = attribution.grad_cam_layer(model, x[:1])
    targets = predicted_t
    timings: dict[str, float] = {}

    started = time.perf_counter()
    first, wrong = example_images(labels, predicted, confidence, len(data.classes), misclassified)
    shown = first + wrong
    shown_t = torch.as_tensor(shown, device=trained.device)
    maps = attribution.attribute_all(model, x[shown_t], targets[shown_t], settings, layer.module)
    timings["examples"] = time.perf_counter() - started
    name = data.classes
    captions = [f"true {name[labels[i]]}\npredicted {name[predicted[i]]}\n{100 * confidence[i]:.1f}%"
                for i in shown]
    figures.plot_attribution_mosaic(
        data.test.images[shown], {m: v.cpu().numpy() for m, v in maps.items()}, captions,
        [labels[i] != predicted[i] for i in shown],
        [("The first test image of each class", len(first)),
         (f"The {len(wrong)} test images it got wrong with the highest confidence", len(wrong))],
        f"{arch} on {dataset}: which pixels drive the predicted class (each map scaled to its "
        f"own peak)", mosaic_path)

    sample = np.random.default_rng(seed).permutation(len(labels))[:images]
    checked = sample[:randomisation_images]
    sample_t = torch.as_tensor(sample, device=trained.device)
    checked_t = sample_t[:randomisation_images]
    started = time.perf_counter()
    randomised = checks.cascading_randomisation(model, x[checked_t], targets[checked_t], settings,
                                                layer.name, seed)
    timings["randomisation"] = time.perf_counter() - started
    started = time.perf_counter()
    perturbed = checks.deletion_insertion(model, x[sample_t], targets[sample_t], settings,
                                          layer.name, seed, memory_format=layout)
    timings["deletion_insertion"] = time.perf_counter() - started
    beats = perturbed.beats_random()
    orders = [*attribution.METHODS, checks.RANDOM_ORDER]
    record = {
        "dataset": dataset, "arch": arch, "seed": trained.record["seed"], "sample_seed": seed,
        "explained_class": "predicted",
        "grad_cam_layer": {"name": layer.name, "type": type(layer.module).__name__,
                           "shape": list(layer.shape)},
        "settings": {"steps": steps, "occlusion_window": occlusion_window,
                     "occlusion_stride": occlusion_stride, "baseline": baseline,
                     "baseline_values": list(settings.baseline)},
        # Shown in two groups (an image can be in both): one per class, then the errors.
        "examples": [{"index": i, "label": name[labels[i]], "predicted": name[predicted[i]],
                      "confidence": float(confidence[i]), "group": group}
                     for group, indices in (("class", first), ("error", wrong)) for i in indices],
        "randomisation": {
            "images": len(checked), "layers": randomised.layers,
            "failing_correlation": checks.FAILING_CORRELATION, "failing": randomised.failing(),
            "methods": {m: {"correlation": randomised.correlation[m], "final": randomised.final(m),
                            "on_image": randomised.on_image[m],
                            "final_on_image": randomised.on_image[m][-1],
                            "undefined": randomised.undefined[m]} for m in attribution.METHODS}},
        "perturbation": {
            "images": len(sample), "fractions": perturbed.fractions.tolist(),
            "orders": {o: {"deletion_curve": perturbed.deletion[o].tolist(),
                           "insertion_curve": perturbed.insertion[o].tolist(),
                           "deletion_area": float(perturbed.deletion_area[o].mean()),
                           "insertion_area": float(perturbed.insertion_area[o].mean()),
                           **({"deletion_beats_random": beats[o]["deletion"],
                               "insertion_beats_random": beats[o]["insertion"]}
                              if o in beats else {})}
                       for o in orders}},
        "seconds": timings,
    }
    write_json(checks_path, record)
    log.info("%s on %s: Grad-CAM on %s; rank correlation after randomising every layer %s; "
             "failing: %s", arch, dataset, layer.name,
             {m: round(randomised.final(m), 3) for m in attribution.METHODS},
             randomised.failing() or "none")
    baseline_text = "black" if baseline == "black" else "the mean image"
    figures.plot_attribution_checks(
        randomised.layers, randomised.correlation, perturbed.fractions, perturbed.deletion,
        perturbed.insertion, {o: record["perturbation"]["orders"][o]["deletion_area"] for o in orders},
        {o: record["perturbation"]["orders"][o]["insertion_area"] for o in orders},
        (f"learned layers randomised so far (mean over {len(checked)} test images)",
         f"Mean over {len(sample)} test images; pixels are set to (or restored from) a "
         f"{baseline_text} baseline in steps of {100 / (checks.CURVE_POINTS - 1):.0f}%."),
        f"{arch} on {dataset}: do the maps depend on the weights, and do they find the pixels "
        f"the decision rests on?", checks_png_path)
    first_checked = int(checked[0])
    figures.plot_randomisation_example(
        data.test.images[first_checked], randomised.example, randomised.layers,
        f"{arch}: one test image's maps (true {name[labels[first_checked]]}, predicted "
        f"{name[predicted[first_checked]]})\nas the layers are randomised from the output down",
        randomisation_path)
    return record

"""Steps of workflow/rules/units.smk: what the units of a convolutional model respond to (its
convolutions' effective fields, top images and optimal inputs). The representations
(:mod:`.embeddings`) and the weights (:mod:`.weights`) have modules of their own, so that their
jobs import only what they use."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from cnnlab import datasets
from cnnlab.analysis import effective_field, receptive_field, top_images
from cnnlab.analysis import optimal_inputs as optimal
from cnnlab.analysis.receptive_field import ReceptiveFieldError
from cnnlab.artifacts import TOP_IMAGES
from cnnlab.device import select_device, to_device, use_threads
from cnnlab.inference import initial_model, load_trained_model
from cnnlab.io import write_csv, write_json
from cnnlab.plotting import units as figures

log = logging.getLogger("cnnlab")

ERF_COLUMNS = ["layer", "state", "images", "receptive_field", "sigma_rows", "sigma_cols", "fit_sigma_rows",
               "fit_sigma_cols", "fit_r_squared", "mass_share", "outside_mass", "box_top",
               "box_bottom", "box_left", "box_right"]


def effective_receptive_fields(*, dataset: str, arch: str, threads: int, seed: int,
                               training_seed: int, images: int, npz_path: Path | str,
                               record_path: Path | str, model_path: Path | str,
                               csv_path: Path | str, png_path: Path | str,
                               device_preference: str = "auto") -> list[dict[str, Any]]:
    """The ERF of every convolution's centre unit, at initialisation (the weights the trainer
    started from, drawn again from ``training_seed``) and trained, over a sample of ``images``
    test images drawn with ``seed``."""
    use_threads(threads)
    device = select_device(device_preference)
    data = datasets.load_prepared(npz_path, record_path)
    sample = datasets.seeded_sample(len(data.test.labels), images, np.random.default_rng(seed))
    x, _ = to_device(datasets.Split(data.test.images[sample], data.test.labels[sample]),
                     data.mean, data.std, device)
    trained = load_trained_model(arch, model_path, len(data.classes), device).float()
    initial = initial_model(arch, len(data.classes), training_seed).to(device)
    results = [*effective_field.measure(initial, x, "init"),
               *effective_field.measure(trained, x, "trained")]
    leaking = [f"{r['layer']} ({r['state']})" for r in results
               if r["outside_mass"] > effective_field.OUTSIDE_TOLERANCE]
    if leaking:
        raise ReceptiveFieldError(
            f"{arch}: the effective field reaches outside the analytic one at {', '.join(leaking)}")
    rows = [{**{k: v for k, v in r.items() if k not in ("field", "box")}, "images": len(sample),
             **dict(zip(("box_top", "box_bottom", "box_left", "box_right"), r["box"], strict=True))}
            for r in results]
    write_csv(csv_path, rows, ERF_COLUMNS)
    deepest = max(reversed(results), key=lambda r: r["receptive_field"])["layer"]
    log.info("%s: deepest convolution %s, ERF sigma %s px", arch, deepest,
             {r["state"]: round((r["sigma_rows"] + r["sigma_cols"]) / 2, 3)
              for r in results if r["layer"] == deepest})
    figures.plot_effective_fields(
        results, f"{arch} on {dataset}: effective receptive field of each convolution's centre "
        f"unit (mean |input gradient| over {len(sample)} test images)", png_path)
    return rows


def top_activating_images(*, dataset: str, arch: str, threads: int, channels: int,
                          batch_size: int, npz_path: Path | str, record_path: Path | str,
                          model_path: Path | str, folder: Path | str,
                          device_preference: str = "auto") -> dict[str, Any]:
    """For every channel of every convolution, the test images that excite it most over the
    whole test split, with the patch under the peak unit's receptive field; one figure per
    convolution (its first ``channels`` channels) and an index of all of them."""
    use_threads(threads)
    device = select_device(device_preference)
    data = datasets.load_prepared(npz_path, record_path)
    x, _ = to_device(data.test, data.mean, data.std, device)
    model = load_trained_model(arch, model_path, len(data.classes), device).float().eval()
    size = x.shape[-1]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    convolutions = receptive_field.convolution_rows(model, size)
    names = [row.layer for row in convolutions]
    peaks_of = top_images.channel_peaks(model, names, x, batch_size,
                                        top_images.batch_norm_signs(model, names))
    layers = []
    for number, row in enumerate(convolutions):
        peaks = peaks_of[row.layer]
        top = top_images.top_images(peaks)
        entries = [[{"image": int(i), "value": float(peaks.values[i, c]),
                     "box": top_images.patch(row, int(peaks.rows[i, c]), int(peaks.cols[i, c]),
                                             size).corners()}
                    for i in top[c]] for c in range(len(top))]
        shown = list(range(min(channels, len(top))))
        name = f"{number:02d}_{row.layer.replace('.', '_')}.png"
        figures.plot_top_images(
            data.test.images[top[shown]], [[e["box"] for e in entries[c]] for c in shown],
            np.array([[e["value"] for e in entries[c]] for c in shown]), shown,
            f"{arch} {row.layer}: the {top_images.TOP} test images that excite each channel most "
            f"(of {len(x):,}), the patch under the peak unit outlined", folder / name)
        layers.append({"layer": row.layer, "file": name, "channels": len(top),
                       "shown": len(shown), "receptive_field": row.receptive_field,
                       "top": entries})
    index = {"dataset": dataset, "arch": arch, "test_size": len(x), "layers": layers}
    write_json(folder / TOP_IMAGES.index, index)
    log.info("%s: top images of %d convolutions", arch, len(layers))
    return index


def optimal_inputs(*, dataset: str, arch: str, threads: int, seed: int, steps: int,
                   total_variation: float, npz_path: Path | str, record_path: Path | str,
                   model_path: Path | str, json_path: Path | str, png_path: Path | str,
                   device_preference: str = "auto") -> dict[str, Any]:
    """The input that maximises the centre unit of each channel of the first two convolutions,
    inside an L2 ball the size of a typical test image (the median norm of the normalised test
    images). The first convolution is linear in its input, so its optimum is found without a
    regulariser and checked against its kernels; the second uses total variation."""
    use_threads(threads)
    device = select_device(device_preference)
    data = datasets.load_prepared(npz_path, record_path)
    x, _ = to_device(data.test, data.mean, data.std, device)
    radius = float(x.flatten(1).norm(dim=1).median())
    model = load_trained_model(arch, model_path, len(data.classes), device).float().eval()
    graph = receptive_field.trace(model)
    size = x.shape[-1]
    convolutions = receptive_field.convolution_rows(model, size, graph)[:2]
    layers, panels = [], []
    for number, row in enumerate(convolutions):
        convolution = model.get_submodule(row.layer)
        ascent = optimal.Ascent(steps=steps, radius=radius, seed=seed,
                                total_variation=0.0 if number == 0 else total_variation)
        optima, activation = optimal.maximise(receptive_field.truncate(graph, row.layer),
                                              convolution.out_channels, tuple(x.shape[1:]), ascent)
        box = effective_field.centre_box(row, size)
        entry = {"layer": row.layer, "channels": convolution.out_channels,
                 "receptive_field": row.receptive_field, "total_variation": ascent.total_variation,
                 "activation": activation.tolist(), "box": box.corners()}
        note = f"{row.receptive_field}-pixel field"
        if number == 0 and convolution.kernel_size[0] == row.receptive_field:
            cosine = optimal.cosine_to_kernels(optima, convolution, tuple(box.corners()))
            entry["cosine_to_kernel"] = cosine.tolist()
            note += f", no regulariser; cosine to its kernel {cosine.min():.4f} at the least"
        else:
            note += f", total variation weight {ascent.total_variation:g}"
        layers.append(entry)
        crop = box.grown(max(1, row.receptive_field // 4), size)
        panels.append({"name": row.layer, "note": note, "images": optima.sum(1)[
            :, crop.top:crop.bottom + 1, crop.left:crop.right + 1].cpu().numpy()})
    record = {"dataset": dataset, "arch": arch, "radius": radius, "steps": steps, "layers": layers}
    write_json(json_path, record)
    figures.plot_optimal_inputs(
        panels, f"{arch} on {dataset}: the input that drives each channel's centre unit highest "
        f"(L2 norm {radius:.1f}, a typical test image's), around the unit's field", png_path)
    log.info("%s: optimal inputs of %s", arch, ", ".join(entry["layer"] for entry in layers))
    return record

"""Steps of workflow/rules/units.smk: what the units of a convolutional model respond to."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from cnnlab import datasets
from cnnlab.analysis import effective_field
from cnnlab.analysis.receptive_field import ReceptiveFieldError
from cnnlab.device import seed_everything, select_device, to_device, use_threads
from cnnlab.inference import load_trained_model
from cnnlab.io import write_csv
from cnnlab.models import create_model
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
    sample = np.sort(np.random.default_rng(seed).permutation(len(data.test.labels))[:images])
    x, _ = to_device(datasets.Split(data.test.images[sample], data.test.labels[sample]),
                     data.mean, data.std, device)
    trained = load_trained_model(arch, model_path, len(data.classes), device).float()
    seed_everything(training_seed)  # the trainer seeds the same way: its starting point
    initial = create_model(arch, num_classes=len(data.classes)).to(device)
    results = [*effective_field.measure(initial, x, "init"),
               *effective_field.measure(trained, x, "trained")]
    leaking = [f"{r['layer']} ({r['state']})" for r in results if r["outside_mass"] > 0]
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

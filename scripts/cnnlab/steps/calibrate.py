"""Step of rule calibrate (workflow/rules/evaluate.smk): whether a trained model's confidence
can be trusted, worked out from the test and validation logits its train job saved. Imports no
torch and loads neither the model nor the images, so the job starts in about a second."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from cnnlab.analysis import calibration
from cnnlab.io import read_json, write_json
from cnnlab.models import model_spec
from cnnlab.plotting import calibration as figures
from cnnlab.predictions import load_logits

log = logging.getLogger("cnnlab")


def calibrate_model(*, dataset: str, arch: str, logits_path: Path | str,
                    train_record_path: Path | str, json_path: Path | str,
                    png_path: Path | str) -> dict[str, Any]:
    """Calibration of one trained model on the test split, before and after temperature
    scaling; the temperature is fitted on the validation split (never on the test split), and
    left at 1 where there is no validation split."""
    arrays = load_logits(logits_path)
    seed = read_json(train_record_path)["seed"]
    test_logits, test_labels = arrays["test_logits"], arrays["test_labels"]
    val_logits, val_labels = arrays["validation_logits"], arrays["validation_labels"]
    fitted = len(val_labels) > 0
    temperature = 1.0
    validation = {}
    if fitted:
        temperature = calibration.fit_temperature(val_logits, val_labels)
        validation = {"nll_before": calibration.calibration(val_logits, val_labels).nll,
                      "nll_after": calibration.calibration(val_logits, val_labels, temperature).nll,
                      "size": int(len(val_labels))}
    before = calibration.calibration(test_logits, test_labels)
    after = calibration.calibration(test_logits, test_labels, temperature)
    record = {"dataset": dataset, "arch": arch, "seed": seed,
              "batch_norm": model_spec(arch).has_batch_norm, "bins": calibration.BINS,
              "test_size": int(len(test_labels)), "temperature": temperature,
              "temperature_fitted": fitted, "validation": validation,
              "before": before.as_dict(), "after": after.as_dict()}
    write_json(json_path, record)
    log.info("%s on %s: ECE %.4f -> %.4f with T = %.3f", arch, dataset, before.ece, after.ece,
             temperature)
    figures.plot_reliability(
        before, after, temperature, fitted,
        f"{arch} on {dataset}, seed {seed}: confidence against accuracy on the test split",
        png_path)
    return record

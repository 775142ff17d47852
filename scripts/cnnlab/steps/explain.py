"""Steps of workflow/rules/explain.smk: why a model decides as it does, and whether its
confidence can be trusted (calibration)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from torch import nn

from cnnlab import datasets, device, inference
from cnnlab.analysis import calibration
from cnnlab.io import write_json
from cnnlab.plotting import calibration as figures

log = logging.getLogger("cnnlab")


def has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def calibrate_model(*, dataset: str, arch: str, threads: int, npz_path: Path | str,
                    record_path: Path | str, model_path: Path | str,
                    train_record_path: Path | str, json_path: Path | str, png_path: Path | str,
                    batch_size: int, device_preference: str = "auto") -> dict[str, Any]:
    """Calibration of one trained model on the test split, before and after temperature
    scaling; the temperature is fitted on the validation split (never on the test split), and
    left at 1 where there is no validation split."""
    device.use_threads(threads)
    data = datasets.load_prepared(npz_path, record_path)
    trained = inference.load_run(arch, data, model_path, train_record_path,
                                 device.select_device(device_preference))
    train_record = trained.record
    test_logits, test_labels = trained.logits(data.test, batch_size)
    fitted = data.validation is not None and len(data.validation.labels) > 0
    temperature = 1.0
    validation = {}
    if fitted:
        val_logits, val_labels = trained.logits(data.validation, batch_size)
        temperature = calibration.fit_temperature(val_logits, val_labels)
        validation = {"nll_before": calibration.calibration(val_logits, val_labels).nll,
                      "nll_after": calibration.calibration(val_logits, val_labels, temperature).nll,
                      "size": int(len(val_labels))}
    before = calibration.calibration(test_logits, test_labels)
    after = calibration.calibration(test_logits, test_labels, temperature)
    record = {"dataset": dataset, "arch": arch, "seed": train_record["seed"],
              "batch_norm": has_batch_norm(trained.model), "bins": calibration.BINS,
              "test_size": int(len(test_labels)), "temperature": temperature,
              "temperature_fitted": fitted, "validation": validation,
              "before": before.as_dict(), "after": after.as_dict()}
    write_json(json_path, record)
    log.info("%s on %s: ECE %.4f -> %.4f with T = %.3f", arch, dataset, before.ece, after.ece,
             temperature)
    figures.plot_reliability(
        before, after, temperature, fitted,
        f"{arch} on {dataset}, seed {train_record['seed']}: confidence against accuracy on the "
        f"test split", png_path)
    return record

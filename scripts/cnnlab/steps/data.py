"""Steps of workflow/rules/data.smk: prepare a published dataset, derive one from it."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cnnlab import datasets
from cnnlab.datasets import derived
from cnnlab.io import read_json

log = logging.getLogger("cnnlab")


def prepare_data(
    dataset: str,
    *,
    project_dir: Path | str,
    env_data_path: str | None,
    search_path: Sequence[str],
    download: bool,
    verify_checksums: bool,
    train_limit: int | None,
    test_limit: int | None,
    validation_size: int | str,
    seed: int,
    npz_path: Path | str,
    record_path: Path | str,
) -> dict[str, Any]:
    """Find, parse and verify ``dataset`` and write the cached artifact and its record."""
    started = time.perf_counter()
    dirs = datasets.data_search_path(project_dir, env_data_path, search_path)
    log.info("searching for %s in: %s", dataset, ", ".join(map(str, dirs)))
    raw = datasets.acquire_dataset(
        dataset, dirs, download_root=Path(project_dir) / "data" / "raw",
        allow_download=download, verify=verify_checksums,
    )
    log.info("using %s from %s", dataset, raw.source.get("folder"))
    arrays, record = datasets.prepare_dataset(
        raw, train_limit=train_limit, test_limit=test_limit, seed=seed,
        validation_size=validation_size,
    )
    record["checksums_verified"] = verify_checksums
    record["seconds"] = time.perf_counter() - started
    record = datasets.save_prepared(arrays, record, Path(npz_path), Path(record_path))
    log.info("wrote %s: %d train, %d validation, %d test images; mean %s std %s", npz_path,
             record["train_size"], record["validation_size"], record["test_size"],
             record["normalization"]["mean"],
             record["normalization"]["std"])
    return record


def _load_arrays(npz_path: Path | str) -> dict[str, np.ndarray]:
    # Every array, including a derived set's own extras (the permutation, subset indices).
    with np.load(npz_path, allow_pickle=False) as arrays:
        return {key: arrays[key] for key in arrays.files}


def derive_dataset(*, name: str, npz_path: Path | str, record_path: Path | str, seed: int,
                   out_npz: Path | str, out_record: Path | str) -> dict[str, Any]:
    """Write the derived dataset ``name`` (``<base>_permuted`` or ``<base>_subset_<fraction>``)."""
    _, derivation, fraction = datasets.split_dataset_name(name)
    arrays, record = _load_arrays(npz_path), read_json(record_path)
    if derivation == "permuted":
        arrays, record = derived.permuted_dataset(arrays, record, seed)
    elif derivation == "subset" and fraction is not None and 0 < fraction <= 1:
        arrays, record = derived.subset_dataset(arrays, record, fraction, seed)
    else:
        raise ValueError(f"{name!r} names no derived dataset (expected <base>_permuted or "
                         f"<base>_subset_<fraction in (0, 1]>)")
    record["dataset"] = name
    record = datasets.save_prepared(arrays, record, Path(out_npz), Path(out_record))
    log.info("wrote %s: %s, %d training images", name, record["derived"], record["train_size"])
    return record

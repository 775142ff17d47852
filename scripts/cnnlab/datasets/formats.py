"""The datasets' own file formats, parsed with numpy alone: IDX (MNIST, Fashion-MNIST) and
CIFAR-10's pickled batches (extracted, or inside the .tar.gz archive).

Every failure names the file, what was expected and what was found.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnlab.datasets.catalog import (
    CIFAR_ARCHIVE,
    CIFAR_TEST_BATCH,
    CIFAR_TRAIN_BATCHES,
    DataError,
    DatasetInfo,
    cifar_md5,
    dataset_info,
)
from cnnlab.io import file_sha256


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


def read_bytes(path: Path) -> bytes:
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


def sha256_record(path: Path) -> dict[str, object]:
    """Name, resolved path, size and SHA-256 of a source file, for the provenance record."""
    return {"file": path.name, "path": str(path.resolve()), "bytes": path.stat().st_size,
            "sha256": file_sha256(path)}


def _check_labels(path: Path | str, labels: np.ndarray, num_classes: int) -> None:
    if labels.size and int(labels.max()) >= num_classes:
        raise DataError(
            f"{path}: label {int(labels.max())} is out of range: expected labels 0..{num_classes - 1}"
        )


def find_file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_idx_folder(info: DatasetInfo, folder: Path, *, verify: bool) -> RawDataset:
    """Parse the four IDX files of ``info`` found in ``folder``."""
    arrays: dict[str, np.ndarray] = {}
    records = []
    for role, file_name in info.files.items():
        path = find_file(folder, file_name)
        if path is None:
            raise DataError(f"{folder}: missing {file_name} (or {file_name}.gz)")
        content = read_bytes(path)
        _check_md5(path, content, info.md5.get(file_name) if verify else None)
        arrays[role] = parse_idx(content, path=path, ndim=3 if role.endswith("images") else 1)
        records.append(sha256_record(path))
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
            contents[n] = (str(folder / n), read_bytes(folder / n))
            records.append(sha256_record(folder / n))
    else:
        archive = folder / CIFAR_ARCHIVE
        records.append(sha256_record(archive))
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

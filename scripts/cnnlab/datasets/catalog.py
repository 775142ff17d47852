"""The datasets cnnlab knows: names, files, classes, shapes and published checksums, and the
names of the datasets derived from them. Plain data: importing it costs nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping


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


# data.validation_size "auto": one twelfth of the training split, 5,000 images of MNIST's 60,000.
AUTO_VALIDATION_SHARE = 12


def validation_count(setting: int | str, train_size: int) -> int:
    """The number of validation images ``setting`` (a count, or ``"auto"``) takes."""
    count = train_size // AUTO_VALIDATION_SHARE if setting == "auto" else int(setting)
    if not 0 <= count < train_size:
        raise DataError(f"data.validation_size is {count} but the training split holds "
                        f"{train_size} images: choose fewer (0 turns the validation split off)")
    return count


def fraction_text(fraction: float) -> str:
    """``fraction`` as it appears in a dataset name: positional, never exponent notation, and
    the shortest text that reads back as the same float (so names round-trip and never collide).
    """
    # repr is the shortest round-tripping text; Decimal rewrites its exponent form positionally.
    return format(Decimal(repr(float(fraction))), "f")


def subset_dataset_name(base: str, fraction: float) -> str:
    """The dataset of a training fraction: ``<base>_subset_<fraction>``, or ``base`` for 1.0."""
    return base if fraction >= 1 else f"{base}{SUBSET_INFIX}{fraction_text(fraction)}"


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

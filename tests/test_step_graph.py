"""Whole-step CUDA graphs: the same training as the eager steps, on a GPU; inert on the CPU."""

from __future__ import annotations

import pytest
import torch
from cnnlab import training as t
from cnnlab.models import create_model
from cnnlab.step_graph import WARMUP_STEPS
from test_training import tiny_data

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


# 256 training images in batches of 48: five full batches and a last one of 16 per epoch.
BATCH_SIZE = 48
FULL_BATCHES = 5


def fit(device: str, arch: str = "digitcnn", augment: bool = False,
        **settings) -> tuple[torch.nn.Module, t.FitResult]:
    torch.manual_seed(0)
    model = create_model(arch, num_classes=2)
    recipe = t.TrainSettings(**{"epochs": 2, "batch_size": BATCH_SIZE, **settings})
    result = t.fit(model, tiny_data(), recipe, seed=0, device=torch.device(device), augment=augment)
    return model, result


def test_on_the_cpu_the_switch_changes_nothing() -> None:
    on, with_graphs = fit("cpu", cuda_graphs=True)
    off, without = fit("cpu", cuda_graphs=False)
    assert with_graphs.graphed_steps == without.graphed_steps == 0
    timing = ("seconds", "images_per_second")
    assert ([{k: v for k, v in row.items() if k not in timing} for row in with_graphs.history]
            == [{k: v for k, v in row.items() if k not in timing} for row in without.history])
    assert all(torch.equal(value, off.state_dict()[name]) for name, value in on.state_dict().items())


def test_adam_is_made_capturable_only_when_asked() -> None:
    model = create_model("logreg", num_classes=2)
    for name in ("adam", "adamw"):
        recipe = t.TrainSettings(optimizer=name)
        assert t.make_optimizer(model, recipe, capturable=True).param_groups[0]["capturable"]
        assert not t.make_optimizer(model, recipe).param_groups[0]["capturable"]


@needs_cuda
@pytest.mark.parametrize("arch,settings", [
    ("digitcnn", {}),
    ("simplecnn_bn", {"optimizer": "adamw", "weight_decay": 0.01, "schedule": "cosine", "epochs": 3}),
    ("lenet5", {"optimizer": "sgd", "lr": 0.01, "schedule": "step", "step_size": 1, "gamma": 0.5}),
    ("mlp", {"bf16": True}),
    ("digitcnn_gap", {"augment": True}),
])
def test_graphed_training_equals_eager_training(arch: str, settings: dict) -> None:
    graphed, with_graphs = fit("cuda", arch, cuda_graphs=True, **settings)
    eager, without = fit("cuda", arch, cuda_graphs=False, **settings)
    assert without.graphed_steps == 0
    # Every full batch but the three eager warm-up steps is a replay; the last batches run eagerly.
    assert with_graphs.graphed_steps == FULL_BATCHES * len(with_graphs.history) - WARMUP_STEPS
    for a, b in zip(with_graphs.history, without.history, strict=True):
        for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key
    for name, value in graphed.state_dict().items():
        torch.testing.assert_close(value, eager.state_dict()[name], rtol=1e-4, atol=1e-5, msg=name)

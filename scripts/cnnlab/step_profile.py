"""Where a training step's time goes: the trainer's own steps under torch.profiler, each
operator's time filed under what it does, and the rate its convolutions and matrix products
reach (to set beside the floor's matrix-product rate, :mod:`cnnlab.bench`).

On the CPU an operator's time is the host's; on a GPU it is the device time of the kernels
the operator launched, in eager steps: a replayed CUDA graph runs the same kernels, but the
profiler cannot tell which operator recorded each of them.
"""

from __future__ import annotations

from typing import Any, Iterable

import torch
from torch.autograd.profiler_util import FunctionEventAvg

from cnnlab import datasets, training
from cnnlab.analysis.layers import LayerRow, layer_table
from cnnlab.device import seed_everything
from cnnlab.models import create_model

# Kinds of work in the order they are tested, each by the exact operator names it takes and
# the fragments of a (lower-cased) name it takes; an operator that matches none is "other"
# (copies, fills, the loss, dropout, indexing, the autograd engine's own bookkeeping). The
# matrix products are named exactly: "mm" is a fragment of unrelated names.
OP_KINDS: tuple[tuple[str, frozenset[str], tuple[str, ...]], ...] = (
    ("convolutions", frozenset(), ("convolution",)),
    ("matrix products", frozenset({"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}), ()),
    ("pooling", frozenset(), ("pool",)),
    ("activations", frozenset(), ("relu", "clamp_min", "threshold_backward", "tanh", "sigmoid")),
    ("batch norm", frozenset(), ("batch_norm",)),
    ("optimiser", frozenset(), ("adam", "sgd", "optimizer.")),
)
OTHER = "other"
KINDS = (*[kind for kind, _, _ in OP_KINDS], OTHER)
# The layers whose arithmetic each kind does, for its achieved rate.
RATE_LAYERS = {"convolutions": ("Conv2d",), "matrix products": ("Linear",)}


def op_kind(name: str) -> str:
    """The kind of work a profiled operator (``aten::mkldnn_convolution``, ...) does."""
    lowered = name.lower()
    for kind, names, fragments in OP_KINDS:
        if lowered in names or any(fragment in lowered for fragment in fragments):
            return kind
    return OTHER


def milliseconds_by_kind(events: Iterable[FunctionEventAvg], device_type: str,
                         steps: int) -> dict[str, float]:
    """Each kind's milliseconds per step from the profiler's averaged events.

    CPU: every event's own host time. GPU: the operators' own device time, which is that of
    the kernels each launched; the kernels' own rows and the optimiser's annotation, whose
    device time spans the same kernels again, are left out.
    """
    milliseconds = dict.fromkeys(KINDS, 0.0)
    for event in events:
        if device_type == "cpu":
            microseconds = event.self_cpu_time_total
        elif event.key.startswith("aten::"):
            microseconds = event.self_device_time_total
        else:
            continue
        milliseconds[op_kind(event.key)] += microseconds / 1e3 / steps
    return milliseconds


def training_flop_by_layer_type(rows: list[LayerRow], batch_size: int) -> dict[str, float]:
    """FLOP of one training step per layer type: the forward pass's mult-adds (2 FLOP each),
    the weight gradient's as many, and the input gradient's as many again except for the first
    layer with weights, whose input (the images) needs none."""
    flop: dict[str, float] = {}
    first = True
    for row in rows:
        if row.mult_adds == 0:
            continue
        passes = 2 if first else 3
        first = False
        flop[row.type] = flop.get(row.type, 0.0) + passes * 2 * row.mult_adds * batch_size
    return flop


def step_breakdown(arch: str, data: datasets.PreparedData, device: torch.device, *,
                   steps: int = 60, seed: int = 0, **settings: Any) -> dict[str, Any]:
    """Run the trainer (:func:`cnnlab.training.fit`) for three epochs of ``steps`` steps: the
    first to warm up (oneDNN and cuDNN choose their kernels on first use), the second timed,
    the third under torch.profiler, each operator's own time filed under its kind (on a GPU
    in eager steps, see the module's docstring). Returns milliseconds per step by kind, each
    kind's share of the profiled time, and the GFLOP/s the convolutions and matrix products
    reach."""
    if device.type == "cuda":
        settings = {**settings, "cuda_graphs": False}
    recipe = training.TrainSettings(epochs=3, **settings)
    images = min(len(data.train.labels), steps * recipe.batch_size)
    steps = -(-images // recipe.batch_size)
    train = datasets.Split(data.train.images[:images], data.train.labels[:images])
    # No validation split: the profiled epoch holds training steps only.
    subset = datasets.PreparedData(train, data.test, data.classes, data.mean, data.std, data.record)
    seed_everything(seed)
    model = create_model(arch, num_classes=len(data.classes))
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    profiler = torch.profiler.profile(activities=activities)
    profiling: list[bool] = []

    def profile_the_last_epoch(row: dict[str, float]) -> None:
        if row["epoch"] == recipe.epochs - 1:
            profiler.start()
            profiling.append(True)

    try:
        result = training.fit(model, subset, recipe, seed=seed, device=device, augment=False,
                              on_epoch=profile_the_last_epoch)
    finally:
        if profiling:
            profiler.stop()
    milliseconds = milliseconds_by_kind(profiler.key_averages(), device.type, steps)
    profiled = sum(milliseconds.values())
    rows = layer_table(create_model(arch, num_classes=len(data.classes)),
                       tuple(data.train.images.shape[1:]))
    flop = training_flop_by_layer_type(rows, recipe.batch_size)
    rates = {kind: sum(flop.get(t, 0.0) for t in types) / (milliseconds[kind] * 1e6)
             for kind, types in RATE_LAYERS.items() if milliseconds[kind] > 0}
    return {"steps": steps, "batch_size": recipe.batch_size, "device": device.type,
            "step_milliseconds": 1e3 * result.history[-2]["seconds"] / steps,
            "profiled_milliseconds": profiled, "milliseconds": milliseconds,
            "share": {kind: ms / profiled for kind, ms in milliseconds.items()},
            "gflops": rates}

"""One trainer for every model: data held as tensors on the device, seeded, resumable.

In the spirit of airbench: the whole split is normalised once and kept on the device; each
step slices a shuffled index, augments the batch there, and the loss and accuracy are
accumulated on the device so that no step waits on the host.
"""

from __future__ import annotations

import io
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, TextIO

import torch
from torch import nn

from cnnlab.analysis.weights import WeightTrajectory
from cnnlab.augmentation import crop_flip
from cnnlab.datasets import PreparedData
from cnnlab.device import autocast, configure_determinism, to_device, use_bf16
from cnnlab.inference import EVAL_BATCH_SIZE, evaluate_loss_accuracy
from cnnlab.io import atomic_write_bytes, write_csv
from cnnlab.step_graph import StepGraph

# Divergence is checked every this many steps: often enough to stop a NaN run within
# seconds, rarely enough that the device never waits on the host in between.
DIVERGENCE_CHECK_STEPS = 50


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message says when and what to change."""


@dataclass(frozen=True)
class TrainSettings:
    """A training recipe, as the config's ``training.<arch>`` gives it."""

    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 64
    epochs: int = 3
    validate_every: int | str = "auto"
    schedule: str = "none"
    step_size: int = 20
    gamma: float = 0.1
    augment: str = "auto"
    channels_last: bool = True
    bf16: bool | str = "auto"
    deterministic: bool = True
    compile: bool | str = False
    cuda_graphs: bool = True

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "TrainSettings":
        known = {k: values[k] for k in cls.__dataclass_fields__ if k in values}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(unknown)}")
        return cls(**known)


def validation_interval(setting: int | str, train_size: int, validation_size: int) -> int:
    """Epochs between scores on the validation split (``validate_every``).

    ``auto``: every epoch, or as many epochs as it takes to train on as many images as the
    validation split holds, whichever is longer, so that scoring never costs more passes than
    training. A run on 1% of MNIST (550 images) against its 5,000 validation images would
    otherwise spend most of its time scoring.
    """
    if setting == "auto":
        return max(1, math.ceil(validation_size / max(train_size, 1)))
    if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
        raise ValueError(f"validate_every is {setting!r}; use auto or a whole number of epochs >= 1")
    return setting


def settings_dict(s: TrainSettings) -> dict[str, Any]:
    """The recipe as a plain dict (for JSON records)."""
    return asdict(s)


# ``compile`` values and the torch.compile mode each selects (True: inductor's default mode).
# reduce-overhead replays the forward and backward passes as CUDA graphs: for small models on a
# GPU the step is bound by kernel launches, not arithmetic. On the CPU it compiles as default.
COMPILE_MODES: dict[bool | str, str] = {True: "default", "reduce-overhead": "reduce-overhead"}


def compiled_forward(model: nn.Module, setting: bool | str) -> nn.Module:
    """``model`` itself, or a torch.compile wrapper sharing its parameters, as ``setting`` says."""
    if setting is False:
        return model
    if setting not in COMPILE_MODES:
        raise ValueError(f"unknown compile setting {setting!r}; use false, true or reduce-overhead")
    # dynamic=False: an epoch has two batch shapes (full and last); two specialised graphs are
    # cheaper than one graph with a symbolic batch size.
    return torch.compile(model, mode=COMPILE_MODES[setting], dynamic=False)


def make_optimizer(model: nn.Module, s: TrainSettings, capturable: bool = False) -> torch.optim.Optimizer:
    """The optimiser a recipe names; ``capturable`` lets a CUDA graph record Adam's update."""
    params = list(model.parameters())
    # One fused kernel per step instead of a loop of small ops per parameter tensor (on the CPU
    # the per-tensor Adam loop was 17% of a DigitCNN step).
    fused = {"fused": True} if params and params[0].device.type in ("cpu", "cuda") else {}
    if s.optimizer == "sgd":
        return torch.optim.SGD(params, lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay,
                               **fused)
    if s.optimizer == "adam":
        return torch.optim.Adam(params, lr=s.lr, weight_decay=s.weight_decay, capturable=capturable,
                                **fused)
    if s.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay, capturable=capturable,
                                 **fused)
    raise ValueError(f"unknown optimizer {s.optimizer!r}; use sgd, adam or adamw")


def make_scheduler(opt: torch.optim.Optimizer, s: TrainSettings) -> torch.optim.lr_scheduler.LRScheduler:
    """The per-epoch learning-rate schedule a recipe names (constant for ``none``)."""
    if s.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s.epochs)
    if s.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=s.step_size, gamma=s.gamma)
    if s.schedule == "none":
        return torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=_constant)
    raise ValueError(f"unknown schedule {s.schedule!r}; use none, cosine or step")


def _constant(epoch: int) -> float:
    return 1.0


def atomic_torch_save(obj: object, path: Path) -> None:
    """torch.save ``obj`` to ``path`` atomically (:func:`cnnlab.io.atomic_write_bytes`)."""
    # Through a buffer: torch.save names the zip's folder after the file it writes to, which
    # would put a temporary name (and so the pid) into the bytes of every model file.
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


@dataclass
class FitResult:
    """What :func:`fit` leaves behind besides the trained weights."""

    history: list[dict[str, float]]
    resumed_from_epoch: int
    wall_seconds: float
    device: str
    bf16: bool = False
    trajectory: WeightTrajectory | None = None
    # Steps replayed as CUDA graphs (0 on the CPU or with cuda_graphs off).
    graphed_steps: int = 0


def fit(
    model: nn.Module,
    data: PreparedData,
    settings: TrainSettings,
    *,
    seed: int,
    device: torch.device,
    augment: bool,
    checkpoint_path: Path | None = None,
    run_fingerprint: str = "",
    eval_batch_size: int = EVAL_BATCH_SIZE,
    progress: TextIO | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> FitResult:
    """Train ``model`` in place and return its per-epoch history.

    Randomness of epoch ``e`` (shuffle, augmentation, dropout) derives from ``(seed, e)``
    alone, so a run resumed from the checkpoint of epoch ``e - 1`` continues exactly as an
    uninterrupted run would. The checkpoint is written atomically after every epoch and is
    used only if its fingerprint equals ``run_fingerprint``.
    """
    from tqdm import tqdm

    start = time.perf_counter()
    configure_determinism(settings.deterministic, device)
    bf16 = use_bf16(settings.bf16, device)
    memory_format = torch.channels_last if settings.channels_last else torch.contiguous_format
    model.to(device, memory_format=memory_format)
    x_train, y_train = to_device(data.train, data.mean, data.std, device, memory_format)
    # The test split is never touched here: it is scored once, on the final model, after fit
    # returns (steps.train.evaluate_model). Epochs are scored on the held-out validation split.
    validation = (to_device(data.validation, data.mean, data.std, device, memory_format)
                  if data.validation is not None and len(data.validation.labels) else None)
    fill = (-torch.tensor(data.mean) / torch.tensor(data.std)).to(device)
    # The compiled wrapper shares the model's parameters: checkpoints and the saved state dict
    # come from ``model`` itself, so they carry no wrapper prefix.
    forward = compiled_forward(model, settings.compile)
    compiled_graphs = settings.compile == "reduce-overhead" and device.type == "cuda"
    # torch.compile's reduce-overhead mode makes its own graphs of the forward and backward.
    whole_step_graphs = settings.cuda_graphs and device.type == "cuda" and not compiled_graphs
    optimizer = make_optimizer(model, settings, capturable=whole_step_graphs)
    scheduler = make_scheduler(optimizer, settings)
    history: list[dict[str, float]] = []
    trajectory = WeightTrajectory(model)
    first_epoch = 0
    state = _read_checkpoint(checkpoint_path, device, progress)
    if state is not None:
        if state.get("fingerprint") == run_fingerprint:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            history = list(state["history"])
            trajectory.load_state_dict(state["trajectory"])
            first_epoch = int(state["epoch"])
            if progress is not None:
                print(f"resuming from the checkpoint of epoch {first_epoch}: {checkpoint_path}",
                      file=progress, flush=True)
    if first_epoch == 0:
        trajectory.record(model, 0)
    n = len(y_train)
    steps = math.ceil(n / settings.batch_size)
    every = validation_interval(settings.validate_every, n,
                                len(validation[1]) if validation is not None else 0)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)

    def train_step(xb: torch.Tensor, yb: torch.Tensor) -> None:
        # Autocast's weight cache cannot outlive a graph capture; each weight is cast once per
        # step anyway.
        with autocast(device, bf16, cache=not whole_step_graphs):
            logits = forward(xb)
            loss = nn.functional.cross_entropy(logits.float(), yb)
        loss.backward()
        optimizer.step()
        loss_sum.add_(loss.detach() * len(yb))
        correct.add_((logits.detach().argmax(1) == yb).sum())

    def zero_grad() -> None:
        optimizer.zero_grad(set_to_none=True)

    graph = StepGraph(train_step, zero_grad, settings.batch_size) if whole_step_graphs else None
    model.train()
    for epoch in range(first_epoch, settings.epochs):
        epoch_seed = seed * 1_000_003 + epoch
        torch.manual_seed(epoch_seed)  # dropout and any other draw from the global generator
        generator = torch.Generator().manual_seed(epoch_seed)
        order = torch.randperm(n, generator=generator).to(device)
        lr = optimizer.param_groups[0]["lr"]
        loss_sum.zero_()
        correct.zero_()
        if graph is not None:
            graph.new_epoch()
        epoch_start = time.perf_counter()
        bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{settings.epochs}", file=progress,
                   disable=progress is None, mininterval=2.0, ascii=True)
        for step in range(steps):
            index = order[step * settings.batch_size:(step + 1) * settings.batch_size]
            xb, yb = x_train[index], y_train[index]
            if augment:
                xb = crop_flip(xb, generator, fill=fill)
            if graph is None or not graph.run(xb, yb):
                if compiled_graphs:  # a new step: the graphs may overwrite the last one's outputs
                    torch.compiler.cudagraph_mark_step_begin()
                zero_grad()
                train_step(xb, yb)
            if step % DIVERGENCE_CHECK_STEPS == 0 or step == steps - 1:
                _check_finite(loss_sum, epoch, step, settings)
            bar.update(1)
        bar.close()
        train_seconds = time.perf_counter() - epoch_start
        scheduler.step()
        val_loss = val_acc = math.nan
        # The last epoch is always scored: it is the model every later step reads.
        if validation is not None and ((epoch + 1) % every == 0 or epoch + 1 == settings.epochs):
            with autocast(device, bf16):
                val_loss, val_acc = evaluate_loss_accuracy(model, *validation, eval_batch_size)
        row = {
            "epoch": epoch + 1,
            "train_loss": loss_sum.item() / n,
            "train_acc": correct.item() / n,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": lr,
            "seconds": train_seconds,
            "images_per_second": n / train_seconds,
        }
        history.append(row)
        trajectory.record(model, epoch + 1)
        if progress is not None:
            print(
                f"epoch {epoch + 1}: train_loss={row['train_loss']:.4f} "
                f"train_acc={row['train_acc']:.4f} val_loss={val_loss:.4f} "
                f"val_acc={val_acc:.4f} lr={lr:.3g} {train_seconds:.1f}s "
                f"({row['images_per_second']:.0f} img/s)",
                file=progress, flush=True,
            )
        if on_epoch is not None:
            on_epoch(row)
        if checkpoint_path is not None:
            atomic_torch_save(
                {
                    "fingerprint": run_fingerprint,
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "history": history,
                    "trajectory": trajectory.state_dict(),
                },
                checkpoint_path,
            )
    return FitResult(history, first_epoch, time.perf_counter() - start, str(device), bf16,
                     trajectory, graph.replays if graph is not None else 0)


def _read_checkpoint(path: Path | None, device: torch.device,
                     progress: TextIO | None) -> dict[str, Any] | None:
    """The checkpoint at ``path``, or None when there is none or it cannot be read.

    An unreadable checkpoint (a damaged disk; it is written atomically, so not a crash) is
    moved aside and training starts over: it costs time, never a wrong model.
    """
    if path is None or not path.is_file():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        if not isinstance(state, dict):
            raise TypeError(f"holds a {type(state).__name__}, not a checkpoint")
        return state
    except Exception as exc:  # damaged zip, truncated file, hostile pickle
        aside = path.with_name(path.name + ".unreadable")
        os.replace(path, aside)
        if progress is not None:
            print(f"checkpoint {path} is unreadable ({type(exc).__name__}: {exc}); moved to "
                  f"{aside}, training from the start", file=progress, flush=True)
        return None


def _check_finite(loss_sum: torch.Tensor, epoch: int, step: int, s: TrainSettings) -> None:
    if not torch.isfinite(loss_sum).item():
        raise TrainingDiverged(
            f"training diverged in epoch {epoch + 1} by step {step + 1}: the loss is "
            f"{loss_sum.item()}. The last completed epoch's checkpoint is kept. Lower the "
            f"learning rate (now {s.lr:g} with {s.optimizer}) or the batch size, or add a schedule."
        )


# val_*: the validation split held out of training (nan when data.validation_size is 0).
HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds",
                   "images_per_second"]


def save_history(history: list[dict[str, float]], path: Path) -> None:
    """Write the per-epoch history as CSV."""
    write_csv(path, history, HISTORY_COLUMNS)

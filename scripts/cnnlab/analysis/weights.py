"""How far training moved each learned layer's weights from where they started: the relative
change ||W_trained - W_init|| / ||W_init|| per layer (Frobenius norms) and the distributions of
the weights before and after."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

LEARNED = (nn.Conv2d, nn.Linear)


def learned_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weight tensor (no bias) of every convolution and linear layer, by module name."""
    return {name: module.weight.detach().float().cpu() for name, module in model.named_modules()
            if isinstance(module, LEARNED)}


def relative_change(start: torch.Tensor, end: torch.Tensor) -> float:
    """||end - start|| / ||start|| (Frobenius norms)."""
    return float((end - start).norm() / start.norm())


def weight_changes(initial: nn.Module, trained: nn.Module) -> list[dict[str, Any]]:
    """Per learned layer of two copies of one architecture: its size, both norms, the relative
    change and both standard deviations."""
    before, after = learned_weights(initial), learned_weights(trained)
    if list(before) != list(after):
        raise ValueError("the two models do not have the same learned layers")
    rows = []
    for name, start in before.items():
        end = after[name]
        rows.append({
            "layer": name, "type": type(initial.get_submodule(name)).__name__,
            "weights": int(start.numel()), "norm_init": float(start.norm()),
            "norm_trained": float(end.norm()),
            "relative_change": relative_change(start, end),
            "std_init": float(start.std()), "std_trained": float(end.std()),
        })
    return rows


def histogram_pair(start: torch.Tensor, end: torch.Tensor, bins: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of the initial and the trained weights over shared bins spanning both, and the
    bin edges; by default about the square root of the layer's size in bins, from 10 to 60
    (a first layer's 144 weights would scatter over 60)."""
    both = torch.cat([start.flatten(), end.flatten()]).numpy()
    if bins is None:
        bins = int(np.clip(round(np.sqrt(start.numel())), 10, 60))
    edges = np.histogram_bin_edges(both, bins=bins)
    return (np.histogram(start.numpy(), edges)[0], np.histogram(end.numpy(), edges)[0], edges)


class WeightTrajectory:
    """What a training run did to its weights, epoch by epoch (epoch 0 is the initialisation):
    every learned layer's relative change from its initial weights, and the first convolution's
    kernels (a few hundred numbers per epoch, kept outside the checkpoints' weights).

    The initial weights are held on the host, so recording an epoch costs one copy of the
    weights and no pass over the data.
    """

    def __init__(self, model: nn.Module) -> None:
        # Copies: on the CPU, learned_weights gives the live parameters themselves.
        self.initial = {name: weight.clone() for name, weight in learned_weights(model).items()}
        self.layers = list(self.initial)
        self.kernel_layer = next((name for name, module in model.named_modules()
                                  if isinstance(module, nn.Conv2d)), "")
        self.epochs: list[int] = []
        self.relative_change: list[list[float]] = []
        self.kernels: list[torch.Tensor] = []

    def record(self, model: nn.Module, epoch: int) -> None:
        """Add the weights of ``model`` as they stand after ``epoch`` epochs."""
        current = learned_weights(model)
        self.epochs.append(epoch)
        self.relative_change.append([relative_change(start, current[name])
                                     for name, start in self.initial.items()])
        if self.kernel_layer:
            self.kernels.append(current[self.kernel_layer].contiguous().clone())

    def state_dict(self) -> dict[str, Any]:
        """Tensors and lists only, for a checkpoint that ``torch.load(weights_only=True)`` reads."""
        return {"initial": self.initial, "epochs": self.epochs,
                "relative_change": self.relative_change, "kernels": self.kernels}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the trajectory a checkpoint saved (the model's layers must match)."""
        if list(state["initial"]) != self.layers:
            raise ValueError("the checkpoint's trajectory is of other layers than this model's")
        # On the host whatever device the checkpoint was mapped to.
        self.initial = {name: weight.cpu() for name, weight in state["initial"].items()}
        self.epochs = list(state["epochs"])
        self.relative_change = [list(row) for row in state["relative_change"]]
        self.kernels = [kernel.cpu() for kernel in state["kernels"]]

    def arrays(self) -> dict[str, np.ndarray]:
        """The trajectory as arrays for an ``.npz`` file (:func:`trajectory_fields` reads them)."""
        arrays = {"epochs": np.asarray(self.epochs, dtype=np.int64),
                  "layers": np.asarray(self.layers, dtype=str),
                  "relative_change": np.asarray(self.relative_change, dtype=np.float64),
                  "kernel_layer": np.asarray(self.kernel_layer, dtype=str)}
        if self.kernels:
            arrays["kernels"] = torch.stack(self.kernels).numpy().astype(np.float32)
        return arrays


def trajectory_fields(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The fields of a saved trajectory (:meth:`WeightTrajectory.arrays`): ``epochs``,
    ``layers`` (names), ``relative_change`` (epochs x layers), ``kernel_layer`` ("" for a model
    without convolutions) and ``kernels`` (epochs x out x in x k x k, None without them)."""
    return {"epochs": arrays["epochs"], "layers": [str(name) for name in arrays["layers"]],
            "relative_change": arrays["relative_change"],
            "kernel_layer": str(arrays["kernel_layer"]), "kernels": arrays.get("kernels")}

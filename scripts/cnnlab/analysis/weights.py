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
            "relative_change": float((end - start).norm() / start.norm()),
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

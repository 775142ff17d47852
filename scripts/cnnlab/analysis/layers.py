"""Per-layer shapes, parameters, buffers and mult-adds of any ``nn.Module``, from a real forward pass."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch
from torch import nn


@dataclass
class LayerRow:
    """One leaf-module call of the forward pass."""

    index: int
    name: str
    type: str
    output_shape: str
    weight_params: int
    bias_params: int
    params: int
    trainable: bool
    buffers: int
    share: float
    mult_adds: int


def _is_leaf(module: nn.Module) -> bool:
    return next(iter(module.children()), None) is None


def _mult_adds(module: nn.Module, output: torch.Tensor) -> int:
    """Multiply-accumulates of one sample through ``module`` (convolutions and linear maps)."""
    if isinstance(module, nn.modules.conv._ConvNd):
        per_position = module.weight[0].numel()  # in_channels/groups * kernel area
        return int(output[0].numel() * per_position)
    if isinstance(module, nn.Linear):
        positions = output[0].numel() // module.out_features
        return int(module.weight.numel() * positions)
    return 0


def _shape(output: Any) -> str:
    if isinstance(output, torch.Tensor):
        return "x".join(str(d) for d in output.shape[1:]) or "scalar"
    return type(output).__name__


@torch.no_grad()
def layer_table(model: nn.Module, input_shape: Sequence[int]) -> list[LayerRow]:
    """Rows for every leaf-module call, in the order the forward pass makes them.

    Parameters and buffers are counted at a module's first call only, so a module called
    twice (a shared ReLU) adds no parameters twice and the total equals
    ``sum(p.numel() for p in model.parameters())``. Hooks are removed even if the pass fails.
    """
    was_training = model.training
    model.eval()
    names = {module: name for name, module in model.named_modules()}
    calls: list[tuple[nn.Module, Any]] = []

    def hook(module: nn.Module, args: Any, output: Any) -> None:
        calls.append((module, output))

    handles = [m.register_forward_hook(hook) for m in model.modules() if _is_leaf(m)]
    try:
        device = next(model.parameters()).device
        model(torch.zeros(1, *input_shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    total = sum(p.numel() for p in model.parameters())
    seen: set[nn.Module] = set()
    rows = []
    for index, (module, output) in enumerate(calls):
        first = module not in seen
        seen.add(module)
        weight = getattr(module, "weight", None)
        bias = getattr(module, "bias", None)
        weight_n = weight.numel() if first and isinstance(weight, torch.Tensor) else 0
        bias_n = bias.numel() if first and isinstance(bias, torch.Tensor) else 0
        own = sum(p.numel() for p in module.parameters(recurse=False)) if first else 0
        buffers = sum(b.numel() for b in module.buffers(recurse=False)) if first else 0
        rows.append(LayerRow(
            index=index,
            name=names.get(module, "?"),
            type=type(module).__name__,
            output_shape=_shape(output),
            weight_params=weight_n,
            bias_params=bias_n,
            params=own,
            trainable=all(p.requires_grad for p in module.parameters(recurse=False)),
            buffers=buffers,
            share=own / total if total else 0.0,
            mult_adds=_mult_adds(module, output) if isinstance(output, torch.Tensor) else 0,
        ))
    return rows


def rows_as_dicts(rows: list[LayerRow]) -> list[dict[str, Any]]:
    """Rows as plain dicts (for CSV)."""
    return [asdict(r) for r in rows]


def shape_flow(model: nn.Module, input_shape: Sequence[int]) -> list[tuple[str, str]]:
    """(label, shape) at each change of tensor shape: the input, then each leaf call that changes it."""
    flow = [("input", "x".join(map(str, input_shape)))]
    for row in layer_table(model, input_shape):
        if row.output_shape != flow[-1][1]:
            flow.append((f"{row.name} {row.type}", row.output_shape))
    return flow

"""Feature maps of sample images and activation sparsity over a test set, via forward hooks.

Every hook is removed when the capture ends, also when the forward pass fails.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid)
NORMALISATIONS = (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)


@contextlib.contextmanager
def hooked(modules: dict[str, nn.Module], store: dict[str, list[torch.Tensor]],
           reduce: Any = None) -> Iterator[None]:
    """Record each named module's output (or ``reduce(name, output)``) while the block runs."""
    handles = []
    for name, module in modules.items():
        def hook(_m: nn.Module, _args: Any, output: torch.Tensor, name: str = name) -> None:
            value = output.detach()
            store.setdefault(name, []).append(value if reduce is None else reduce(name, value))
        handles.append(module.register_forward_hook(hook))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _graph(model: nn.Module) -> torch.fx.GraphModule | None:
    try:
        return torch.fx.symbolic_trace(model)
    except Exception:  # an untraceable model still gets plain conv outputs
        return None


def _skip_normalisation(node: torch.fx.Node, modules: dict[str, nn.Module],
                        forward: bool) -> torch.fx.Node | None:
    """The first node after (or before) ``node`` that is not a normalisation, along a chain."""
    while True:
        nxt = (next(iter(node.users)) if len(node.users) == 1 else None) if forward else (
            node.args[0] if node.args and isinstance(node.args[0], torch.fx.Node) else None)
        if nxt is None:
            return None
        if nxt.op == "call_module" and isinstance(modules[nxt.target], NORMALISATIONS):
            node = nxt
            continue
        return nxt


def _describe(node: torch.fx.Node | None, modules: dict[str, nn.Module]) -> str:
    if node is None:
        return "input"
    if node.op == "call_module":
        return type(modules[node.target]).__name__
    if node.op == "placeholder":
        return "input"
    name = getattr(node.target, "__name__", str(node.target))
    return "add (residual)" if name in ("add", "iadd") else name


@dataclass(frozen=True)
class MapLayer:
    """A layer whose output is drawn: a convolution (seen after its activation) or a block."""

    name: str  # the module whose output is captured
    label: str  # what the figure calls it


def feature_map_layers(model: nn.Module) -> list[MapLayer]:
    """Each convolution, seen through the activation that takes its output alone (normalisation
    in between is skipped), and each composite block (e.g. a residual block)."""
    modules = dict(model.named_modules())
    gm = _graph(model)
    layers: list[MapLayer] = []
    if gm is None:
        layers = [MapLayer(n, f"{n} (Conv2d)") for n, m in modules.items() if isinstance(m, nn.Conv2d)]
    else:
        for node in gm.graph.nodes:
            if node.op != "call_module" or not isinstance(modules[node.target], nn.Conv2d):
                continue
            after = _skip_normalisation(node, modules, forward=True)
            if (after is not None and after.op == "call_module"
                    and isinstance(modules[after.target], ACTIVATIONS)):
                kind = type(modules[after.target]).__name__
                layers.append(MapLayer(str(after.target), f"{node.target} (Conv2d, after {kind})"))
            else:
                layers.append(MapLayer(str(node.target), f"{node.target} (Conv2d, before activation)"))
    for name, module in modules.items():
        is_block = next(iter(module.children()), None) is not None and not isinstance(
            module, (nn.Sequential, nn.ModuleList)) and module is not model
        if is_block and any(isinstance(m, nn.Conv2d) for m in module.modules()):
            layers.append(MapLayer(name, f"{name} ({type(module).__name__} output)"))
    return layers


def one_per_class(labels: np.ndarray, num_classes: int, seed: int) -> np.ndarray:
    """Index of one seeded test image per class, in class order."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    picks = []
    for c in range(num_classes):
        members = order[labels[order] == c]
        if len(members):
            picks.append(int(members[0]))
    return np.asarray(picks)


@torch.no_grad()
def capture_maps(model: nn.Module, x: torch.Tensor, layers: list[MapLayer]) -> dict[str, np.ndarray]:
    """Output of each layer for the images ``x`` (eval mode), keyed by module name."""
    modules = dict(model.named_modules())
    store: dict[str, list[torch.Tensor]] = {}
    model.eval()
    with hooked({layer.name: modules[layer.name] for layer in layers}, store):
        model(x)
    return {name: values[0].float().cpu().numpy() for name, values in store.items()}


@torch.no_grad()
def sparsity_table(model: nn.Module, x: torch.Tensor, batch_size: int) -> list[dict[str, Any]]:
    """Per ReLU module: share of exactly-zero outputs over ``x`` and channels that never fire.

    A channel is a feature map (conv outputs) or a unit (linear outputs); it is dead when it
    is zero for every image and every position.
    """
    relus = {n: m for n, m in model.named_modules() if isinstance(m, (nn.ReLU, nn.ReLU6))}
    if not relus:
        return []
    zeros: dict[str, int] = {}
    totals: dict[str, int] = {}
    fired: dict[str, torch.Tensor] = {}
    shapes: dict[str, str] = {}

    def reduce(name: str, out: torch.Tensor) -> None:
        zeros[name] = zeros.get(name, 0) + int((out == 0).sum())
        totals[name] = totals.get(name, 0) + out.numel()
        # Channel axis first, everything else (images, positions) flattened: any unit firing?
        active = (out > 0).transpose(0, 1).reshape(out.shape[1], -1).any(1)
        fired[name] = fired.get(name, torch.zeros_like(active)) | active
        shapes[name] = "x".join(map(str, out.shape[1:]))

    model.eval()
    store: dict[str, list[Any]] = {}
    modules = dict(model.named_modules())
    gm = _graph(model)
    follows = {}
    if gm is not None:
        for node in gm.graph.nodes:
            if node.op == "call_module" and node.target in relus:
                follows[node.target] = _describe(_skip_normalisation(node, modules, False), modules)
    with hooked(relus, store, reduce=reduce):
        for start in range(0, len(x), batch_size):
            model(x[start:start + batch_size])
    rows = []
    for name in relus:
        if name not in totals:
            continue
        units = int(fired[name].numel())
        dead = int((~fired[name]).sum())
        rows.append({
            "layer": name, "follows": follows.get(name, "?"), "shape": shapes[name],
            "zero_fraction": zeros[name] / totals[name], "units": units, "dead_units": dead,
            "dead_fraction": dead / units,
        })
    return rows

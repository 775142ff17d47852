"""Receptive fields of every convolution and pooling layer, analytic and measured.

Analytic: the recurrences of Araujo, Norris & Sim (Distill, 2019), applied while walking the
``torch.fx`` graph of the model, so residual and branching models work: where paths join, the
field is the largest over the paths. With k' = d (k - 1) + 1 the effective kernel,

    r_out = r_in + (k' - 1) j_in        (receptive field size)
    j_out = j_in s                      (jump: distance in input pixels between adjacent units)
    start_out = start_in + ((k' - 1)/2 - p) j_in   (centre of the first unit's field)
    P_out = P_in + p j_in               (effective padding)

Measured: gradient of one unit near the centre of a layer's output with respect to the input,
in a probe copy of the model whose weights and inputs are positive (so no gradient vanishes by
accident) and whose max pools are replaced by average pools (which spread gradient to the
whole window); the field is the extent of the non-zero input gradient.
"""

from __future__ import annotations

import copy
import math
import operator
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch
import torch.fx as fx
from torch import nn

PASSTHROUGH_MODULES = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU,
    nn.Tanh, nn.Sigmoid, nn.Hardswish, nn.Hardtanh, nn.Dropout, nn.Dropout2d, nn.Identity,
    nn.LocalResponseNorm,
)
PASSTHROUGH_FUNCTIONS = {
    torch.relu, torch.nn.functional.relu, torch.sigmoid, torch.tanh, torch.nn.functional.dropout,
    torch.nn.functional.gelu, torch.nn.functional.silu,
}
PASSTHROUGH_METHODS = {"relu", "relu_", "sigmoid", "tanh", "contiguous", "clone", "float"}
MERGE_FUNCTIONS = {operator.add, operator.iadd, torch.add, torch.cat}
MERGE_METHODS = {"add", "add_"}
GLOBAL_MODULES = (nn.Flatten, nn.Linear)
GLOBAL_FUNCTIONS = {torch.flatten}
GLOBAL_METHODS = {"view", "reshape", "flatten", "mean"}
SCALAR_METHODS = {"size", "dim"}


class ReceptiveFieldError(ValueError):
    """A layer whose geometry the analysis cannot reason about; the message names its type."""


@dataclass(frozen=True)
class Geometry:
    """Receptive-field state of a tensor along one spatial axis (square geometry)."""

    size: int  # spatial size of this tensor
    rf: int
    jump: int
    start: float
    padding: int


GLOBAL = "global"  # every unit sees the whole input (after flatten, linear or global pooling)
SCALAR = "scalar"  # a non-tensor value (a size, a constant)


@dataclass
class FieldRow:
    """One convolution or pooling layer of the table."""

    layer: str
    type: str
    kernel: int
    stride: int
    padding: int
    dilation: int
    input_size: int
    output_size: int
    jump: int
    receptive_field: int
    start: float
    effective_padding: int
    receptive_field_empirical: int | None = None


def _square(value: Any, what: str, layer: str) -> int:
    if isinstance(value, (tuple, list)):
        if len(set(value)) != 1:
            raise ReceptiveFieldError(
                f"layer {layer}: non-square {what} {tuple(value)} is not supported"
            )
        return int(value[0])
    return int(value)


def _conv_like(module: nn.Module, name: str) -> tuple[int, int, int, int, bool]:
    """(kernel, stride, padding, dilation, ceil_mode) of a convolution or pooling module."""
    kernel = _square(module.kernel_size, "kernel", name)
    stride = _square(module.stride if module.stride is not None else kernel, "stride", name)
    dilation = _square(getattr(module, "dilation", 1), "dilation", name)
    padding = module.padding
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same" and stride == 1:
            padding = dilation * (kernel - 1) // 2
        else:
            raise ReceptiveFieldError(f"layer {name}: padding {padding!r} is not supported")
    return kernel, stride, _square(padding, "padding", name), dilation, bool(
        getattr(module, "ceil_mode", False))


def _apply(g: Geometry, kernel: int, stride: int, padding: int, dilation: int,
           ceil_mode: bool) -> Geometry:
    k_eff = dilation * (kernel - 1) + 1
    span = g.size + 2 * padding - k_eff
    size = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (size - 1) * stride >= g.size + padding:
        size -= 1  # PyTorch drops a last window that would start in the right padding
    return Geometry(
        size=size,
        rf=g.rf + (k_eff - 1) * g.jump,
        jump=g.jump * stride,
        start=g.start + ((k_eff - 1) / 2 - padding) * g.jump,
        padding=g.padding + padding * g.jump,
    )


def _merge(values: list[Any], where: str) -> Any:
    geometries = [v for v in values if isinstance(v, Geometry)]
    if any(v == GLOBAL for v in values):
        return GLOBAL
    if not geometries:
        return SCALAR
    if len({g.jump for g in geometries}) > 1 or len({g.size for g in geometries}) > 1:
        raise ReceptiveFieldError(f"{where}: joins tensors of different geometry {geometries}")
    return max(geometries, key=lambda g: (g.rf, -g.start))


def _flat_args(args: Any) -> list[Any]:
    out: list[Any] = []
    for a in args:
        if isinstance(a, (list, tuple)):
            out.extend(_flat_args(a))
        else:
            out.append(a)
    return out


def trace(model: nn.Module) -> fx.GraphModule:
    """Symbolic trace of ``model``; an untraceable model raises a clear error."""
    try:
        return fx.symbolic_trace(model)
    except Exception as exc:  # fx raises many kinds on data-dependent control flow
        raise ReceptiveFieldError(
            f"{type(model).__name__} cannot be traced with torch.fx ({exc})"
        ) from exc


def analytic_table(model: nn.Module, input_size: int,
                   graph: fx.GraphModule | None = None) -> list[FieldRow]:
    """The receptive-field row of every convolution and pooling layer, in graph order."""
    gm = graph if graph is not None else trace(model)
    modules = dict(gm.named_modules())
    state: dict[fx.Node, Any] = {}
    rows: list[FieldRow] = []
    for node in gm.graph.nodes:
        inputs = [state[a] for a in _flat_args(node.args) if isinstance(a, fx.Node)]
        first = inputs[0] if inputs else SCALAR
        if node.op == "placeholder":
            state[node] = Geometry(size=input_size, rf=1, jump=1, start=0.0, padding=0)
        elif node.op in ("get_attr", "output"):
            state[node] = SCALAR
        elif node.op == "call_module":
            module = modules[node.target]
            state[node] = _module_geometry(module, str(node.target), first, rows)
        elif node.op == "call_function":
            state[node] = _function_geometry(node, inputs, first)
        elif node.op == "call_method":
            state[node] = _method_geometry(node, inputs, first)
    return rows


def convolution_rows(model: nn.Module, input_size: int,
                     graph: fx.GraphModule | None = None) -> list[FieldRow]:
    """The rows of :func:`analytic_table` that are convolutions, in graph order."""
    return [row for row in analytic_table(model, input_size, graph) if row.type == "Conv2d"]


def _module_geometry(module: nn.Module, name: str, g: Any, rows: list[FieldRow]) -> Any:
    if g == GLOBAL or isinstance(module, GLOBAL_MODULES):
        return GLOBAL
    if isinstance(module, PASSTHROUGH_MODULES):
        return g
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        target = _square(module.output_size, "output size", name)
        if target == 1:
            return GLOBAL
        if isinstance(g, Geometry) and target == g.size:
            return g
        raise ReceptiveFieldError(
            f"layer {name}: {type(module).__name__} from {getattr(g, 'size', '?')} to {target} "
            f"uses windows of varying size; only identity and global pooling are supported"
        )
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        if not isinstance(g, Geometry):
            raise ReceptiveFieldError(f"layer {name}: {type(module).__name__} after a global layer")
        kernel, stride, padding, dilation, ceil_mode = _conv_like(module, name)
        out = _apply(g, kernel, stride, padding, dilation, ceil_mode)
        rows.append(FieldRow(
            layer=name, type=type(module).__name__, kernel=kernel, stride=stride,
            padding=padding, dilation=dilation, input_size=g.size, output_size=out.size,
            jump=out.jump, receptive_field=out.rf, start=out.start,
            effective_padding=out.padding,
        ))
        return out
    raise ReceptiveFieldError(
        f"layer {name}: cannot compute the receptive field through a {type(module).__name__}"
    )


def _function_geometry(node: fx.Node, inputs: list[Any], first: Any) -> Any:
    target = node.target
    if target in MERGE_FUNCTIONS:
        return _merge(inputs, f"{node.name} ({getattr(target, '__name__', target)})")
    if target in PASSTHROUGH_FUNCTIONS:
        return first
    if target in GLOBAL_FUNCTIONS:
        return GLOBAL
    if target is getattr or not any(isinstance(v, Geometry) or v == GLOBAL for v in inputs):
        return SCALAR
    raise ReceptiveFieldError(
        f"{node.name}: cannot compute the receptive field through the function "
        f"{getattr(target, '__module__', '')}.{getattr(target, '__name__', target)}"
    )


def _method_geometry(node: fx.Node, inputs: list[Any], first: Any) -> Any:
    method = str(node.target)
    if method in SCALAR_METHODS:
        return SCALAR
    if method in PASSTHROUGH_METHODS:
        return first
    if method in MERGE_METHODS:
        return _merge(inputs, node.name)
    if method in GLOBAL_METHODS:
        return GLOBAL
    raise ReceptiveFieldError(f"{node.name}: cannot compute the receptive field through .{method}()")


# ---------------------------------------------------------------------------------------------
# Empirical measurement


def _probe_copy(model: nn.Module) -> nn.Module:
    """A float64 eval-mode copy with positive weights, zero biases and max pools made average."""
    probe = copy.deepcopy(model).double().eval()
    for name, module in list(probe.named_modules()):
        replacement = None
        if isinstance(module, nn.MaxPool2d):
            if _square(module.dilation, "dilation", name) != 1:
                raise ReceptiveFieldError(f"layer {name}: dilated max pooling cannot be probed")
            replacement = nn.AvgPool2d(module.kernel_size, module.stride, module.padding,
                                       ceil_mode=module.ceil_mode, count_include_pad=True)
        elif isinstance(module, nn.AdaptiveMaxPool2d):
            replacement = nn.AdaptiveAvgPool2d(module.output_size)
        if replacement is not None:
            parent_name, _, child = name.rpartition(".")
            setattr(probe.get_submodule(parent_name) if parent_name else probe, child, replacement)
    with torch.no_grad():
        for module in probe.modules():
            if isinstance(module, nn.modules.conv._ConvNd):
                module.weight.fill_(1.0 / module.weight[0].numel())
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.running_mean.zero_()
                module.running_var.fill_(1.0)
                if module.affine:
                    module.weight.fill_(1.0)
                    module.bias.zero_()
    return probe


def truncate(gm: fx.GraphModule, layer: str) -> fx.GraphModule:
    """The part of a traced model up to and including the call of module ``layer``."""
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    for node in gm.graph.nodes:
        if node.op == "output":
            break
        env[node] = graph.node_copy(node, lambda n: env[n])
        if node.op == "call_module" and node.target == layer:
            graph.output(env[node])
            return fx.GraphModule(gm, graph)
    raise ReceptiveFieldError(f"layer {layer} is not called in the traced graph")


def measure_field(sub: nn.Module, channels: int, input_size: int, max_size: int = 2048) -> int:
    """Extent of the non-zero input gradient of the centre unit of ``sub``'s output.

    The input grows until the field no longer touches its border, so a field larger than the
    model's usual input is measured whole.
    """
    size = input_size
    while True:
        x = torch.ones(1, channels, size, size, dtype=torch.float64, requires_grad=True)
        out = sub(x)
        h, w = out.shape[-2:]
        out[0, 0, h // 2, w // 2].backward()
        grad = x.grad[0].abs().sum(0)
        rows = torch.nonzero(grad.sum(1)).flatten()
        cols = torch.nonzero(grad.sum(0)).flatten()
        if len(rows) == 0:
            raise ReceptiveFieldError("the probe's input gradient is zero everywhere")
        touches = rows[0] == 0 or rows[-1] == size - 1 or cols[0] == 0 or cols[-1] == size - 1
        if not touches or size >= max_size:
            extent_rows = int(rows[-1] - rows[0] + 1)
            extent_cols = int(cols[-1] - cols[0] + 1)
            if extent_rows != extent_cols:
                raise ReceptiveFieldError(f"non-square measured field {extent_rows}x{extent_cols}")
            return extent_rows
        size *= 2


def receptive_field_table(model: nn.Module, input_shape: Sequence[int],
                          empirical: bool = True) -> list[FieldRow]:
    """Analytic rows for ``model`` on ``input_shape`` (C, H, W), each checked empirically."""
    channels, height, width = input_shape
    if height != width:
        raise ReceptiveFieldError(f"non-square input {height}x{width} is not supported")
    rows = analytic_table(model, height)
    if empirical and rows:
        gm = trace(_probe_copy(model))
        for row in rows:
            row.receptive_field_empirical = measure_field(truncate(gm, row.layer), channels, height)
    return rows


def rows_as_dicts(rows: list[FieldRow]) -> list[dict[str, Any]]:
    """Rows as plain dicts (for CSV)."""
    return [asdict(r) for r in rows]

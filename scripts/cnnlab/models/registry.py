"""A registry of model builders in the style of timm: ``register_model``, ``create_model``.

The declared facts live in :mod:`cnnlab.models.catalog`; a family file registers the builder
of each of its entries. Families are imported on first use, so looking up facts costs no torch
import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable

from cnnlab.models.catalog import MODELS, ModelSpec

if TYPE_CHECKING:
    from torch import nn

Builder = Callable[..., "nn.Module"]
_BUILDERS: dict[str, Builder] = {}


def register_model(builder: Builder) -> Builder:
    """Register a builder under its function name, which the catalog must declare.

    A name the catalog does not declare, a builder outside the declared family's module, or
    a second registration of a name raises.
    """
    name = builder.__name__
    spec = MODELS.get(name)
    if spec is None:
        raise ValueError(f"model {name!r} is not declared in cnnlab/models/catalog.py: add its "
                         "family, input shape and parameter count there")
    if name in _BUILDERS:
        raise ValueError(f"model {name!r} is already registered (by {spec.family})")
    if builder.__module__ != f"cnnlab.models.{spec.family}":
        raise ValueError(f"model {name!r} is declared in family {spec.family!r}, not in "
                         f"{builder.__module__}")
    _BUILDERS[name] = builder
    return builder


def list_models() -> list[str]:
    """Names of all declared architectures, sorted."""
    return sorted(MODELS)


def model_spec(name: str) -> ModelSpec:
    """The declared facts of ``name``; an unknown name raises with the list of known ones."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(
            f"unknown architecture {name!r}; known architectures: {', '.join(list_models())}"
        ) from None


def create_model(name: str, num_classes: int = 10, **kwargs: object) -> "nn.Module":
    """Build a fresh, randomly initialised instance of architecture ``name``."""
    spec = model_spec(name)
    if name not in _BUILDERS:
        importlib.import_module(f"cnnlab.models.{spec.family}")
    return _BUILDERS[name](num_classes=num_classes, **kwargs)


def count_parameters(model: "nn.Module") -> int:
    """Number of learnable parameters (buffers such as BatchNorm running stats excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

"""A registry of model builders in the style of timm: ``register_model``, ``create_model``.

Each entry declares the input shape its network accepts and the parameter count the source
article gives, so that configuration checks and tests can rely on them without building the
network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

InputShape = tuple[int, int, int]


@dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about one architecture before it is built."""

    name: str
    builder: Callable[..., nn.Module]
    input_shape: InputShape
    num_params: int
    family: str
    description: str
    is_convolutional: bool


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    *,
    input_shape: InputShape,
    num_params: int,
    description: str,
    is_convolutional: bool = True,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a builder under its function name; a second registration of a name raises."""

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = builder.__name__
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered (by {_REGISTRY[name].family})")
        _REGISTRY[name] = ModelSpec(
            name=name,
            builder=builder,
            input_shape=tuple(input_shape),  # type: ignore[arg-type]
            num_params=num_params,
            family=builder.__module__.rsplit(".", 1)[-1],
            description=description,
            is_convolutional=is_convolutional,
        )
        return builder

    return decorator


def list_models() -> list[str]:
    """Names of all registered architectures, sorted."""
    return sorted(_REGISTRY)


def model_spec(name: str) -> ModelSpec:
    """The registry entry of ``name``; an unknown name raises with the list of known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown architecture {name!r}; known architectures: {', '.join(list_models())}"
        ) from None


def create_model(name: str, num_classes: int = 10, **kwargs: object) -> nn.Module:
    """Build a fresh, randomly initialised instance of architecture ``name``."""
    return model_spec(name).builder(num_classes=num_classes, **kwargs)


def count_parameters(model: nn.Module) -> int:
    """Number of learnable parameters (buffers such as BatchNorm running stats excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

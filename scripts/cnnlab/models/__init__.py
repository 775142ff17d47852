"""The model zoo. Importing this package registers every family."""

from cnnlab.models import cifar, digitcnn, lenet, linear, resnet, simplecnn  # noqa: F401
from cnnlab.models.registry import (
    InputShape,
    ModelSpec,
    count_parameters,
    create_model,
    list_models,
    model_spec,
    register_model,
)

__all__ = [
    "InputShape",
    "ModelSpec",
    "count_parameters",
    "create_model",
    "list_models",
    "model_spec",
    "register_model",
]

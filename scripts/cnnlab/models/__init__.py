"""The model zoo: declared facts in :mod:`.catalog`, builders registered by one file per
family (imported when a model of the family is first built)."""

from cnnlab.models.catalog import InputShape, ModelSpec
from cnnlab.models.registry import (
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

# Config validation, wildcard constraints and input functions. No rules here.
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from cnnlab.config import ConfigError, load_schema, validate_config  # noqa: E402
from cnnlab.data import DATASETS  # noqa: E402
from cnnlab.models import list_models, model_spec  # noqa: E402

SCHEMA_PATH = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"

try:
    _validated = validate_config(
        config,
        load_schema(SCHEMA_PATH),
        model_shapes={name: model_spec(name).input_shape for name in list_models()},
        dataset_shapes={name: info.input_shape for name, info in DATASETS.items()},
    )
except ConfigError as error:
    raise WorkflowError(str(error)) from None
config.clear()
config.update(_validated)


wildcard_constraints:
    dataset="|".join(DATASETS),
    arch="|".join(list_models()),


def run_pairs():
    """(dataset, arch) for every training run the config asks for."""
    return [
        (dataset, arch)
        for dataset, run in config["datasets"].items()
        for arch in run["architectures"]
    ]


EVALUATION_OUTPUTS = ["metrics.json", "confusion.png", "misclassified.png"]
PARAM_OUTPUTS = ["params.csv", "params.png", "shape_flow.png"]
SPARSITY_OUTPUTS = ["sparsity.csv", "sparsity.png"]
CONV_OUTPUTS = [
    "filters.png", "filters_signed.png", "filter_similarity.csv", "filter_similarity.png",
    "conv_kernels.png", "feature_maps", "receptive_field.csv", "receptive_field.png",
]


def arch_outputs(arch):
    """File names under results/{dataset}/{arch}/ that `all` asks for: what applies to it."""
    names = EVALUATION_OUTPUTS + PARAM_OUTPUTS
    if arch_has_relu(arch):
        names = names + SPARSITY_OUTPUTS
    if model_spec(arch).is_convolutional:
        names = names + CONV_OUTPUTS
    return names


def arch_has_relu(arch):
    """Whether the architecture has ReLU layers (sparsity means exactly-zero ReLU outputs)."""
    import torch.nn as nn
    from cnnlab.models import create_model

    return any(isinstance(m, (nn.ReLU, nn.ReLU6)) for m in create_model(arch).modules())


def all_targets(wildcards):
    """Everything `snakemake` with no target builds."""
    return [
        f"results/{dataset}/{arch}/{name}"
        for dataset, arch in run_pairs()
        for name in arch_outputs(arch)
    ]


def training_settings(wildcards):
    """The resolved recipe of one architecture (a param: changing it reruns only its jobs)."""
    return dict(config["training"][wildcards.arch])


def gpu_request(wildcards):
    """One GPU per job where CUDA is present, so that the profile's gpu=1 limit serialises them."""
    return 1 if HAS_GPU else 0


def _has_gpu():
    import torch

    return torch.cuda.is_available()


HAS_GPU = _has_gpu()

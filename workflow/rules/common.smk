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


def all_targets(wildcards):
    """Everything `snakemake` with no target builds."""
    targets = []
    for dataset, arch in run_pairs():
        for name in ("metrics.json", "confusion.png", "misclassified.png"):
            targets.append(f"results/{dataset}/{arch}/{name}")
    return targets


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

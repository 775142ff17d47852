"""Config validation: defaults, merging of recipes, and one clear message per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from cnnlab.config import ConfigError, load_schema, validate_config
from cnnlab.datasets import DATASETS
from cnnlab.models import list_models, model_spec
from conftest import PROJECT

SCHEMA = load_schema(PROJECT / "workflow" / "schemas" / "config.schema.yaml")
SHAPES = {
    "model_shapes": {name: model_spec(name).input_shape for name in list_models()},
    "dataset_shapes": {name: info.input_shape for name, info in DATASETS.items()},
}


def check(config: dict) -> dict:
    return validate_config(config, SCHEMA, **SHAPES)


def test_schema_enums_match_the_registries() -> None:
    assert sorted(SCHEMA["$defs"]["architecture_name"]["enum"]) == list_models()
    assert SCHEMA["$defs"]["dataset_name"]["enum"] == list(DATASETS)
    assert set(SCHEMA["properties"]["training"]["default"]) == set(list_models())


def test_every_setting_has_a_description() -> None:
    def walk(node, path):
        if isinstance(node, dict):
            if "type" in node and path and path[-1] not in ("$defs",):
                assert node.get("description"), f"no description at {'.'.join(path)}"
            for key, value in node.items():
                if key in ("properties", "$defs"):
                    for name, sub in value.items():
                        walk(sub, [*path, name])
    walk(SCHEMA, [])


def test_empty_config_gets_the_article_recipes() -> None:
    config = check({})
    assert config["datasets"] == {"mnist": {"architectures": [
        "logreg", "mlp", "digitcnn", "digitcnn_gap", "simplecnn_bn", "lenet5", "resnet_small"]}}
    digit = config["training"]["digitcnn"]
    assert (digit["optimizer"], digit["lr"], digit["batch_size"], digit["epochs"]) == ("adam", 0.001, 64, 3)
    bn = config["training"]["simplecnn_bn"]
    assert (bn["optimizer"], bn["weight_decay"], bn["schedule"]) == ("adamw", 0.01, "cosine")
    vgg = config["training"]["cifar_vgg"]
    assert (vgg["optimizer"], vgg["lr"], vgg["momentum"], vgg["weight_decay"], vgg["schedule"]) == (
        "sgd", 0.01, 0.9, 0.0005, "step")
    assert config["data"]["search_path"] == []


def test_the_trainer_defaults_are_the_schema_defaults() -> None:
    """TrainSettings' defaults (for library callers) and the schema's are one recipe."""
    import dataclasses

    from cnnlab.training import TrainSettings

    schema = {key: spec["default"]
              for key, spec in SCHEMA["$defs"]["training_settings"]["properties"].items()}
    library = {f.name: f.default for f in dataclasses.fields(TrainSettings)}
    assert library == schema


def test_every_architecture_default_is_a_deviation_from_the_shared_recipe() -> None:
    shared = {key: spec["default"]
              for key, spec in SCHEMA["$defs"]["training_settings"]["properties"].items()}
    for arch, recipe in SCHEMA["properties"]["training"]["default"].items():
        repeated = {k: v for k, v in recipe.items() if shared[k] == v}
        assert not repeated, f"training.{arch} repeats defaults of training_settings: {repeated}"


def test_overriding_one_key_keeps_the_rest_of_the_recipe() -> None:
    config = check({"training": {"simplecnn_bn": {"epochs": 2}}})
    assert config["training"]["simplecnn_bn"]["optimizer"] == "adamw"
    assert config["training"]["simplecnn_bn"]["epochs"] == 2
    assert config["training"]["digitcnn"]["epochs"] == 3


def test_given_datasets_replace_the_default_instead_of_adding_to_it() -> None:
    config = check({"datasets": {"fashion_mnist": {"architectures": ["mlp"]}}})
    assert list(config["datasets"]) == ["fashion_mnist"]


def test_the_shipped_configs_are_valid() -> None:
    import yaml

    for path in [PROJECT / "config.yaml", *sorted((PROJECT / "configs").glob("*.yaml"))]:
        check(yaml.safe_load(path.read_text()))


def test_full_config_over_the_default_gives_the_articles_recipes() -> None:
    import yaml
    from snakemake.utils import update_config

    merged = yaml.safe_load((PROJECT / "config.yaml").read_text())
    update_config(merged, yaml.safe_load((PROJECT / "configs" / "full.yaml").read_text()))
    assert check(merged)["training"] == check({})["training"]
    assert set(check(merged)["datasets"]) == {"mnist", "fashion_mnist", "cifar10"}


BAD_CONFIGS = [
    ({"trainig": {}}, ["'trainig' is not a known setting", "did you mean 'training'"]),
    ({"training": {"digitcnn": {"lr_rate": 0.1}}}, ["'training.digitcnn.lr_rate' is not a known setting", "allowed keys here:", "lr"]),
    ({"training": {"digitcnn": {"epochs": -1}}}, ["'training.digitcnn.epochs'", "less than the minimum of 1"]),
    ({"training": {"digitcnn": {"epochs": 2.5}}}, ["'training.digitcnn.epochs'", "not of type 'integer'"]),
    ({"training": {"digitcnn": {"lr": 0}}}, ["'training.digitcnn.lr'", "less than or equal to the minimum of 0"]),
    ({"training": {"digitcnn": {"optimizer": "adamm"}}}, ["'training.digitcnn.optimizer'", "did you mean 'adam'", "allowed values: sgd, adam, adamw"]),
    ({"training": {"digitcn": {"lr": 0.1}}}, ["'digitcn'", "did you mean 'digitcnn'", "cifar_vgg"]),
    ({"datasets": {"mnist": {"architectures": ["resnet50"]}}}, ["'datasets.mnist.architectures[0]'", "'resnet50' is not allowed", "digitcnn"]),
    ({"datasets": {"cifar10": {"architectures": ["digitcnn"]}}}, ["digitcnn takes 1x28x28 images but cifar10 has 3x32x32", "cifar_simplecnn, cifar_vgg"]),
    ({"datasets": {"svhn": {"architectures": ["digitcnn"]}}}, ["'svhn' is not allowed", "mnist, fashion_mnist, cifar10"]),
    ({"datasets": {"mnist": {"architectures": []}}}, ["'datasets.mnist.architectures'", "should be non-empty"]),
    ({"datasets": {}}, ["'datasets'", "should be non-empty"]),
    ({"seed": -3}, ["'seed'", "minimum of 0"]),
    ({"data": {"search_path": "/usr/share/datasets"}}, ["'data.search_path'", "not of type 'array'"]),
    ({"data": {"train_limit": 3}}, ["'data.train_limit'", "minimum of 10"]),
    ({"evaluation": {"misclassified": 1000}}, ["'evaluation.misclassified'", "maximum of 100"]),
    ({"compare": {"datasets": ["cifar10"]}}, ["'compare.architectures': logreg takes 1x28x28 images but cifar10 has 3x32x32"]),
    ({"compare": {"data_efficiency": {"fractions": [0, 0.5]}}}, ["'compare.data_efficiency.fractions[0]'", "less than or equal to the minimum of 0"]),
    ({"compare": {"permutation": {"architectures": ["vgg"]}}}, ["'vgg' is not allowed"]),
]


@pytest.mark.parametrize("config,fragments", BAD_CONFIGS, ids=[str(c) for c, _ in BAD_CONFIGS])
def test_bad_config_is_rejected_with_key_and_fix(config: dict, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as error:
        check(config)
    message = str(error.value)
    assert "nothing was run and nothing was deleted" in message
    for fragment in fragments:
        assert fragment in message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError, match=r"\(3 problems\)"):
        check({"seed": -1, "trainig": {}, "training": {"mlp": {"epochs": 0}}})


def test_configured_data_folders_must_exist(tmp_path: Path) -> None:
    (tmp_path / "mydata").mkdir()
    config = {"data": {"search_path": ["mydata", str(tmp_path)]}}
    assert validate_config(config, SCHEMA, **SHAPES, project_dir=tmp_path)["data"]["search_path"]
    with pytest.raises(ConfigError, match=r"'data.search_path\[1\]': folder .*/nowhere does not exist"):
        validate_config({"data": {"search_path": ["mydata", "nowhere"]}}, SCHEMA, **SHAPES,
                        project_dir=tmp_path)

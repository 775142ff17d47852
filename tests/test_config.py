"""Config validation: defaults, merging of recipes, and one clear message per mistake."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from cnnlab.config import ConfigError, load_schema, validate_config
from cnnlab.config_checks import TITLE_MARKS, TITLE_SCRIPTS
from cnnlab.config_files import load_config_file
from cnnlab.datasets import DATASETS, split_dataset_name, subset_dataset_name
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

    # The seeds are not the trainer's: each is a rule param of its own (one run per seed).
    schema = {key: spec["default"]
              for key, spec in SCHEMA["$defs"]["training_settings"]["properties"].items()
              if key != "seeds"}
    library = {f.name: f.default for f in dataclasses.fields(TrainSettings)}
    assert library == schema


def test_the_library_evaluation_batch_is_the_schema_default() -> None:
    from cnnlab.inference import EVAL_BATCH_SIZE

    assert SCHEMA["properties"]["evaluation"]["properties"]["batch_size"]["default"] == EVAL_BATCH_SIZE


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


def test_the_comparison_defaults_to_the_configured_datasets_it_fits() -> None:
    fashion = check({"datasets": {"fashion_mnist": {"architectures": ["mlp"]}}})
    assert fashion["compare"]["datasets"] == ["fashion_mnist"]
    three = {"datasets": {"cifar10": {"architectures": ["cifar_vgg"]},
                          "mnist": {"architectures": ["mlp"]},
                          "fashion_mnist": {"architectures": ["mlp"]}}}
    # CIFAR-10's colour images fit none of the compared (28x28 grey) architectures.
    assert check(three)["compare"]["datasets"] == ["mnist", "fashion_mnist"]
    assert check({**three, "compare": {"max_shift": 3}})["compare"]["datasets"] == ["mnist", "fashion_mnist"]
    assert check({**three, "compare": {"datasets": []}})["compare"]["datasets"] == []
    assert check({})["compare"]["datasets"] == ["mnist"]


def test_the_shipped_configs_are_valid() -> None:
    import yaml

    for path in [PROJECT / "config.yaml", *sorted((PROJECT / "configs").glob("*.yaml"))]:
        check(yaml.safe_load(path.read_text()))


def test_full_config_over_the_default_gives_the_articles_recipes() -> None:
    import yaml
    from snakemake.utils import update_config

    merged = yaml.safe_load((PROJECT / "config.yaml").read_text())
    update_config(merged, yaml.safe_load((PROJECT / "configs" / "full.yaml").read_text()))
    def recipes(config: dict) -> dict:  # the seeds differ on purpose: tests/test_seeds.py
        return {arch: {k: v for k, v in settings.items() if k != "seeds"}
                for arch, settings in config["training"].items()}

    assert recipes(check(merged)) == recipes(check({}))
    assert set(check(merged)["datasets"]) == {"mnist", "fashion_mnist", "cifar10"}
    # The samples and seed caps config.yaml cuts for the CPU are the schema's again.
    full, defaults = check(merged), check({})
    for section, key in [("units", "embedding_images"), ("attribution", "images")]:
        assert full[section][key] == defaults[section][key], (section, key)
    for experiment in ("permutation", "data_efficiency"):
        assert full["compare"][experiment]["seeds"] is defaults["compare"][experiment]["seeds"] is None


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
    ({"compare": {"permutation": {"seeds": 0}}}, ["'compare.permutation.seeds'", "less than the minimum of 1"]),
    ({"compare": {"data_efficiency": {"seeds": [0, 1]}}}, ["'compare.data_efficiency.seeds'", "not of type 'integer', 'null'"]),
    # Seeds beyond numpy's legacy 2**32 - 1 once passed and crashed in torch.manual_seed.
    ({"seed": 18446744073709551616}, ["'seed': 18446744073709551616 is greater than the maximum of 4294967295"]),
    ({"compare": {"permutation": {"seed": 2**32}}}, ["'compare.permutation.seed'", "maximum of 4294967295"]),
    # NaN compares false with every bound, and infinity passes a lower one.
    ({"training": {"digitcnn": {"lr": math.nan}}}, ["config key 'training.digitcnn.lr': nan is not a finite number"]),
    ({"training": {"digitcnn": {"weight_decay": math.inf}}}, ["config key 'training.digitcnn.weight_decay': inf is not a finite number"]),
    ({"training": {"digitcnn": {"momentum": math.nan}}}, ["config key 'training.digitcnn.momentum': nan is not a finite number"]),
    ({"compare": {"data_efficiency": {"fractions": [math.nan, 1.0]}}}, ["'compare.data_efficiency.fractions[0]': nan is not a finite number"]),
    # What PyYAML reads as text: 1e-3 (no dot) and anything quoted.
    ({"training": {"digitcnn": {"lr": "1e-3"}}}, ["'training.digitcnn.lr': '1e-3' is not of type 'number'", "YAML reads '1e-3' as text, not a number: write 0.001"]),
    ({"training": {"digitcnn": {"epochs": "3"}}}, ["'training.digitcnn.epochs'", "write 3"]),
    # Subsets with no image of some class, and two fractions naming one subset.
    ({"compare": {"data_efficiency": {"fractions": [1e-05, 0.5, 1.0]}}}, ["'compare.data_efficiency.fractions[0]': 1e-05 of mnist's 55000 training images is 1, fewer than one per class (10 classes)", "at least 0.00018"]),
    ({"data": {"train_limit": 300}, "compare": {"data_efficiency": {"fractions": [0.02, 1.0]}}}, ["'compare.data_efficiency.fractions[0]': 0.02 of mnist's 300 training images is 6", "at least 0.032"]),
    ({"compare": {"data_efficiency": {"fractions": [0.5, 0.5]}}}, ["'compare.data_efficiency.fractions[1]': 0.5 names the same training subset (mnist_subset_0.5) as compare.data_efficiency.fractions[0]"]),
    ({"compare": {"data_efficiency": {"fractions": [1, 1.0]}}}, ["'compare.data_efficiency.fractions[1]': 1.0 names the same training subset (mnist)"]),
    # A title the PDF's one-line running header and its font can show.
    ({"title": "word " * 900}, ["'title': 4500 characters, more than the 120 allowed; shorten it"]),
    ({"title": "卷积网络学到了什么"}, ["'title': the PDF's font (DejaVu Sans) cannot draw '卷' (U+5377)", "in Latin, Greek or Cyrillic script"]),
    ({"title": "two\nlines"}, ["'title'", "'\\n' (U+000A)", "on one line"]),
    # Seed lists, top-level and per architecture (tests/test_seeds.py has the rest).
    ({"seeds": [1, 1]}, ["config key 'seeds': [1, 1] has non-unique elements"]),
    ({"seeds": []}, ["config key 'seeds': [] should be non-empty"]),
    ({"seeds": [-1]}, ["config key 'seeds[0]': -1 is less than the minimum of 0"]),
    ({"seeds": [0, 2**32]}, ["config key 'seeds[1]': 4294967296 is greater than the maximum of 4294967295"]),
    ({"seeds": list(range(51))}, ["config key 'seeds'", "is too long"]),
    ({"seeds": 3}, ["config key 'seeds'", "not of type 'array'"]),
    ({"seeds": ["1"]}, ["config key 'seeds[0]'", "write 1"]),
    ({"training": {"mlp": {"seeds": [3, 3]}}}, ["config key 'training.mlp.seeds': [3, 3] has non-unique elements"]),
    ({"training": {"mlp": {"seeds": []}}}, ["config key 'training.mlp.seeds': [] should be non-empty"]),
    ({"training": {"digitcnn": {"seeds": [0, -2]}}}, ["config key 'training.digitcnn.seeds[1]': -2 is less than the minimum of 0"]),
    ({"training": {"digitcnn": {"seeds": [2**32]}}}, ["config key 'training.digitcnn.seeds[0]': 4294967296 is greater than the maximum of 4294967295"]),
    # Attribution: an occlusion window that cannot fit, a stride that skips pixels.
    ({"attribution": {"occlusion_window": 30}}, ["config key 'attribution.occlusion_window': 30 pixels is larger than the 28-pixel images; choose at most 28"]),
    ({"attribution": {"occlusion_window": 3, "occlusion_stride": 4}}, ["config key 'attribution.occlusion_stride': 4 pixels is larger than the window (3)", "choose at most 3"]),
    ({"attribution": {"occlusion_window": 6, "occlusion_stride": 4}}, ["config key 'attribution.occlusion_stride': a 6-pixel window moved 4 pixels at a time never reaches the last 2 pixel(s) of the 28-pixel images; choose a stride of 1, 2 (or another window)"]),
    ({"attribution": {"baseline": "white"}}, ["config key 'attribution.baseline'", "black, mean"]),
    ({"attribution": {"images": 5}}, ["config key 'attribution.images'", "minimum of 10"]),
    ({"training": {"digitcnn": {"compile": "max-autotune"}}}, ["config key 'training.digitcnn.compile'", "'max-autotune' is not allowed; allowed values: false, true, reduce-overhead"]),
    ({"attribution": {"grad_cam_layer": "features.3"}}, ["'attribution.grad_cam_layer' is not a known setting"]),
]


@pytest.mark.parametrize("config,fragments", BAD_CONFIGS, ids=[str(c)[:90] for c, _ in BAD_CONFIGS])
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


def test_edge_values_pass() -> None:
    config = check({"seed": 2**32 - 1, "compare": {"permutation": {"seed": 0},
                                                 "data_efficiency": {"fractions": [0.00019, 0.3, 0.30000001, 1.0]}},
                    "title": "Свёрточные сети: αβγ — “what they learn” ≤ 5 € → 2026"})
    assert config["seed"] == 2**32 - 1


def test_every_seed_is_bounded_for_numpy_and_torch() -> None:
    seeds = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                if key == "seed":
                    seeds.append(path + key)
                    sub = SCHEMA["$defs"]["seed"] if sub.get("$ref") == "#/$defs/seed" else sub
                    assert (sub["minimum"], sub["maximum"]) == (0, 2**32 - 1), path + key
                walk(sub, f"{path}{key}.")
    walk(SCHEMA, "")
    assert seeds == ["seed", "compare.permutation.seed"]


def smk_constraint(rules_file: str, wildcard: str) -> str:
    """A wildcard constraint as written in a rules file (BASE_DATASET filled in)."""
    text = (PROJECT / "workflow" / "rules" / rules_file).read_text()
    found = re.search(rf'^\s*{wildcard}=f?"([^"]+)"', text, re.M)
    assert found, f"no {wildcard} constraint in {rules_file}"
    return found.group(1).replace("{BASE_DATASET}", "|".join(DATASETS))


@pytest.mark.parametrize("fraction", [1e-05, 0.3, 0.30000001, 0.01])
def test_subset_names_round_trip_and_fit_the_wildcards(fraction: float) -> None:
    name = subset_dataset_name("mnist", fraction)
    assert split_dataset_name(name) == ("mnist", "subset", fraction)
    assert "e" not in name.removeprefix("mnist_subset_")
    assert re.fullmatch(smk_constraint("common.smk", "dataset"), name)
    assert re.fullmatch(smk_constraint("data.smk", "derivation"), name.removeprefix("mnist_"))


def test_a_key_given_twice_names_the_file_and_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("training:\n  digitcnn: {epochs: 1}\nseed: 1\ntraining:\n  mlp: {epochs: 2}\n")
    with pytest.raises(ConfigError, match=re.escape(
            f"config file {path}, line 4, column 1: key 'training' is given twice (first on line 1)")):
        load_config_file(path)
    path.write_text("training:\n  mlp: {epochs: 1}\n  mlp: {lr: 0.1}\n")
    with pytest.raises(ConfigError, match="line 3, column 3: key 'mlp' is given twice"):
        load_config_file(path)


def test_strict_loading_keeps_what_yaml_allows(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("recipe: &fast {epochs: 1, lr: 0.01}\ntraining:\n  mlp: {<<: *fast, epochs: 2}\n"
                    "  digitcnn: {lr: .nan}\n")
    config = load_config_file(path)
    assert config["training"]["mlp"] == {"epochs": 2, "lr": 0.01}
    assert math.isnan(config["training"]["digitcnn"]["lr"])


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("seed: 1\ntraining:\n  digitcnn: {epochs: 1\n  mlp: {epochs: 2}\n")
    with pytest.raises(ConfigError) as error:
        load_config_file(path)
    message = str(error.value)
    assert f"config file {path}, line 4, column 6" in message
    assert "on line 3" in message and "fix the YAML there" in message


def test_the_title_scripts_are_the_ones_the_installed_font_draws() -> None:
    """Every character the title check lets through has a glyph in DejaVu Sans (regular and bold,
    as the header and the title page use them)."""
    from fontTools.ttLib import TTFont

    if shutil.which("fc-match") is None:
        pytest.skip("no fontconfig here")
    spans = [span for group in TITLE_SCRIPTS.values() for span in group] + list(TITLE_MARKS)
    wanted = {c for lo, hi in spans for c in range(lo, hi + 1)
              if unicodedata.category(chr(c)) not in ("Cn", "Cc", "Cf", "Zl", "Zp")}
    for style in ("DejaVu Sans", "DejaVu Sans:bold"):
        file = subprocess.run(["fc-match", "-f", "%{file}", style], capture_output=True, text=True).stdout
        assert "DejaVuSans" in file, f"fontconfig gives {file} for {style}"
        missing = wanted - set(TTFont(file)["cmap"].getBestCmap())
        assert not missing, f"{style} lacks {sorted(hex(c) for c in missing)[:10]}"


def test_the_validation_split_must_leave_training_images() -> None:
    assert check({})["data"]["validation_size"] == "auto"
    assert check({"data": {"validation_size": 0}})["data"]["validation_size"] == 0
    with pytest.raises(ConfigError, match=r"'data.validation_size': 60000 images cannot be held out "
                                          r"of mnist's 60,000 training images"):
        check({"data": {"validation_size": 60000}})
    for bad in (-1, "lots", 0.5):
        with pytest.raises(ConfigError, match="data.validation_size"):
            check({"data": {"validation_size": bad}})

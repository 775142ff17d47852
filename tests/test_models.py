"""The model zoo: every registered model builds, runs and has its declared parameter count."""

from __future__ import annotations

import operator

import pytest
import torch
from cnnlab.models import count_parameters, create_model, list_models, model_spec, register_model
from torch import nn

ARTICLE_COUNTS = {"digitcnn": 206_922, "lenet5": 61_706, "mlp": 535_818, "simplecnn_bn": 421_834}


def test_zoo_holds_every_architecture_of_the_issue() -> None:
    assert set(list_models()) == {
        "logreg", "mlp", "digitcnn", "digitcnn_gap", "simplecnn_bn", "lenet5",
        "resnet_small", "cifar_simplecnn", "cifar_vgg",
    }


@pytest.mark.parametrize("name", list_models())
def test_model_builds_runs_and_matches_declared_parameters(name: str) -> None:
    spec = model_spec(name)
    torch.manual_seed(0)
    model = create_model(name)
    assert count_parameters(model) == spec.num_params
    assert isinstance(model.features, nn.Module) and isinstance(model.classifier, nn.Module)
    model.eval()
    out = model(torch.randn(3, *spec.input_shape))
    assert out.shape == (3, 10)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name,count", sorted(ARTICLE_COUNTS.items()))
def test_article_parameter_counts(name: str, count: int) -> None:
    assert count_parameters(create_model(name)) == count


def test_digitcnn_layer_parameters_match_the_article_table() -> None:
    model = create_model("digitcnn")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    fcs = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [count_parameters(m) for m in convs + fcs] == [160, 4_640, 200_832, 1_290]


def test_models_reject_the_wrong_input_shape() -> None:
    with pytest.raises(RuntimeError):
        create_model("digitcnn")(torch.randn(2, 3, 32, 32))


def test_num_classes_changes_the_head() -> None:
    assert create_model("digitcnn", num_classes=3)(torch.randn(1, 1, 28, 28)).shape == (1, 3)


def test_duplicate_registration_raises() -> None:
    create_model("digitcnn")  # imports its family, which registers it

    def digitcnn(num_classes: int = 10) -> nn.Module:  # same name as the zoo's
        return nn.Linear(1, num_classes)

    with pytest.raises(ValueError, match="already registered"):
        register_model(digitcnn)


def test_an_undeclared_model_cannot_register() -> None:
    def resnet50(num_classes: int = 10) -> nn.Module:
        return nn.Linear(1, num_classes)

    with pytest.raises(ValueError, match="not declared in cnnlab/models/catalog.py"):
        register_model(resnet50)


@pytest.mark.parametrize("name", list_models())
def test_declared_layer_kinds_match_the_built_network(name: str) -> None:
    """The catalogue's facts decide which analyses run; they must describe the real network."""
    spec = model_spec(name)
    modules = list(create_model(name).modules())
    assert spec.is_convolutional == any(isinstance(m, nn.Conv2d) for m in modules)
    assert spec.has_relu == any(isinstance(m, (nn.ReLU, nn.ReLU6)) for m in modules)
    assert spec.has_batch_norm == any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                                      for m in modules)
    # A skip connection: the traced graph adds two tensors (a bias add is inside a module).
    graph = torch.fx.symbolic_trace(create_model(name)).graph
    adds = [n for n in graph.nodes if n.op == "call_function" and n.target in (operator.add, torch.add)
            and sum(isinstance(a, torch.fx.Node) for a in n.args) == 2]
    assert spec.has_skip == bool(adds)
    assert type(create_model(name)).__module__ == f"cnnlab.models.{spec.family}"


def test_reading_the_catalogue_does_not_import_torch() -> None:
    """Snakemake's parse step reads models, datasets, artifacts and the config checks."""
    import subprocess
    import sys

    code = ("import sys; import cnnlab.models, cnnlab.datasets, cnnlab.artifacts, cnnlab.config, "
            "cnnlab.hardware; cnnlab.models.model_spec('digitcnn'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_model_lists_known_ones() -> None:
    with pytest.raises(KeyError, match="digitcnn_gap"):
        create_model("resnet50")


def test_seeded_construction_is_repeatable() -> None:
    torch.manual_seed(3)
    a = create_model("simplecnn_bn").state_dict()
    torch.manual_seed(3)
    b = create_model("simplecnn_bn").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)

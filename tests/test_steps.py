"""The step functions the adapters call, chained on a small synthetic dataset the test writes
(no real MNIST needed): each step's files, and the facts that tie them together."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from cnnlab import artifacts, kept_runs, manifest
from cnnlab.io import read_csv, read_json
from cnnlab.models import count_parameters, create_model
from cnnlab.predictions import load_correct
from cnnlab.steps import compare, data, evaluate, inspect, train
from conftest import write_idx_dataset

ARCHS = ["digitcnn", "mlp"]
RECIPE = {"epochs": 2, "batch_size": 16, "bf16": False}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prepared data, a permuted copy, and a trained and evaluated run of each architecture."""
    root = tmp_path_factory.mktemp("steps")
    write_idx_dataset(root / "source" / "MNIST" / "raw", n_train=60, n_test=30)
    data.prepare_data("mnist", project_dir=root, env_data_path=str(root / "source"),
                      search_path=[], download=False, verify_checksums=False, train_limit=None,
                      test_limit=None, validation_size=20, seed=0, npz_path=root / "mnist.npz",
                      record_path=root / "mnist.json")
    data.derive_dataset(name="mnist_permuted", npz_path=root / "mnist.npz",
                        record_path=root / "mnist.json", seed=1, out_npz=root / "perm.npz",
                        out_record=root / "perm.json")
    for dataset, npz, record in (("mnist", "mnist.npz", "mnist.json"),
                                 ("mnist_permuted", "perm.npz", "perm.json")):
        for arch in ARCHS:
            run = root / dataset / arch
            run.mkdir(parents=True)
            train_run(root, dataset, arch, npz, record)
            evaluate.evaluate_model(
                dataset=dataset, arch=arch, threads=1, npz_path=root / npz,
                record_path=root / record, model_path=run / artifacts.TRAIN.model,
                train_record_path=run / artifacts.TRAIN.record,
                metrics_path=run / artifacts.EVALUATE.metrics,
                predictions_path=run / artifacts.EVALUATE.predictions,
                confusion_path=run / artifacts.EVALUATE.confusion,
                misclassified_path=run / artifacts.EVALUATE.misclassified,
                history_path=run / artifacts.TRAIN.history, curves_path=run / artifacts.EVALUATE.curves,
                batch_size=7, misclassified=9)
    return root


def train_run(root: Path, dataset: str, arch: str, npz: str, record: str) -> dict:
    run = root / dataset / arch
    return train.train_model(
        dataset=dataset, arch=arch, settings=RECIPE, seed=0, threads=1, npz_path=root / npz,
        record_path=root / record, checkpoint_dir=root / "checkpoints" / dataset / arch,
        kept_runs_dir=root / "runs" / dataset / arch, model_path=run / artifacts.TRAIN.model,
        history_path=run / artifacts.TRAIN.history, train_record_path=run / artifacts.TRAIN.record,
        eval_batch_size=7)


def test_prepared_and_derived_data(runs: Path) -> None:
    record, permuted = read_json(runs / "mnist.json"), read_json(runs / "perm.json")
    assert (record["train_size"], record["validation_size"], record["test_size"]) == (40, 20, 30)
    assert record["source"]["folder"].endswith("MNIST/raw") and not record["is_sample"]
    assert permuted["dataset"] == "mnist_permuted"
    assert permuted["derived"] == {"kind": "pixel_permutation", "from": "mnist", "seed": 1}
    with np.load(runs / "mnist.npz") as plain, np.load(runs / "perm.npz") as shuffled:
        order = shuffled["permutation"]
        moved = plain["test_images"].reshape(30, 1, -1)[:, :, order].reshape(30, 1, 28, 28)
        assert np.array_equal(moved, shuffled["test_images"])


def test_training_records_and_the_kept_run(runs: Path) -> None:
    run = runs / "mnist" / "digitcnn"
    record = read_json(run / artifacts.TRAIN.record)
    history = read_csv(run / artifacts.TRAIN.history)
    assert [int(r["epoch"]) for r in history] == [1, 2]
    assert record["parameters"] == record["declared_parameters"] == 206_922
    assert record["final_validation_accuracy"] == float(history[-1]["val_acc"])
    assert record["validation_size"] == 20 and record["train_size"] == 40
    kept = runs / "runs" / "mnist" / "digitcnn" / record["run_id"][:16]
    assert sorted(p.name for p in kept.iterdir() if not p.name.startswith(".")) == sorted(artifacts.TRAIN)
    before = (run / artifacts.TRAIN.model).read_bytes()
    (run / artifacts.TRAIN.model).unlink()
    restored = train_run(runs, "mnist", "digitcnn", "mnist.npz", "mnist.json")
    assert restored["restored_from"] == str(kept)
    assert (run / artifacts.TRAIN.model).read_bytes() == before
    assert not any((runs / "checkpoints").rglob("*.pt"))  # removed once the run finished


def test_a_restored_run_says_so_in_the_terminal_and_retrain_trains(
        runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A copy of the kept runs and outputs of its own: the other tests read the fixture's.
    shutil.copytree(runs / "runs" / "mnist" / "mlp", tmp_path / "kept")
    terminal = io.StringIO()  # the stderr Snakemake shows; the step's own goes to its log
    monkeypatch.setattr(sys, "__stderr__", terminal)

    def train_mlp(retrain: bool) -> dict:
        return train.train_model(
            dataset="mnist", arch="mlp", settings=RECIPE, seed=0, threads=1,
            npz_path=runs / "mnist.npz", record_path=runs / "mnist.json",
            checkpoint_dir=tmp_path / "checkpoints", kept_runs_dir=tmp_path / "kept",
            model_path=tmp_path / artifacts.TRAIN.model, history_path=tmp_path / artifacts.TRAIN.history,
            train_record_path=tmp_path / artifacts.TRAIN.record, eval_batch_size=7, retrain=retrain)

    restored = train_mlp(retrain=kept_runs.retrain_requested({}))
    kept = Path(restored["restored_from"])
    said = terminal.getvalue()
    assert f"mnist/mlp: restored the finished run {restored['run_id'][:16]} from {kept}" in said
    assert f"To train it again for real: CNNLAB_RETRAIN=1 snakemake --forcerun {tmp_path / 'model.pt'}" in said

    monkeypatch.setenv(kept_runs.RETRAIN_VARIABLE, "1")
    retrained = train_mlp(retrain=kept_runs.retrain_requested())
    assert "restored_from" not in retrained and retrained["run_id"] == restored["run_id"]
    assert [int(r["epoch"]) for r in read_csv(tmp_path / artifacts.TRAIN.history)] == [1, 2]
    assert "mnist/mlp: training again although a finished run may be kept" in terminal.getvalue()
    # The new run replaces the kept copy, recorded like any other.
    assert (kept / artifacts.TRAIN.model).read_bytes() == (tmp_path / artifacts.TRAIN.model).read_bytes()
    assert all(manifest.check_artifact(kept / name) is None for name in artifacts.TRAIN)


def test_the_retrain_variable_names_its_values() -> None:
    assert kept_runs.retrain_requested({"CNNLAB_RETRAIN": "1"}) is True
    assert kept_runs.retrain_requested({"CNNLAB_RETRAIN": "0"}) is False
    with pytest.raises(ValueError, match="CNNLAB_RETRAIN='maybe' is neither on nor off: set it to 1"):
        kept_runs.retrain_requested({"CNNLAB_RETRAIN": "maybe"})


def test_evaluation_scores_the_final_model_on_the_test_split(runs: Path) -> None:
    import torch

    with np.load(runs / "mnist.npz") as arrays:
        images, labels = arrays["test_images"], arrays["test_labels"]
    norm = read_json(runs / "mnist.json")["normalization"]
    x = (torch.from_numpy(images).float() / 255 - norm["mean"][0]) / norm["std"][0]
    for arch in ARCHS:
        run = runs / "mnist" / arch
        metrics = read_json(run / artifacts.EVALUATE.metrics)
        model = create_model(arch)
        model.load_state_dict(torch.load(run / artifacts.TRAIN.model, weights_only=True))
        with torch.no_grad():
            direct = (model.eval()(x).argmax(1).numpy() == labels).mean()
        assert metrics["test_accuracy"] == pytest.approx(direct, abs=1e-6)
        assert np.asarray(metrics["confusion_matrix"]).sum() == metrics["test_size"] == 30
        assert metrics["errors"] == round(30 * (1 - metrics["test_accuracy"]))
        for name in artifacts.EVALUATE:
            if name.endswith(".png"):
                assert (run / name).read_bytes()[:4] == b"\x89PNG"
        # The saved predictions give the same accuracy, inside its bootstrap interval.
        correct = load_correct(run / artifacts.EVALUATE.predictions)
        assert len(correct) == 30 and correct.mean() == pytest.approx(metrics["test_accuracy"])
        interval = metrics["test_accuracy_interval"]
        assert interval["low"] <= metrics["test_accuracy"] <= interval["high"]


def test_inspection_steps(runs: Path, tmp_path: Path) -> None:
    run = runs / "mnist" / "digitcnn"
    common = {"dataset": "mnist", "arch": "digitcnn"}
    summary = inspect.extract_filters(
        **common, seed=0, model_path=run / "model.pt", record_path=runs / "mnist.json",
        filters_path=tmp_path / "f.png", signed_path=tmp_path / "s.png",
        similarity_csv=tmp_path / "sim.csv", similarity_png=tmp_path / "sim.png",
        deeper_path=tmp_path / "deep.png")
    similarity = read_csv(tmp_path / "sim.csv")
    assert [r["state"] for r in similarity].count("trained") == 16  # DigitCNN's first conv
    assert 0 <= summary["trained_mean_best"] <= 1
    index = inspect.extract_feature_maps(
        **common, seed=0, channels=4, npz_path=runs / "mnist.npz", record_path=runs / "mnist.json",
        model_path=run / "model.pt", out_dir=tmp_path / artifacts.FEATURE_MAPS.maps)
    written = read_json(tmp_path / artifacts.FEATURE_MAPS.maps / artifacts.FEATURE_MAPS.index)
    assert written["layers"] == json.loads(json.dumps(index)) and len(index) == 2
    sparsity = inspect.measure_sparsity(
        **common, threads=1, batch_size=8, npz_path=runs / "mnist.npz",
        record_path=runs / "mnist.json", model_path=run / "model.pt",
        csv_path=tmp_path / "sparsity.csv", png_path=tmp_path / "sparsity.png")
    assert [r["layer"] for r in sparsity] == ["features.1", "features.4", "classifier.2"]
    fields = inspect.receptive_fields(
        **common, seed=0, npz_path=runs / "mnist.npz", record_path=runs / "mnist.json",
        csv_path=tmp_path / "rf.csv", png_path=tmp_path / "rf.png")
    assert [r["receptive_field"] for r in fields][:4] == [3, 4, 8, 10]
    rows = inspect.param_breakdown(**common, record_path=runs / "mnist.json",
                                   csv_path=tmp_path / "p.csv", png_path=tmp_path / "p.png",
                                   flow_path=tmp_path / "flow.png")
    assert sum(r["params"] for r in rows) == count_parameters(create_model("digitcnn"))


def test_comparison_steps(runs: Path, tmp_path: Path) -> None:
    def files(kind: str, arch_list: list[str], dataset: str = "mnist") -> list[str]:
        return [str(runs / dataset / a / kind) for a in arch_list]

    inspect.param_breakdown(dataset="mnist", arch="mlp", record_path=runs / "mnist.json",
                            csv_path=runs / "mnist" / "mlp" / "params.csv",
                            png_path=tmp_path / "a.png", flow_path=tmp_path / "b.png")
    inspect.param_breakdown(dataset="mnist", arch="digitcnn", record_path=runs / "mnist.json",
                            csv_path=runs / "mnist" / "digitcnn" / "params.csv",
                            png_path=tmp_path / "c.png", flow_path=tmp_path / "d.png")
    cost = compare.compare_cost(dataset="mnist", archs=ARCHS, metrics=files("metrics.json", ARCHS),
                                train=files("train.json", ARCHS), params=files("params.csv", ARCHS),
                                csv_path=tmp_path / "cost.csv", png_path=tmp_path / "cost.png")
    assert [r["parameters"] for r in cost] == [206_922, 535_818]
    shifted = compare.compare_translation(
        dataset="mnist", archs=ARCHS, models=files("model.pt", ARCHS),
        train_records=files("train.json", ARCHS), npz_path=runs / "mnist.npz",
        record_path=runs / "mnist.json", max_shift=2, batch_size=8, threads=1,
        csv_path=tmp_path / "t.csv", png_path=tmp_path / "t.png")
    assert len(shifted) == len(ARCHS) * 3 * 3
    for arch in ARCHS:  # shift 0 is the evaluation itself, to the last image
        unshifted = {r["accuracy"] for r in shifted if r["arch"] == arch and r["shift"] == 0}
        assert unshifted == {read_json(runs / "mnist" / arch / "metrics.json")["test_accuracy"]}
    permutation = compare.compare_permutation(
        dataset="mnist", archs=ARCHS, original=files("metrics.json", ARCHS),
        permuted=files("metrics.json", ARCHS, "mnist_permuted"),
        original_predictions=files("predictions.npz", ARCHS),
        permuted_predictions=files("predictions.npz", ARCHS, "mnist_permuted"),
        permuted_record=runs / "perm.json", csv_path=tmp_path / "perm.csv", png_path=tmp_path / "perm.png")
    assert {r["permutation_seed"] for r in permutation} == {1}
    assert all(r["change"] == pytest.approx(r["accuracy_permuted"] - r["accuracy_original"])
               for r in permutation)
    assert all(r["change_low"] <= r["change"] <= r["change_high"] and 0 <= r["p_value"] <= 1
               for r in permutation)
    dynamics = compare.compare_training_dynamics(
        dataset="mnist", archs=ARCHS, histories=files("history.csv", ARCHS),
        csv_path=tmp_path / "dyn.csv", png_path=tmp_path / "dyn.png")
    assert len(dynamics) == 2 * RECIPE["epochs"]
    dense = compare.compare_dense_equivalent(
        dataset="mnist", archs=ARCHS, csv_path=tmp_path / "dense.csv",
        thought_csv=tmp_path / "thought.csv", png_path=tmp_path / "dense.png")
    assert [r["conv_params"] for r in dense] == [160, 4_640]  # the mlp has no convolution

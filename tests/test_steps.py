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
import torch
from cnnlab import artifacts, kept_runs, manifest
from cnnlab.analysis import weights
from cnnlab.inference import initial_model, load_trained_model
from cnnlab.io import read_csv, read_json, typed_rows
from cnnlab.models import count_parameters, create_model
from cnnlab.predictions import load_correct
from cnnlab.steps import compare, compare_models, data, evaluate, inspect, train
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
            train_run(root, dataset, arch, npz, record)
            evaluate_run(root, dataset, arch, npz, record)
    return root


@pytest.fixture(scope="module")
def more_seeds(runs: Path) -> Path:
    """The fixture's runs, and: a second seed (1) of both models on mnist and of the mlp on
    mnist_permuted; both models (seed 0) on a half-size training subset (mnist_subset_0.5)."""
    data.derive_dataset(name="mnist_subset_0.5", npz_path=runs / "mnist.npz",
                        record_path=runs / "mnist.json", seed=0, out_npz=runs / "subset.npz",
                        out_record=runs / "subset.json")
    for dataset, arch, seed, npz, record in (
            ("mnist", "digitcnn", 1, "mnist.npz", "mnist.json"),
            ("mnist", "mlp", 1, "mnist.npz", "mnist.json"),
            ("mnist_permuted", "mlp", 1, "perm.npz", "perm.json"),
            ("mnist_subset_0.5", "digitcnn", 0, "subset.npz", "subset.json"),
            ("mnist_subset_0.5", "mlp", 0, "subset.npz", "subset.json")):
        train_run(runs, dataset, arch, npz, record, seed)
        evaluate_run(runs, dataset, arch, npz, record, seed)
    return runs


def run_dir(root: Path, dataset: str, arch: str, seed: int = 0) -> Path:
    """Where the pipeline puts a run: the first seed (0 here) at {dataset}/{arch}/, every other
    seed under {dataset}/{arch}/seed_{n}/ (artifacts.run_file)."""
    return root / Path(artifacts.run_file("", dataset, arch, None if seed == 0 else seed)
                       ).relative_to(artifacts.RESULTS)


def train_run(root: Path, dataset: str, arch: str, npz: str, record: str, seed: int = 0) -> dict:
    run = run_dir(root, dataset, arch, seed)
    run.mkdir(parents=True, exist_ok=True)
    return train.train_model(
        dataset=dataset, arch=arch, settings=RECIPE, seed=seed, threads=1, npz_path=root / npz,
        record_path=root / record, checkpoint_dir=root / "checkpoints" / dataset / arch,
        kept_runs_dir=root / "runs" / dataset / arch, model_path=run / artifacts.TRAIN.model,
        history_path=run / artifacts.TRAIN.history, train_record_path=run / artifacts.TRAIN.record,
        trajectory_path=run / artifacts.TRAIN.trajectory, eval_batch_size=7)


def evaluate_run(root: Path, dataset: str, arch: str, npz: str, record: str, seed: int = 0,
                 out: Path | None = None) -> dict:
    """Evaluate a trained run as its train job does, and draw its misclassified images as rule
    plot_misclassified does; the outputs go to the run's folder, or to ``out``."""
    run = run_dir(root, dataset, arch, seed)
    out = out or run
    metrics = train.evaluate_model(
        dataset=dataset, arch=arch, threads=1, npz_path=root / npz,
        record_path=root / record, model_path=run / artifacts.TRAIN.model,
        train_record_path=run / artifacts.TRAIN.record,
        metrics_path=out / artifacts.EVALUATE.metrics,
        predictions_path=out / artifacts.EVALUATE.predictions,
        logits_path=out / artifacts.EVALUATE.logits,
        confusion_path=out / artifacts.EVALUATE.confusion,
        history_path=run / artifacts.TRAIN.history, curves_path=out / artifacts.EVALUATE.curves,
        batch_size=7)
    evaluate.plot_misclassified_images(
        dataset=dataset, arch=arch, npz_path=root / npz, record_path=root / record,
        train_record_path=run / artifacts.TRAIN.record,
        predictions_path=out / artifacts.EVALUATE.predictions,
        misclassified_path=out / artifacts.EVALUATE.misclassified, misclassified=9)
    return metrics


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
            train_record_path=tmp_path / artifacts.TRAIN.record,
            trajectory_path=tmp_path / artifacts.TRAIN.trajectory, eval_batch_size=7, retrain=retrain)

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
        assert (metrics["arch"], metrics["dataset"], metrics["seed"]) == (arch, "mnist", 0)
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


def test_the_misclassified_figure_shows_the_most_confident_errors(runs: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    run = runs / "mnist" / "mlp"
    with np.load(run / artifacts.EVALUATE.predictions) as arrays:
        labels, predicted, confidence = arrays["labels"], arrays["predicted"], arrays["confidence"]
    wrong = [i for i in range(len(labels)) if labels[i] != predicted[i]]
    assert len(wrong) >= 3  # two epochs on 40 images: plenty of errors among 30 test images
    drawn = {}

    def recording(images, captions, title, path, **kwargs):
        drawn.update(images=images, captions=captions, title=title, **kwargs)

    monkeypatch.setattr(evaluate.figures, "plot_misclassified", recording)
    shown = evaluate.plot_misclassified_images(
        dataset="mnist", arch="mlp", npz_path=runs / "mnist.npz", record_path=runs / "mnist.json",
        train_record_path=run / artifacts.TRAIN.record,
        predictions_path=run / artifacts.EVALUATE.predictions,
        misclassified_path=tmp_path / "m.png", misclassified=3)
    # The three errors of highest confidence, most confident first, each captioned with its
    # true and predicted class and confidence, over the images of the test split.
    expected = sorted(wrong, key=lambda i: -confidence[i])[:3]
    assert shown == expected
    with np.load(runs / "mnist.npz") as arrays:
        assert np.array_equal(drawn["images"], arrays["test_images"][expected])
    i = expected[0]
    assert drawn["captions"][0] == f"true {labels[i]}\npred {predicted[i]} ({100 * confidence[i]:.0f}%)"
    assert (drawn["errors"], drawn["requested"]) == (len(wrong), 3)
    assert drawn["title"] == f"mlp on mnist, seed 0: the 3 most confident of {len(wrong)} misclassified test images"


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


def test_every_seed_is_a_run_of_its_own_and_its_figures_say_which(
        more_seeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    first, second = run_dir(more_seeds, "mnist", "mlp"), run_dir(more_seeds, "mnist", "mlp", 1)
    assert second == more_seeds / "mnist" / "mlp" / "seed_1"
    assert read_json(first / artifacts.TRAIN.record)["seed"] == 0
    assert read_json(second / artifacts.TRAIN.record)["seed"] == 1
    assert read_json(first / artifacts.TRAIN.record)["run_id"] != \
        read_json(second / artifacts.TRAIN.record)["run_id"]
    weights = [torch.load(folder / artifacts.TRAIN.model, weights_only=True)
               for folder in (first, second)]
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert read_json(second / artifacts.EVALUATE.metrics)["seed"] == 1

    # Each evaluation figure's title names the run: arch, dataset and seed.
    from cnnlab.plotting import evaluation as plots

    titles = []
    # (figure, the position of its title argument)
    for name, position in (("plot_confusion", 2), ("plot_curves", 1), ("plot_misclassified", 2)):
        original = getattr(plots, name)

        def recording(*args, _original=original, _position=position, **kwargs):
            titles.append(args[_position])
            return _original(*args, **kwargs)

        monkeypatch.setattr(plots, name, recording)
    evaluate_run(more_seeds, "mnist", "mlp", "mnist.npz", "mnist.json", 1, out=tmp_path)
    assert len(titles) == 3
    assert all(title.startswith("mlp on mnist, seed 1: ") for title in titles), titles
    assert read_json(tmp_path / artifacts.EVALUATE.metrics) == read_json(second / artifacts.EVALUATE.metrics)


def test_comparison_steps(more_seeds: Path, tmp_path: Path) -> None:
    runs = more_seeds

    def files(kind: str, labels: list[list], dataset: str = "mnist") -> list[str]:
        """The file ``kind`` of each [arch, seed] run, in the order of ``labels``."""
        return [str(run_dir(runs, dataset, arch, seed) / kind) for arch, seed in labels]

    def metrics_of(arch: str, seed: int = 0, dataset: str = "mnist") -> dict:
        return read_json(run_dir(runs, dataset, arch, seed) / "metrics.json")

    both = [["digitcnn", 0], ["digitcnn", 1], ["mlp", 0], ["mlp", 1]]  # two seeds each
    cnn_twice = [["digitcnn", 0], ["digitcnn", 1], ["mlp", 0]]  # the mlp once
    mlp_twice = [["digitcnn", 0], ["mlp", 0], ["mlp", 1]]  # the CNN once

    inspect.param_breakdown(dataset="mnist", arch="mlp", record_path=runs / "mnist.json",
                            csv_path=runs / "mnist" / "mlp" / "params.csv",
                            png_path=tmp_path / "a.png", flow_path=tmp_path / "b.png")
    inspect.param_breakdown(dataset="mnist", arch="digitcnn", record_path=runs / "mnist.json",
                            csv_path=runs / "mnist" / "digitcnn" / "params.csv",
                            png_path=tmp_path / "c.png", flow_path=tmp_path / "d.png")

    # Cost: the accuracy over seeds (t-interval) where there are two, the test-image bootstrap
    # of the one run where there is one; the parameter table is read once per architecture.
    cost = compare.compare_cost(dataset="mnist", runs=cnn_twice, archs=ARCHS,
                                metrics=files("metrics.json", cnn_twice),
                                train=files("train.json", cnn_twice),
                                params=[str(runs / "mnist" / a / "params.csv") for a in ARCHS],
                                csv_path=tmp_path / "cost.csv", png_path=tmp_path / "cost.png")
    assert [r["arch"] for r in cost] == ARCHS
    assert [r["parameters"] for r in cost] == [206_922, 535_818]
    assert [r["seeds"] for r in cost] == [2, 1]
    cnn, mlp = cost
    cnn_accuracies = [metrics_of("digitcnn", s)["test_accuracy"] for s in (0, 1)]
    assert cnn["test_accuracy"] == pytest.approx(np.mean(cnn_accuracies))
    assert cnn["interval"] == "t-interval over 2 seeds"
    assert cnn["accuracy_low"] <= cnn["test_accuracy"] <= cnn["accuracy_high"]
    bootstrap = metrics_of("mlp")["test_accuracy_interval"]
    assert (mlp["test_accuracy"], mlp["accuracy_low"], mlp["accuracy_high"], mlp["interval"]) == (
        metrics_of("mlp")["test_accuracy"], bootstrap["low"], bootstrap["high"], bootstrap["method"])
    trained = [read_json(f) for f in files("train.json", cnn_twice[:2])]
    assert cnn["seconds_per_epoch"] == pytest.approx(np.mean([t["seconds_per_epoch"] for t in trained]))
    assert list(read_csv(tmp_path / "cost.csv")[0]) == compare.COST_COLUMNS

    # Translation: every seed's rows; at the tested shift, each CNN against each MLP.
    shifted = compare_models.compare_translation(
        dataset="mnist", runs=both, models=files("model.pt", both),
        train_records=files("train.json", both), npz_path=runs / "mnist.npz",
        record_path=runs / "mnist.json", max_shift=2, batch_size=8, threads=1,
        csv_path=tmp_path / "t.csv", tests_csv=tmp_path / "t_tests.csv", png_path=tmp_path / "t.png")
    assert len(shifted) == len(both) * 3 * 3
    for arch, seed in both:  # shift 0 is each run's evaluation itself, to the last image
        unshifted = {r["accuracy"] for r in shifted
                     if (r["arch"], r["seed"]) == (arch, seed) and r["shift"] == 0}
        assert unshifted == {metrics_of(arch, seed)["test_accuracy"]}
    table = read_csv(tmp_path / "t.csv")
    assert list(table[0]) == ["arch", "seed", "direction", "shift", "accuracy"]
    assert sorted({(r["arch"], int(r["seed"])) for r in table}) == [tuple(run) for run in both]
    (test,) = read_csv(tmp_path / "t_tests.csv")  # one CNN, one MLP: one pair
    assert list(test) == compare_models.TRANSLATION_TEST_COLUMNS
    assert (test["cnn"], test["mlp"], test["direction"], int(test["shift"])) == (
        "digitcnn", "mlp", "horizontal", 1)
    assert (test["test"], int(test["seeds"])) == ("paired t-test over 2 seeds", 2)

    def at_tested_shift(arch: str) -> float:
        return float(np.mean([r["accuracy"] for r in shifted if r["arch"] == arch
                              and r["direction"] == "horizontal" and r["shift"] == 1]))

    assert float(test["cnn_accuracy"]) == pytest.approx(at_tested_shift("digitcnn"))
    assert float(test["mlp_accuracy"]) == pytest.approx(at_tested_shift("mlp"))
    check_evidence(test, float(test["cnn_accuracy"]) - float(test["mlp_accuracy"]))
    # With one seed of the CNN, the pair is one run each, tested on the test images.
    compare_models.compare_translation(
        dataset="mnist", runs=mlp_twice, models=files("model.pt", mlp_twice),
        train_records=files("train.json", mlp_twice), npz_path=runs / "mnist.npz",
        record_path=runs / "mnist.json", max_shift=2, batch_size=8, threads=1,
        csv_path=tmp_path / "t1.csv", tests_csv=tmp_path / "t1_tests.csv", png_path=tmp_path / "t1.png")
    (test,) = read_csv(tmp_path / "t1_tests.csv")
    assert (test["test"], int(test["seeds"])) == ("McNemar's exact test, one seed", 1)
    check_evidence(test, float(test["cnn_accuracy"]) - float(test["mlp_accuracy"]))

    # Permutation: the mlp with two seeds (paired over seeds), the CNN with one (McNemar).
    permutation = compare.compare_permutation(
        dataset="mnist", runs=mlp_twice, original=files("metrics.json", mlp_twice),
        permuted=files("metrics.json", mlp_twice, "mnist_permuted"),
        original_predictions=files("predictions.npz", mlp_twice),
        permuted_predictions=files("predictions.npz", mlp_twice, "mnist_permuted"),
        permuted_record=runs / "perm.json", csv_path=tmp_path / "perm.csv", png_path=tmp_path / "perm.png")
    assert [r["arch"] for r in permutation] == ARCHS
    assert {r["permutation_seed"] for r in permutation} == {1}
    assert all(r["change"] == pytest.approx(r["accuracy_permuted"] - r["accuracy_original"])
               for r in permutation)
    for r in permutation:
        check_evidence(r, r["accuracy_permuted"] - r["accuracy_original"])
        assert r["original_low"] <= r["accuracy_original"] <= r["original_high"]
        assert r["permuted_low"] <= r["accuracy_permuted"] <= r["permuted_high"]
        assert "mcnemar_statistic" not in r
    cnn, mlp = permutation
    assert (cnn["seeds"], cnn["test"]) == (1, "McNemar's exact test, one seed")
    assert cnn["interval"] == "percentile bootstrap over test images"
    assert (cnn["accuracy_original"], cnn["accuracy_permuted"]) == (
        metrics_of("digitcnn")["test_accuracy"], metrics_of("digitcnn", 0, "mnist_permuted")["test_accuracy"])
    assert (mlp["seeds"], mlp["test"]) == (2, "paired t-test over 2 seeds")
    assert mlp["interval"] == "t-interval over 2 seeds"
    assert mlp["accuracy_original"] == pytest.approx(
        np.mean([metrics_of("mlp", s)["test_accuracy"] for s in (0, 1)]))
    assert mlp["accuracy_permuted"] == pytest.approx(
        np.mean([metrics_of("mlp", s, "mnist_permuted")["test_accuracy"] for s in (0, 1)]))
    assert [r["arch"] for r in read_csv(tmp_path / "perm.csv")] == ARCHS

    # Data efficiency: half the training set with one seed each, all of it with two.
    efficiency_runs = [["digitcnn", 0.5, 0], ["digitcnn", 1.0, 0], ["digitcnn", 1.0, 1],
                       ["mlp", 0.5, 0], ["mlp", 1.0, 0], ["mlp", 1.0, 1]]

    def efficiency_files(kind: str) -> list[str]:
        return [str(run_dir(runs, "mnist" if fraction == 1.0 else "mnist_subset_0.5", arch, seed)
                    / kind) for arch, fraction, seed in efficiency_runs]

    efficiency = compare.compare_data_efficiency(
        dataset="mnist", runs=efficiency_runs, metrics=efficiency_files("metrics.json"),
        train=efficiency_files("train.json"), predictions=efficiency_files("predictions.npz"),
        csv_path=tmp_path / "eff.csv", tests_csv=tmp_path / "eff_tests.csv",
        png_path=tmp_path / "eff.png")
    assert [(r["arch"], r["fraction"], r["train_size"], r["seeds"]) for r in efficiency] == [
        ("digitcnn", 0.5, 20, 1), ("digitcnn", 1.0, 40, 2), ("mlp", 0.5, 20, 1), ("mlp", 1.0, 40, 2)]
    for r in efficiency:
        assert r["accuracy_low"] <= r["test_accuracy"] <= r["accuracy_high"]
    assert efficiency[1]["test_accuracy"] == pytest.approx(np.mean(cnn_accuracies))
    assert efficiency[1]["interval"] == "t-interval over 2 seeds"
    assert efficiency[0]["interval"] == "percentile bootstrap over test images"
    assert efficiency[0]["test_accuracy"] == metrics_of("digitcnn", 0, "mnist_subset_0.5")["test_accuracy"]
    tests = read_csv(tmp_path / "eff_tests.csv")
    assert list(tests[0]) == compare.DATA_EFFICIENCY_TEST_COLUMNS
    assert [(float(t["fraction"]), int(t["train_size"]), t["cnn"], t["mlp"], t["test"], int(t["seeds"]))
            for t in tests] == [(0.5, 20, "digitcnn", "mlp", "McNemar's exact test, one seed", 1),
                                (1.0, 40, "digitcnn", "mlp", "paired t-test over 2 seeds", 2)]
    for t in tests:
        here = {r["arch"]: r for r in efficiency if r["fraction"] == float(t["fraction"])}
        assert float(t["cnn_accuracy"]) == pytest.approx(here["digitcnn"]["test_accuracy"])
        assert float(t["mlp_accuracy"]) == pytest.approx(here["mlp"]["test_accuracy"])
        check_evidence(t, here["digitcnn"]["test_accuracy"] - here["mlp"]["test_accuracy"])

    # Training dynamics: every seed's curve, with its seed.
    dynamics = compare.compare_training_dynamics(
        dataset="mnist", runs=both, histories=files("history.csv", both),
        csv_path=tmp_path / "dyn.csv", png_path=tmp_path / "dyn.png")
    assert len(dynamics) == len(both) * RECIPE["epochs"]
    table = read_csv(tmp_path / "dyn.csv")
    assert list(table[0])[:3] == ["arch", "seed", "epoch"]
    assert sorted({(r["arch"], int(r["seed"])) for r in table}) == [tuple(run) for run in both]
    for arch, seed in both:
        history = read_csv(run_dir(runs, "mnist", arch, seed) / "history.csv")
        mine = [r for r in table if (r["arch"], int(r["seed"])) == (arch, seed)]
        assert [r["val_acc"] for r in mine] == [r["val_acc"] for r in history]

    dense = compare_models.compare_dense_equivalent(
        dataset="mnist", archs=ARCHS, csv_path=tmp_path / "dense.csv",
        thought_csv=tmp_path / "thought.csv", png_path=tmp_path / "dense.png")
    assert [r["conv_params"] for r in dense] == [160, 4_640]  # the mlp has no convolution
    for name in ("cost", "t", "t1", "perm", "eff", "dyn", "dense"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name


def check_evidence(row: dict, change: float) -> None:
    """A difference's columns (from a table row or a CSV line): the change B minus A inside its
    interval, a p-value, and `significant` exactly when test and interval agree."""
    value = {k: float(row[k]) for k in ("change", "change_low", "change_high", "p_value")}
    assert value["change"] == pytest.approx(change)
    assert value["change_low"] <= value["change"] <= value["change_high"]
    assert 0 <= value["p_value"] <= 1
    significant = row["significant"] if isinstance(row["significant"], bool) else \
        row["significant"] == "True"
    assert significant == (value["p_value"] < 0.05
                           and not value["change_low"] <= 0 <= value["change_high"])


def test_calibration_of_a_trained_run(runs: Path) -> None:
    """The train job's logits are the model's own on both splits, bit for bit; the calibrate
    step works from them alone: every test image in one bin, the NLL torch computes, the
    temperature fitted on the validation split without raising its NLL, the figure drawn."""
    import torch
    from cnnlab import datasets, inference
    from cnnlab.steps import calibrate

    run = run_dir(runs, "mnist", "digitcnn")
    saved = np.load(run / artifacts.EVALUATE.logits)
    data = datasets.load_prepared(runs / "mnist.npz", runs / "mnist.json")
    trained = inference.load_run("digitcnn", data, run / artifacts.TRAIN.model,
                                 run / artifacts.TRAIN.record, torch.device("cpu"))
    for split, name in ((data.test, "test"), (data.validation, "validation")):
        logits, labels = trained.logits(split, 7)
        assert saved[f"{name}_logits"].dtype == np.float32
        assert np.array_equal(saved[f"{name}_logits"], logits.numpy())
        assert np.array_equal(saved[f"{name}_labels"], labels.numpy())
    record = calibrate.calibrate_model(
        dataset="mnist", arch="digitcnn", logits_path=run / artifacts.EVALUATE.logits,
        train_record_path=run / artifacts.TRAIN.record, json_path=run / artifacts.CALIBRATION.json,
        png_path=run / artifacts.CALIBRATION.png)
    assert read_json(run / artifacts.CALIBRATION.json) == json.loads(json.dumps(record))
    assert sum(record["before"]["bins"]["counts"]) == record["test_size"] == 30
    assert sum(record["after"]["bins"]["counts"]) == 30
    torch_nll = torch.nn.functional.cross_entropy(
        torch.from_numpy(saved["test_logits"]).double(), torch.from_numpy(saved["test_labels"]))
    assert record["before"]["nll"] == pytest.approx(float(torch_nll), abs=1e-12)
    assert record["temperature_fitted"] and record["validation"]["size"] == 20
    assert record["validation"]["nll_after"] <= record["validation"]["nll_before"] + 1e-12
    assert record["batch_norm"] is False and record["seed"] == 0
    assert (run / artifacts.CALIBRATION.png).stat().st_size > 10_000


def test_a_run_without_a_validation_split_saves_empty_validation_logits(tmp_path: Path) -> None:
    """No validation split: the train job's evaluation saves (0, classes) validation logits,
    and calibration keeps T = 1, unfitted."""
    from cnnlab.steps import calibrate

    write_idx_dataset(tmp_path / "source" / "MNIST" / "raw", n_train=30, n_test=20)
    data.prepare_data("mnist", project_dir=tmp_path, env_data_path=str(tmp_path / "source"),
                      search_path=[], download=False, verify_checksums=False, train_limit=None,
                      test_limit=None, validation_size=0, seed=0, npz_path=tmp_path / "mnist.npz",
                      record_path=tmp_path / "mnist.json")
    train_run(tmp_path, "mnist", "mlp", "mnist.npz", "mnist.json")
    evaluate_run(tmp_path, "mnist", "mlp", "mnist.npz", "mnist.json")
    run = run_dir(tmp_path, "mnist", "mlp")
    saved = np.load(run / artifacts.EVALUATE.logits)
    assert saved["validation_logits"].shape == (0, 10) and saved["validation_labels"].shape == (0,)
    assert saved["test_logits"].shape == (20, 10)
    record = calibrate.calibrate_model(
        dataset="mnist", arch="mlp", logits_path=run / artifacts.EVALUATE.logits,
        train_record_path=run / artifacts.TRAIN.record, json_path=tmp_path / "c.json",
        png_path=tmp_path / "c.png")
    assert record["temperature"] == 1.0 and not record["temperature_fitted"]
    assert record["validation"] == {} and record["after"] == record["before"]


@pytest.mark.parametrize(("step", "absent"), [("evaluate", ("torch", "scipy")),
                                             ("calibrate", ("torch",)), ("compare", ("torch",))])
def test_light_steps_import_neither_torch_nor_what_they_do_not_use(
        step: str, absent: tuple[str, ...]) -> None:
    """Rules plot_misclassified and calibrate start in about a second because their steps
    never import torch (2-8 s on these machines); the figure needs no scipy either. The
    comparisons of the runs' records (cost, permutation, data efficiency, training dynamics)
    need no torch either: only compare_models' steps build models."""
    import subprocess

    code = (f"import sys; import cnnlab.steps.{step}; "
            f"print([m for m in {absent!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_attribution_of_a_trained_run(runs: Path) -> None:
    """The explain_decisions step on the fixture's digitcnn: one image per class present in
    the test split and the most confident errors, Grad-CAM on the last convolution's ReLU,
    the checks over the whole (small) test split, four figures."""
    from cnnlab.steps import explain

    run = run_dir(runs, "mnist", "digitcnn")
    paths = {key: run / name for key, name in artifacts.ATTRIBUTION._asdict().items()}
    record = explain.explain_decisions(
        dataset="mnist", arch="digitcnn", threads=1, npz_path=runs / "mnist.npz",
        record_path=runs / "mnist.json", model_path=run / artifacts.TRAIN.model,
        train_record_path=run / artifacts.TRAIN.record, mosaic_path=paths["mosaic"],
        checks_path=paths["checks"], checks_png_path=paths["checks_plot"],
        randomisation_path=paths["randomisation"], seed=0, misclassified=3, images=500,
        randomisation_images=4, steps=4, occlusion_window=4, occlusion_stride=4,
        baseline="black", batch_size=7)
    assert read_json(paths["checks"]) == json.loads(json.dumps(record))
    data = np.load(runs / "mnist.npz")
    test_labels = data["test_labels"]
    examples = [e for e in record["examples"] if e["group"] == "class"]
    assert [e["label"] for e in examples] == [str(c) for c in sorted(set(test_labels.tolist()))]
    assert all(test_labels[e["index"]] == int(e["label"]) for e in examples)
    wrong = [e for e in record["examples"] if e["group"] == "error"]
    assert len(wrong) <= 3 and all(e["label"] != e["predicted"] for e in wrong)
    assert [e["confidence"] for e in wrong] == sorted((e["confidence"] for e in wrong), reverse=True)
    assert record["grad_cam_layer"] == {"name": "features.4", "type": "ReLU", "shape": [32, 14, 14]}
    assert record["perturbation"]["images"] == len(test_labels) == 30
    assert record["randomisation"]["images"] == 4
    assert record["randomisation"]["layers"] == ["classifier.4", "classifier.1", "features.3", "features.0"]
    black = -record["settings"]["baseline_values"][0] * read_json(runs / "mnist.json")["normalization"]["std"][0]
    assert black == pytest.approx(read_json(runs / "mnist.json")["normalization"]["mean"][0])
    for path in paths.values():
        assert path.stat().st_size > 10_000


def test_effective_receptive_fields_of_a_trained_run(runs: Path) -> None:
    """The effective_receptive_fields step on the fixture's digitcnn: both convolutions at
    initialisation and trained, over the whole (small) test split, each inside its field."""
    from cnnlab.steps import units

    run = run_dir(runs, "mnist", "digitcnn")
    rows = units.effective_receptive_fields(
        dataset="mnist", arch="digitcnn", threads=1, seed=0, training_seed=0, images=500,
        npz_path=runs / "mnist.npz", record_path=runs / "mnist.json",
        model_path=run / artifacts.TRAIN.model, csv_path=run / artifacts.EFFECTIVE_FIELD.csv,
        png_path=run / artifacts.EFFECTIVE_FIELD.png)
    written = read_csv(run / artifacts.EFFECTIVE_FIELD.csv)
    assert [(r["layer"], r["state"]) for r in written] == [
        ("features.0", "init"), ("features.3", "init"), ("features.0", "trained"),
        ("features.3", "trained")]
    assert all(r["images"] == 30 and r["outside_mass"] == 0 for r in rows)
    # conv3x3 -> pool2 -> conv3x3: fields of 3 and 8 pixels (Araujo et al.'s recurrence).
    assert [r["receptive_field"] for r in rows[:2]] == [3, 8]
    first = rows[0]
    assert first["box_bottom"] - first["box_top"] + 1 == 3
    assert (run / artifacts.EFFECTIVE_FIELD.png).stat().st_size > 10_000


def test_top_activating_images_of_a_trained_run(runs: Path) -> None:
    """The top_activating_images step on the fixture's digitcnn: nine images per channel of
    both convolutions, strongest first, one figure per convolution."""
    from cnnlab.steps import units

    run = run_dir(runs, "mnist", "digitcnn")
    folder = run / artifacts.TOP_IMAGES.images
    index = units.top_activating_images(
        dataset="mnist", arch="digitcnn", threads=1, channels=4, batch_size=7,
        npz_path=runs / "mnist.npz", record_path=runs / "mnist.json",
        model_path=run / artifacts.TRAIN.model, folder=folder)
    assert read_json(folder / artifacts.TOP_IMAGES.index) == json.loads(json.dumps(index))
    assert [(layer["layer"], layer["channels"], layer["shown"]) for layer in index["layers"]] == [
        ("features.0", 16, 4), ("features.3", 32, 4)]
    for layer in index["layers"]:
        assert all(len(channel) == 9 for channel in layer["top"])
        for channel in layer["top"]:
            values = [entry["value"] for entry in channel]
            assert values == sorted(values, reverse=True)
            assert len({entry["image"] for entry in channel}) == 9
        assert (folder / layer["file"]).stat().st_size > 10_000


def test_embeddings_of_trained_runs_side_by_side(runs: Path) -> None:
    """embed_representations on both fixture models, then compare_embeddings: the scores in
    the table are those of each model's record, the figure drawn."""
    from cnnlab.steps import embeddings

    records = []
    for arch in ARCHS:
        run = run_dir(runs, "mnist", arch)
        records.append(embeddings.embed_representations(
            dataset="mnist", arch=arch, threads=1, seed=0, images=500, knn_images=500,
            neighbours=3, batch_size=7, npz_path=runs / "mnist.npz", record_path=runs / "mnist.json",
            model_path=run / artifacts.TRAIN.model,
            embedding_path=run / artifacts.EMBEDDING.embedding,
            json_path=run / artifacts.EMBEDDING.json))
    digitcnn, mlp = records
    assert (digitcnn["features"], mlp["features"]) == (128, 256)
    assert digitcnn["test_images"] == 30 and digitcnn["perplexity"] == pytest.approx(29 / 3)
    saved = np.load(run_dir(runs, "mnist", "digitcnn") / artifacts.EMBEDDING.embedding)
    assert saved["tsne"].shape == (30, 2)
    labels = np.load(runs / "mnist.npz")["test_labels"]
    assert np.array_equal(saved["labels"], labels[saved["indices"]])
    rows = embeddings.compare_embeddings(
        dataset="mnist", archs=ARCHS,
        embedding_paths=[run_dir(runs, "mnist", a) / artifacts.EMBEDDING.embedding for a in ARCHS],
        json_paths=[run_dir(runs, "mnist", a) / artifacts.EMBEDDING.json for a in ARCHS],
        classes=[str(c) for c in range(10)], csv_path=runs / "mnist" / artifacts.EMBEDDINGS.csv,
        png_path=runs / "mnist" / artifacts.EMBEDDINGS.png)
    assert [(r["arch"], r["knn_accuracy"]) for r in rows] == [
        ("digitcnn", digitcnn["knn_accuracy"]), ("mlp", mlp["knn_accuracy"])]
    assert (runs / "mnist" / artifacts.EMBEDDINGS.png).stat().st_size > 10_000


def test_optimal_inputs_of_a_trained_run(runs: Path) -> None:
    """optimise_inputs on the fixture's digitcnn: both convolutions, the first one's optima
    its kernels (cosine above 0.99), the second regularised."""
    from cnnlab.steps import units

    run = run_dir(runs, "mnist", "digitcnn")
    record = units.optimal_inputs(
        dataset="mnist", arch="digitcnn", threads=1, seed=0, steps=200, total_variation=0.02,
        npz_path=runs / "mnist.npz", record_path=runs / "mnist.json",
        model_path=run / artifacts.TRAIN.model, json_path=run / artifacts.OPTIMAL_INPUTS.json,
        png_path=run / artifacts.OPTIMAL_INPUTS.png)
    assert read_json(run / artifacts.OPTIMAL_INPUTS.json) == json.loads(json.dumps(record))
    first, second = record["layers"]
    assert (first["layer"], first["channels"], second["layer"], second["channels"]) == (
        "features.0", 16, "features.3", 32)
    assert min(first["cosine_to_kernel"]) > 0.99 and "cosine_to_kernel" not in second
    assert (first["total_variation"], second["total_variation"]) == (0.0, 0.02)
    assert record["radius"] > 1
    assert (run / artifacts.OPTIMAL_INPUTS.png).stat().st_size > 10_000


def test_weight_changes_of_a_trained_run(runs: Path, tmp_path: Path) -> None:
    """weight_changes on the fixture's digitcnn: every learned layer moved from the weights
    its seed draws; the trainer's trajectory starts there and ends at the trained weights, and
    a trajectory that does not is refused."""
    from cnnlab.steps import weights as weight_step

    run = run_dir(runs, "mnist", "digitcnn")
    paths = {"csv_path": run / artifacts.WEIGHT_CHANGES.csv,
             "png_path": run / artifacts.WEIGHT_CHANGES.png,
             "evolution_csv_path": run / artifacts.WEIGHT_CHANGES.evolution_csv,
             "evolution_png_path": run / artifacts.WEIGHT_CHANGES.evolution}
    common = {"dataset": "mnist", "arch": "digitcnn", "record_path": runs / "mnist.json",
              "model_path": run / artifacts.TRAIN.model}
    rows = weight_step.weight_changes(training_seed=0, trajectory_path=run / artifacts.TRAIN.trajectory,
                                **common, **paths)
    layers = ["features.0", "features.3", "classifier.1", "classifier.4"]
    assert [r["layer"] for r in read_csv(paths["csv_path"])] == layers
    assert all(0 < r["relative_change"] < 10 for r in rows)
    evolution = typed_rows(read_csv(paths["evolution_csv_path"]))
    epochs = RECIPE["epochs"]
    assert [(r["epoch"], r["layer"]) for r in evolution] == [
        (e, name) for e in range(epochs + 1) for name in layers]
    assert all(r["relative_change"] == 0 for r in evolution[:len(layers)])
    assert [r["relative_change"] for r in evolution[-len(layers):]] == pytest.approx(
        [r["relative_change"] for r in rows], rel=1e-5)
    for path in (paths["png_path"], paths["evolution_png_path"]):
        assert path.stat().st_size > 10_000
    # Another seed's draw is not where this run started: it is far from the trained weights,
    # and the trajectory, which starts at seed 0's draw, is refused as another run's.
    trained = load_trained_model("digitcnn", common["model_path"], 10, torch.device("cpu"))
    other = weights.weight_changes(initial_model("digitcnn", 10, 1), trained)
    assert all(o["relative_change"] > r["relative_change"] for o, r in zip(other, rows, strict=True))
    with pytest.raises(ValueError, match="does not belong to this model's run: its first kernels "
                       "are not the ones drawn from the training seed. Train again: CNNLAB_RETRAIN=1"):
        weight_step.weight_changes(training_seed=1, trajectory_path=run / artifacts.TRAIN.trajectory,
                             **common, **{k: tmp_path / v.name for k, v in paths.items()})

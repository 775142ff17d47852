"""The report's run-time table: the jobs of this config's DAG, not every benchmark file on disk."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cnnlab.report import context
from conftest import PROJECT
from workflow_helpers import small_config, snakemake, write_config

# Evaluates one function of the Snakefile for the config in a folder. Snakemake's API has no
# public way to call the workflow's own functions; WorkflowApi._workflow is the parsed workflow.
PROBE = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import OutputSettings, Quietness, ResourceSettings

snakefile, workdir, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
    workflow = api.workflow(snakefile=snakefile, workdir=workdir,
                            resource_settings=ResourceSettings(cores=1))
    print(json.dumps(workflow._workflow.globals[name](None)))
"""


def workflow_function(workdir: Path, name: str) -> Any:
    """What the Snakefile's function ``name`` returns (as JSON) for the config in ``workdir``."""
    result = subprocess.run([sys.executable, "-c", PROBE, str(PROJECT / "Snakefile"), str(workdir), name],
                            capture_output=True, text=True, timeout=300, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def planned_benchmarks(dry_run: str) -> dict[str, list[str]]:
    """{rule: its jobs' benchmark files} from the job list a dry run prints."""
    planned: dict[str, list[str]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", dry_run):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        benchmark = re.search(r"^\s+benchmark: (\S+)$", block, re.M)
        if rule and benchmark:
            planned.setdefault(rule.group(1), []).append(benchmark.group(1))
    return planned


def write_benchmark(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:01\t100.5\n")


def test_the_table_reads_only_the_listed_benchmarks(tmp_path: Path) -> None:
    results = tmp_path / "results"
    folder = results / "benchmarks"
    write_benchmark(folder / "mnist" / "digitcnn" / "train.tsv", 12.5)
    write_benchmark(folder / "mnist" / "digitcnn" / "seed_1" / "train.tsv", 13.0)  # a second seed
    write_benchmark(folder / "mnist" / "lenet5" / "train.tsv", 600.0)  # removed from the config
    write_benchmark(folder / "render_report.tsv", 30.0)  # the previous render
    listed = [folder / "mnist" / "digitcnn" / "train.tsv",
              folder / "mnist" / "digitcnn" / "seed_1" / "train.tsv",
              folder / "mnist" / "digitcnn" / "calibrate.tsv",  # not run yet: no file, no row
              folder / "data" / "mnist" / "prepare_data.tsv"]
    write_benchmark(folder / "data" / "mnist" / "prepare_data.tsv", 2.0)
    rows = context.read_benchmarks(results, listed)
    assert rows == [
        {"job": "mnist / digitcnn / train", "stage": "train", "seconds": 12.5, "max_rss_mb": 100.5},
        {"job": "mnist / digitcnn / seed_1 / train", "stage": "train", "seconds": 13.0,
         "max_rss_mb": 100.5},
        {"job": "data / mnist / prepare_data", "stage": "prepare_data", "seconds": 2.0,
         "max_rss_mb": 100.5}]


@pytest.mark.parametrize("mlp_seeds", [None, [0, 1]], ids=["one seed", "two mlp seeds"])
def test_the_report_times_exactly_the_jobs_this_config_implies(tmp_path: Path,
                                                                mlp_seeds: list[int] | None) -> None:
    # digitcnn and mlp; no lenet5. With two seeds of the mlp, its second seed's jobs too.
    write_config(tmp_path, small_config(mlp={"seeds": mlp_seeds}))
    write_benchmark(tmp_path / "results" / "benchmarks" / "mnist" / "lenet5" / "train.tsv", 600.0)
    listed = workflow_function(tmp_path, "job_benchmarks")
    planned = planned_benchmarks(snakemake(tmp_path, "-n", "--cores", "2").stdout)
    # The report's own job writes its benchmark after it ends: that file is an earlier render.
    assert planned.pop("render_report") == ["results/benchmarks/render_report.tsv"]
    assert sorted(listed) == sorted(path for paths in planned.values() for path in paths)
    assert len(listed) == len(set(listed)) > 10
    assert not [path for path in listed if "lenet5" in path]
    seeded = sorted(path for path in listed if "seed_" in path)
    if mlp_seeds is None:
        assert seeded == [] and "train_seed" not in planned
    else:  # the train job of seed 1 of each mlp run: mnist, permuted, the 0.5 subset
        assert seeded == sorted(f"results/benchmarks/{dataset}/mlp/seed_1/train.tsv"
                                for dataset in ("mnist", "mnist_permuted", "mnist_subset_0.5"))
        assert sorted(planned["train_seed"]) == seeded

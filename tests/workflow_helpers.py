"""Helpers of the workflow-level tests: run Snakemake on a small config in a folder."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import PROJECT, shared_data_path

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
SMALL_ARCHS = ["digitcnn", "mlp"]
HOSTILE_TITLE = 'Small run <script>alert("x")</script> & <b>bold</b>'


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    data = shared_data_path()
    if data is not None:
        env["CNNLAB_DATA_PATH"] = str(data)
    result = subprocess.run(
        [*SNAKEMAKE, "-s", str(PROJECT / "Snakefile"), "-d", str(workdir), *args],
        capture_output=True, text=True, env=env, timeout=900,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def small_config(**training: dict) -> dict:
    return {
        "title": HOSTILE_TITLE,
        "datasets": {"mnist": {"architectures": SMALL_ARCHS}},
        "data": {"train_limit": 300, "test_limit": 200, "download": False},
        "training": {arch: {"epochs": 1, **training.get(arch, {})} for arch in SMALL_ARCHS},
        "evaluation": {"misclassified": 9},
        "compare": {
            "datasets": ["mnist"], "architectures": SMALL_ARCHS, "max_shift": 2,
            "permutation": {"architectures": SMALL_ARCHS, "seed": 1},
            "data_efficiency": {"architectures": ["mlp"], "fractions": [0.5, 1.0], "max_epochs": 2},
        },
    }


def write_config(workdir: Path, config: dict) -> None:
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def planned_jobs(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    table = output.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def planned_priorities(output: str) -> dict[str, set[int]]:
    """The priorities a dry run gives each rule's jobs, {rule: {priority, ...}} (0 unless the
    job's description says otherwise)."""
    found: dict[str, set[int]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        if rule:
            priority = re.search(r"^\s+priority: (-?\d+)$", block, re.M)
            found.setdefault(rule.group(1), set()).add(int(priority.group(1)) if priority else 0)
    return found


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}

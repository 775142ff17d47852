"""Reliability through Snakemake itself: bad configs, failed reruns, kills, damaged caches."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from conftest import PROJECT, shared_data_path
from workflow_helpers import SNAKEMAKE, small_config, snakemake, tree_digest, write_config

needs_mnist = pytest.mark.skipif(shared_data_path() is None,
                                 reason="needs real MNIST (CNNLAB_DATA_PATH)")


def setting(path: str, value: Any) -> Callable[[dict], None]:
    """A change to a small config: set the dotted ``path`` to ``value``."""
    def change(config: dict) -> None:
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return change


# (what is wrong, the change, fragments the one error message must hold: the key and the fix)
BAD_CONFIGS = [
    ("typo in a section", setting("trainig", {}), ["'trainig' is not a known setting", "did you mean 'training'"]),
    ("typo in a recipe key", setting("training.mlp.lr_rate", 0.1), ["'training.mlp.lr_rate' is not a known setting", "allowed keys here:"]),
    ("wrong type", setting("training.mlp.epochs", "three"), ["'training.mlp.epochs'", "not of type 'integer'"]),
    ("negative learning rate", setting("training.mlp.lr", -0.5), ["'training.mlp.lr'", "minimum of 0"]),
    ("zero epochs", setting("training.digitcnn.epochs", 0), ["'training.digitcnn.epochs'", "minimum of 1"]),
    ("unknown optimizer", setting("training.mlp.optimizer", "adamm"), ["'training.mlp.optimizer'", "did you mean 'adam'"]),
    ("unknown dataset", setting("datasets.svhn", {"architectures": ["mlp"]}), ["'svhn' is not allowed", "mnist, fashion_mnist, cifar10"]),
    ("unknown architecture", setting("datasets.mnist.architectures", ["resnet50"]), ["'datasets.mnist.architectures[0]'", "'resnet50' is not allowed"]),
    ("architecture does not fit the dataset", setting("datasets.cifar10", {"architectures": ["digitcnn"]}), ["digitcnn takes 1x28x28 images but cifar10 has 3x32x32", "cifar_simplecnn, cifar_vgg"]),
    ("empty architecture list", setting("datasets.mnist.architectures", []), ["'datasets.mnist.architectures'", "should be non-empty"]),
    ("no datasets", setting("datasets", {}), ["'datasets'", "should be non-empty"]),
    ("data folder that does not exist", setting("data.search_path", ["/no/such/folder"]), ["'data.search_path[0]': folder /no/such/folder does not exist", "correct the path or remove the entry"]),
    ("fraction out of range", setting("compare.data_efficiency.fractions", [0, 0.5]), ["'compare.data_efficiency.fractions[0]'", "minimum of 0"]),
    ("comparison on a dataset the models cannot read", setting("compare.datasets", ["cifar10"]), ["'compare.architectures': digitcnn takes 1x28x28"]),
    ("too many misclassified examples", setting("evaluation.misclassified", 1000), ["'evaluation.misclassified'", "maximum of 100"]),
    ("a training seed listed twice", setting("training.mlp.seeds", [0, 1, 0]), ["'training.mlp.seeds'", "has non-unique elements"]),
    ("a negative training seed", setting("seeds", [0, -1]), ["'seeds[1]'", "minimum of 0"]),
    ("seeds as a number, not a list", setting("training.mlp.seeds", 3), ["'training.mlp.seeds'", "not of type 'array'"]),
]


@pytest.fixture(scope="module")
def precious_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder whose results/ stands for hours of work."""
    workdir = tmp_path_factory.mktemp("precious")
    for name, content in [("results/mnist/mlp/model.pt", b"trained weights"),
                          ("results/mnist/mlp/metrics.json", b'{"test_accuracy": 0.98}'),
                          ("results/data/mnist.npz", b"prepared data"),
                          ("report/index.html", b"<html>report</html>")]:
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_bytes(content)
    return workdir


@pytest.mark.parametrize("what,change,fragments", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_is_rejected_before_any_job(precious_results: Path, what: str,
                                                change: Callable[[dict], None],
                                                fragments: list[str]) -> None:
    before = {k: v for k, v in tree_digest(precious_results).items() if k.startswith(("results", "report"))}
    config = small_config()
    change(config)
    write_config(precious_results, config)
    result = snakemake(precious_results, "--cores", "2", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, what
    assert "nothing was run and nothing was deleted" in output and "Traceback" not in output
    for fragment in fragments:
        assert fragment in output, f"{what}: {fragment!r} not in\n{output}"
    assert "rule " not in output.split("WorkflowError")[0], "a job started"
    after = {k: v for k, v in tree_digest(precious_results).items() if k.startswith(("results", "report"))}
    assert after == before, what


def test_the_bad_config_table_is_large_enough() -> None:
    assert len(BAD_CONFIGS) >= 12


# ----------------------------------------------------------------------------------- run time

def one_model_config(arch: str = "mlp", **recipe: Any) -> dict:
    config = small_config()
    config["datasets"] = {"mnist": {"architectures": [arch]}}
    config["training"] = {arch: {"epochs": 2, **recipe}}
    return config


@pytest.mark.e2e
@needs_mnist
def test_a_diverging_rerun_cannot_lose_the_good_model(tmp_path: Path) -> None:
    model = tmp_path / "results" / "mnist" / "mlp" / "model.pt"
    write_config(tmp_path, one_model_config(lr=0.01))
    snakemake(tmp_path, "--cores", "2", "results/mnist/mlp/metrics.json")
    good = model.read_bytes()
    good_metrics = (tmp_path / "results" / "mnist" / "mlp" / "metrics.json").read_text()

    # A learning rate that diverges: Snakemake deletes the old outputs, then the run fails.
    write_config(tmp_path, one_model_config(optimizer="sgd", lr=10.0))
    failed = snakemake(tmp_path, "--cores", "2", "results/mnist/mlp/metrics.json", check=False)
    assert failed.returncode != 0
    log = (tmp_path / "results" / "logs" / "mnist" / "mlp" / "train.log").read_text()
    assert "diverged" in log and "Lower the" in log
    assert not model.exists()
    kept = [p for p in (tmp_path / "results" / "runs" / "mnist" / "mlp").rglob("model.pt")]
    assert [p.read_bytes() for p in kept] == [good]

    # Back to the good settings: the kept model is restored, not trained again.
    write_config(tmp_path, one_model_config(lr=0.01))
    snakemake(tmp_path, "--cores", "2", "results/mnist/mlp/metrics.json")
    assert model.read_bytes() == good
    log = (tmp_path / "results" / "logs" / "mnist" / "mlp" / "train.log").read_text()
    assert "restored the finished run" in log and "epoch 1" not in log
    record = json.loads((tmp_path / "results" / "mnist" / "mlp" / "train.json").read_text())
    assert record["restored_from"].endswith(record["run_id"][:16])
    metrics = json.loads((tmp_path / "results" / "mnist" / "mlp" / "metrics.json").read_text())
    assert metrics["test_accuracy"] == json.loads(good_metrics)["test_accuracy"]


def flip_byte_keep_mtime(path: Path, offset: int = -100) -> None:
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def verify(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnlab.verify", "verify", *args, "results", "report"],
                          cwd=workdir, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(PROJECT / "scripts")})


@pytest.mark.e2e
@needs_mnist
def test_a_damaged_cache_is_reported_and_rebuilt(tmp_path: Path) -> None:
    run = tmp_path / "results" / "mnist" / "digitcnn"
    # What `all` asks for, in small: figures and the model they are made from.
    targets = ["results/mnist/digitcnn/metrics.json", "results/mnist/digitcnn/filters.png",
               "results/mnist/digitcnn/model.pt"]
    write_config(tmp_path, one_model_config("digitcnn"))
    snakemake(tmp_path, "--cores", "2", *targets)
    assert verify(tmp_path).returncode == 0
    model, metrics = (run / "model.pt").read_bytes(), (run / "metrics.json").read_text()

    # Bytes changed behind Snakemake's back (same mtime): Snakemake sees nothing to do...
    flip_byte_keep_mtime(run / "model.pt")
    assert "Nothing to be done" in snakemake(tmp_path, "-n", "--cores", "2", *targets).stdout
    # ...the verify target does, and moves it aside; the next run rebuilds the same model.
    found = verify(tmp_path, "--repair")
    assert found.returncode == 1
    assert "results/mnist/digitcnn/model.pt: has different bytes than were written" in found.stdout
    assert not (run / "model.pt").exists() and list((tmp_path / "results" / "damaged").rglob("model.pt"))
    snakemake(tmp_path, "--cores", "2", *targets)
    assert (run / "model.pt").read_bytes() == model
    assert (run / "metrics.json").read_text() == metrics

    # A damaged input that a job is about to read: the job refuses it, nothing is computed from
    # it, and the rerun rebuilds it.
    data = tmp_path / "results" / "data" / "mnist.npz"
    data.write_bytes(data.read_bytes()[:-1000])  # truncated, newer: its consumers rerun
    failed = snakemake(tmp_path, "--cores", "2", *targets, check=False)
    assert failed.returncode != 0
    log = (tmp_path / "results" / "logs" / "mnist" / "digitcnn" / "train.log").read_text()
    assert "results/data/mnist.npz: has" in log and "Run snakemake again" in log
    snakemake(tmp_path, "--cores", "2", *targets)
    assert (run / "model.pt").read_bytes() == model
    assert verify(tmp_path).returncode == 0


# ------------------------------------------------------------------------------ interruptions

KILL_TARGET = "results/mnist/digitcnn/model.pt"
LONG_EPOCHS = 8


def long_training_config() -> dict:
    """DigitCNN on 15,000 images for eight epochs: about two seconds per epoch, time to interrupt."""
    config = one_model_config("digitcnn", epochs=LONG_EPOCHS)
    config["data"].update(train_limit=15000, test_limit=500)
    return config


def start_snakemake(workdir: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "CNNLAB_DATA_PATH": str(shared_data_path())}
    return subprocess.Popen(
        [*SNAKEMAKE, "-s", str(PROJECT / "Snakefile"), "-d", str(workdir), *args],
        stdout=(workdir / "snakemake.out").open("a"), stderr=subprocess.STDOUT, env=env,
        start_new_session=True,
    )


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text`` (the project folder of a test)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def checkpoint_epoch(workdir: Path) -> int:
    files = list((workdir / "results" / "checkpoints" / "mnist" / "digitcnn").glob("*.pt"))
    if not files:
        return 0
    try:
        return int(torch.load(files[0], weights_only=True)["epoch"])
    except (OSError, RuntimeError, EOFError, KeyError):
        return 0  # replaced while being read


def train_log(workdir: Path) -> str:
    path = workdir / "results" / "logs" / "mnist" / "digitcnn" / "train.log"
    return path.read_text() if path.exists() else ""  # Snakemake removes it before a rerun


def epochs_in_log(workdir: Path) -> tuple[int, int]:
    """(epoch the job resumed from, last epoch it finished) according to its log."""
    log = train_log(workdir)
    resumed = [int(line.split("epoch ")[1].split(":")[0]) for line in log.splitlines()
               if "resuming from the checkpoint of epoch" in line]
    finished = [int(line.split("epoch ")[1].split(":")[0]) for line in log.splitlines()
                if line.startswith("epoch ") and "train_loss=" in line]
    return (resumed[0] if resumed else 0), (max(finished) if finished else 0)


@pytest.fixture(scope="module")
def uninterrupted_model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.Tensor]:
    if shared_data_path() is None:
        pytest.skip("needs real MNIST (CNNLAB_DATA_PATH)")
    workdir = tmp_path_factory.mktemp("uninterrupted")
    write_config(workdir, long_training_config())
    snakemake(workdir, "--cores", "2", KILL_TARGET)
    return torch.load(workdir / KILL_TARGET, weights_only=True)


def assert_same_model(path: Path, reference: dict[str, torch.Tensor]) -> None:
    state = torch.load(path, weights_only=True)
    assert state.keys() == reference.keys()
    for name, tensor in reference.items():
        assert torch.equal(state[name], tensor), name


@pytest.mark.e2e
@needs_mnist
def test_kill_9_during_training_resumes_from_the_last_epoch(
        tmp_path: Path, uninterrupted_model: dict[str, torch.Tensor]) -> None:
    write_config(tmp_path, long_training_config())
    rng = random.Random()
    kills = []
    for attempt in range(3):
        previous = checkpoint_epoch(tmp_path)
        if attempt:
            # The documented recovery: a killed Snakemake leaves its lock behind.
            snakemake(tmp_path, "--unlock")
        process = start_snakemake(tmp_path, "--cores", "2", KILL_TARGET)
        wait_until(lambda done=previous: checkpoint_epoch(tmp_path) > done, 240,
                   f"a new checkpoint after epoch {previous}")
        if attempt:
            assert epochs_in_log(tmp_path)[0] == previous, "did not resume from the checkpoint"
        time.sleep(rng.uniform(0.0, 1.5))  # a random point in the next epoch
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        # Snakemake is gone; the job it started stops by itself instead of training on.
        wait_until(lambda: not processes_mentioning(str(tmp_path)), 30, "the orphaned job to stop")
        saved = checkpoint_epoch(tmp_path)
        _, finished = epochs_in_log(tmp_path)
        assert finished - saved in (0, 1), (finished, saved)  # at most one epoch lost
        kills.append((saved, finished))
        if saved == LONG_EPOCHS:
            break
    snakemake(tmp_path, "--unlock")
    snakemake(tmp_path, "--cores", "2", KILL_TARGET)
    print("kills (epoch checkpointed, epoch finished):", kills,
          "epochs recomputed:", sum(finished - saved for saved, finished in kills))
    resumed, finished = epochs_in_log(tmp_path)
    assert resumed == kills[-1][0] and finished == LONG_EPOCHS, kills
    record = json.loads((tmp_path / "results" / "mnist" / "digitcnn" / "train.json").read_text())
    assert record["resumed_from_epoch"] == kills[-1][0]
    assert_same_model(tmp_path / KILL_TARGET, uninterrupted_model)


@pytest.mark.e2e
@needs_mnist
def test_sigterm_stops_cleanly_and_the_rerun_resumes(
        tmp_path: Path, uninterrupted_model: dict[str, torch.Tensor]) -> None:
    run = tmp_path / "results" / "mnist" / "digitcnn"
    # The train job writes the metrics; the misclassified images are the next job's.
    metrics, misclassified = run / "metrics.json", run / "misclassified.png"
    target = str(misclassified.relative_to(tmp_path))
    write_config(tmp_path, long_training_config())

    # SIGTERM to the whole process group (what SLURM, systemd and `kill -TERM -<pgid>` send):
    # everything stops at once, no output is left half-written, and no lock is left behind.
    process = start_snakemake(tmp_path, "--cores", "2", target)
    wait_until(lambda: checkpoint_epoch(tmp_path) >= 1, 240, "the first checkpoint")
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(timeout=60) != 0
    wait_until(lambda: not processes_mentioning(str(tmp_path)), 30, "every job to stop")
    assert not (tmp_path / KILL_TARGET).exists()
    assert not list((tmp_path / ".snakemake" / "locks").glob("*"))
    saved = checkpoint_epoch(tmp_path)
    assert 1 <= saved < LONG_EPOCHS

    # SIGTERM to Snakemake alone asks it to finish the running job and start no other: training
    # resumes (no --unlock needed), completes with its evaluation, and the misclassified
    # images wait for the next run.
    process = start_snakemake(tmp_path, "--cores", "2", target)
    wait_until(lambda: "resuming" in train_log(tmp_path), 240, "the job to resume")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=240) != 0
    assert epochs_in_log(tmp_path) == (saved, LONG_EPOCHS)
    assert_same_model(tmp_path / KILL_TARGET, uninterrupted_model)
    assert metrics.exists() and not misclassified.exists()
    assert not list((tmp_path / ".snakemake" / "locks").glob("*"))

    snakemake(tmp_path, "--cores", "2", target)
    assert misclassified.read_bytes()[:4] == b"\x89PNG"
    assert json.loads(metrics.read_text())["test_accuracy"] > 0.95


# ------------------------------------------------------------------------------ parallel runs

PARALLEL_ARCHS = ["digitcnn", "mlp", "lenet5"]
# The mlp is also trained with a second seed: a job of rule train_seed, beside its first seed's
# (they share the architecture's checkpoint and kept-run folders).
PARALLEL_RUNS = [*PARALLEL_ARCHS, "mlp/seed_1"]
HEAVY_RULES = ["train", "train_seed", "measure_sparsity", "compare_translation"]
# Timings differ from run to run; everything else must be byte for byte the same.
TIMED = ("train.json", "history.csv", ".train.json.sha256", ".history.csv.sha256")


def parallel_targets() -> list[str]:
    targets = []
    for arch in PARALLEL_ARCHS:
        targets += [f"results/mnist/{arch}/{name}" for name in
                    ("metrics.json", "confusion.png", "params.csv", "params.png", "model.pt")]
    targets += [f"results/mnist/mlp/seed_1/{name}" for name in ("metrics.json", "confusion.png", "model.pt")]
    for arch in ("digitcnn", "lenet5"):
        targets += [f"results/mnist/{arch}/{name}" for name in
                    ("filters.png", "feature_maps", "receptive_field.csv")]
    return targets + ["results/mnist/mlp/sparsity.csv", "results/mnist/digitcnn/sparsity.png"]


def artifact_digests(workdir: Path) -> dict[str, str]:
    return {name: digest for name, digest in tree_digest(workdir / "results" / "mnist").items()
            if not name.endswith(TIMED)}


@pytest.mark.e2e
@needs_mnist
def test_parallel_jobs_do_not_race_and_give_the_artifacts_of_a_serial_run(tmp_path: Path) -> None:
    config = small_config()
    config["datasets"] = {"mnist": {"architectures": PARALLEL_ARCHS}}
    config["training"] = {arch: {"epochs": 1} for arch in PARALLEL_ARCHS}
    config["training"]["mlp"]["seeds"] = [0, 1]
    one_thread = ["--set-threads", *(f"{rule}=1" for rule in HEAVY_RULES)]
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    for workdir in (serial, parallel):
        workdir.mkdir()
        write_config(workdir, config)
    snakemake(serial, "--cores", "1", *parallel_targets())
    # A fresh matplotlib config folder: several jobs build the font cache at the same moment.
    os.environ["MPLCONFIGDIR"] = str(tmp_path / "mpl")
    try:
        result = snakemake(parallel, *parallel_targets(), "--cores", "4", *one_thread)
    finally:
        del os.environ["MPLCONFIGDIR"]
    log = result.stdout + result.stderr
    assert "prepare_data" in log and log.count("rule prepare_data:") == 1
    assert log.count("rule train:") == len(PARALLEL_ARCHS)
    assert log.count("rule train_seed:") == 1
    serial_digests, parallel_digests = artifact_digests(serial), artifact_digests(parallel)
    assert len(serial_digests) > 40
    different = sorted(name for name in serial_digests
                       if serial_digests[name] != parallel_digests.get(name))
    assert different == [] and serial_digests.keys() == parallel_digests.keys()
    assert (serial / "results" / "mnist" / "mlp" / "seed_1" / "model.pt").read_bytes() != \
        (serial / "results" / "mnist" / "mlp" / "model.pt").read_bytes()  # two seeds, two models
    # The training jobs really ran side by side, one thread each (the second seed's too).
    spans = []
    for run in PARALLEL_RUNS:
        record = json.loads((parallel / "results" / "mnist" / run / "train.json").read_text())
        assert record["runtime"]["threads"] == 1, run
        assert record["seed"] == (1 if run.endswith("seed_1") else 0), run
        log_file = parallel / "results" / "logs" / "mnist" / run / "train.log"
        started = datetime.strptime(log_file.read_text()[:19], "%Y-%m-%d %H:%M:%S").timestamp()
        spans.append((started, (parallel / "results" / "mnist" / run / "model.pt").stat().st_mtime))
    spans.sort()
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)), spans
    assert not list(parallel.rglob(".*.tmp"))  # no temporary file left behind


def test_the_default_profile_grants_the_heavy_units_the_rules_share() -> None:
    import yaml

    profile = yaml.safe_load((PROJECT / "workflow" / "profiles" / "default" / "config.yaml").read_text())
    limits = dict(item.split("=") for item in profile["resources"])
    common = (PROJECT / "workflow" / "rules" / "common.smk").read_text()
    units = int(re.search(r"^HEAVY_UNITS = (\d+)$", common, re.M).group(1))
    on_gpu, on_cpu = map(int, re.search(r"^HEAVY_JOBS_AT_ONCE = (\d+) if HAS_GPU else (\d+)$",
                                        common, re.M).groups())
    assert int(limits["heavy_jobs"]) == units and (on_cpu, on_gpu) == (2, 4)
    # Each job's share divides the units exactly, and the GPU admits as many jobs as share it.
    assert units % on_cpu == 0 and units % on_gpu == 0
    assert int(limits["gpu"]) == on_gpu
    # Greedy: the default ILP scheduler spent minutes of a 2-core run's CPU picking jobs.
    assert profile["scheduler"] == "greedy"
    for rules in ("train", "inspect", "compare", "explain", "units"):
        text = (PROJECT / "workflow" / "rules" / f"{rules}.smk").read_text()
        assert "gpu=gpu_request" in text and "heavy_jobs=heavy_request" in text, rules
        assert "heavy_jobs=1" not in text, rules
    # A second seed's job is the first seed's rule with other files: it inherits its GPU
    # request and threads, and overrides neither.
    text = (PROJECT / "workflow" / "rules" / "train.smk").read_text()
    assert "use rule train as train_seed with:" in text
    overrides = text.split("use rule train as train_seed with:")[1].split("\nrule ")[0]
    assert "resources:" not in overrides and "threads:" not in overrides

"""The pipeline's steps as plain functions of paths and values (the adapters call these).

Nothing here knows about Snakemake; each function writes exactly the files it is given.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import platform
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch

from cnnlab import data as datamod
from cnnlab import evaluation, manifest, plotting, training
from cnnlab.models import count_parameters, create_model, model_spec
from cnnlab.training import use_threads

log = logging.getLogger("cnnlab")


@contextlib.contextmanager
def logging_to(path: Path | str) -> Iterator[None]:
    """Send logging, print and tracebacks of the block to the rule's log file."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as handle:
        old_out, old_err = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = handle
        root = logging.getLogger()
        handler = logging.StreamHandler(handle)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            yield
        except Exception:
            logging.getLogger("cnnlab").exception("step failed")
            raise
        finally:
            root.removeHandler(handler)
            sys.stdout, sys.stderr = old_out, old_err


def _process_start(pid: int) -> str | None:
    """The start time field of /proc/<pid>/stat (tells a process from a later one with its pid)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def supervising_process(name: str = "snakemake") -> int | None:
    """The nearest ancestor whose command line mentions ``name`` (None off Linux or if none)."""
    pid = os.getppid()
    while pid > 1:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        if name in cmdline:
            return pid
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return None


def exit_when_gone(pid: int, interval: float = 0.5) -> threading.Thread:
    """Stop this process as soon as process ``pid`` is gone.

    When Snakemake itself is killed (``kill -9``, the out-of-memory killer), the job it started
    would otherwise train on as an orphan, racing the job a rerun starts for the same outputs.
    Stopping is safe: checkpoints and outputs are written atomically, and the rerun resumes
    from the last epoch checkpoint.
    """
    started = _process_start(pid)

    def watch() -> None:
        while _process_start(pid) == started:
            time.sleep(interval)
        log.error("Snakemake (pid %d) is gone: stopping this job; a rerun resumes from the "
                  "last checkpoint", pid)
        logging.shutdown()
        os._exit(3)

    thread = threading.Thread(target=watch, name="exit-when-snakemake-gone", daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def checked_step(log_path: Path | str, inputs: Iterable[str], outputs: Iterable[str],
                 step: str, artifact_root: Path | str = "results") -> Iterator[None]:
    """One pipeline step: log to ``log_path``, refuse damaged inputs, record the outputs.

    The step also stops by itself if the Snakemake process that started it dies.

    Inputs under ``artifact_root`` must match the SHA-256 records their steps wrote; the
    outputs get records only once the block has finished without error.
    """
    inputs, outputs = list(inputs), list(outputs)
    with logging_to(log_path):
        log.info("%s started (pid %d, host %s)", step, os.getpid(), platform.node())
        supervisor = supervising_process()
        if supervisor is not None:
            exit_when_gone(supervisor)
        manifest.verify_inputs(inputs, artifact_root)
        yield
        for output in outputs:
            manifest.record_artifact(output, step)
        log.info("%s finished: %d outputs recorded", step, len(outputs))


def prepare_data(
    dataset: str,
    *,
    project_dir: Path | str,
    env_data_path: str | None,
    search_path: Sequence[str],
    download: bool,
    verify_checksums: bool,
    train_limit: int | None,
    test_limit: int | None,
    seed: int,
    npz_path: Path | str,
    record_path: Path | str,
) -> dict[str, Any]:
    """Find, parse and verify ``dataset`` and write the cached artifact and its record."""
    started = time.perf_counter()
    dirs = datamod.data_search_path(project_dir, env_data_path, search_path)
    log.info("searching for %s in: %s", dataset, ", ".join(map(str, dirs)))
    raw = datamod.acquire_dataset(
        dataset, dirs, download_root=Path(project_dir) / "data" / "raw",
        allow_download=download, verify=verify_checksums,
    )
    log.info("using %s from %s", dataset, raw.source.get("folder"))
    arrays, record = datamod.prepare_dataset(
        raw, train_limit=train_limit, test_limit=test_limit, seed=seed
    )
    record["checksums_verified"] = verify_checksums
    record["seconds"] = time.perf_counter() - started
    datamod.save_prepared(arrays, record, Path(npz_path), Path(record_path))
    log.info("wrote %s: %d train, %d test images; mean %s std %s", npz_path,
             record["train_size"], record["test_size"], record["normalization"]["mean"],
             record["normalization"]["std"])
    return record


def resolve_augment(setting: str, dataset: str) -> bool:
    """``auto`` augments CIFAR-10 and its subsets (as the article does) and nothing else.

    Pixel-permuted images have no spatial neighbourhoods for a crop or flip to respect, so
    ``auto`` leaves them alone.
    """
    if setting == "auto":
        base, derivation, _ = datamod.split_dataset_name(dataset)
        return base == "cifar10" and derivation != "permuted"
    return setting == "crop_flip"


def train_model(
    *,
    dataset: str,
    arch: str,
    settings: Mapping[str, Any],
    seed: int,
    threads: int,
    npz_path: Path | str,
    record_path: Path | str,
    checkpoint_dir: Path | str,
    kept_runs_dir: Path | str,
    model_path: Path | str,
    history_path: Path | str,
    train_record_path: Path | str,
    eval_batch_size: int = 1000,
    device_preference: str = "auto",
) -> dict[str, Any]:
    """Train ``arch`` on the prepared ``dataset`` and write weights, history and run record."""
    use_threads(threads)
    recipe = training.TrainSettings.from_mapping(settings)
    data_record = json.loads(Path(record_path).read_text())
    data_digest = training.fingerprint(
        {k: data_record[k] for k in ("source", "train_size", "test_size", "normalization")}
    )
    run_id = training.fingerprint(
        {"arch": arch, "dataset": dataset, "settings": training.settings_dict(recipe),
         "seed": seed, "data": data_digest, "code": training.code_fingerprint()}
    )
    checkpoint = Path(checkpoint_dir) / f"{run_id[:16]}.pt"
    kept = Path(kept_runs_dir) / run_id[:16]
    outputs = {"model.pt": Path(model_path), "history.csv": Path(history_path),
               "train.json": Path(train_record_path)}
    restored = restore_kept_run(kept, outputs)
    if restored is not None:
        return restored  # before the images are loaded: restoring costs only the copies
    data = datamod.load_prepared(npz_path, record_path)
    device = training.select_device(device_preference)
    training.seed_everything(seed)
    model = create_model(arch, num_classes=len(data.classes))
    augment = resolve_augment(recipe.augment, dataset)
    log.info("training %s on %s (%d images) on %s with %d threads: %s, augment=%s", arch,
             dataset, len(data.train.labels), device, torch.get_num_threads(), recipe, augment)
    result = training.fit(
        model, data, recipe, seed=seed, device=device, augment=augment,
        checkpoint_path=checkpoint, run_fingerprint=run_id,
        eval_batch_size=eval_batch_size, progress=sys.stderr,
    )
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    training.atomic_torch_save(state, Path(model_path))
    training.save_history(result.history, Path(history_path))
    record = {
        "dataset": dataset,
        "arch": arch,
        "seed": seed,
        "settings": training.settings_dict(recipe),
        "augment": augment,
        "bf16_active": result.bf16,
        "parameters": count_parameters(model),
        "declared_parameters": model_spec(arch).num_params,
        "epochs": recipe.epochs,
        "resumed_from_epoch": result.resumed_from_epoch,
        "final_test_accuracy": result.history[-1]["test_acc"],
        "train_size": int(len(data.train.labels)),
        "seconds_per_epoch": float(np.median([row["seconds"] for row in result.history])),
        "images_per_second": float(np.median([row["images_per_second"] for row in result.history])),
        "wall_seconds": result.wall_seconds,
        "run_id": run_id,
        "data_is_sample": bool(data.record.get("is_sample")),
        "runtime": training.runtime_info(device),
    }
    Path(train_record_path).write_text(json.dumps(record, indent=2) + "\n")
    keep_run(kept, outputs)
    checkpoint.unlink(missing_ok=True)
    return record


def keep_run(kept: Path, outputs: Mapping[str, Path]) -> None:
    """Copy a finished run's files to its own folder, named by what defines the run.

    Snakemake deletes a rule's outputs before it reruns the rule with new settings; if that run
    then fails (a diverging learning rate), the copy kept here still holds the good model, and
    going back to the old settings restores it instead of training again.
    """
    kept.mkdir(parents=True, exist_ok=True)
    for name, source in outputs.items():
        temporary = kept / f".{name}.{os.getpid()}.tmp"
        shutil.copyfile(source, temporary)
        os.replace(temporary, kept / name)
        manifest.record_artifact(kept / name, "train")


def restore_kept_run(kept: Path, outputs: Mapping[str, Path]) -> dict[str, Any] | None:
    """Copy a kept run back to the rule's outputs; None when there is no intact kept copy."""
    if not kept.is_dir():
        return None
    problems = {name: manifest.check_artifact(kept / name) for name in outputs}
    if any(problems.values()):
        log.warning("not restoring %s (%s): training again", kept,
                    "; ".join(f"{name} {why}" for name, why in problems.items() if why))
        return None
    for name, target in outputs.items():
        if name != "train.json":
            shutil.copyfile(kept / name, target)
    record = json.loads((kept / "train.json").read_text())
    record["restored_from"] = str(kept)
    outputs["train.json"].write_text(json.dumps(record, indent=2) + "\n")
    log.info("restored the finished run %s from %s: same settings, seed, data and code, so "
             "nothing to train (delete that folder to train again)", record.get("run_id"), kept)
    return record


def evaluate_model(
    *,
    dataset: str,
    arch: str,
    threads: int,
    npz_path: Path | str,
    record_path: Path | str,
    model_path: Path | str,
    train_record_path: Path | str,
    metrics_path: Path | str,
    confusion_path: Path | str,
    misclassified_path: Path | str,
    history_path: Path | str,
    curves_path: Path | str,
    batch_size: int,
    misclassified: int,
    device_preference: str = "auto",
) -> dict[str, Any]:
    """Evaluate trained ``arch`` on the test split; write metrics and the figures (confusion
    matrix, misclassified examples, training curves)."""
    use_threads(threads)
    data = datamod.load_prepared(npz_path, record_path)
    device = training.select_device(device_preference)
    model = evaluation.load_trained_model(arch, model_path, len(data.classes), device)
    run = json.loads(Path(train_record_path).read_text())
    inference = training.Inference.of_run(run["settings"], device)
    predictions = evaluation.predict_test_set(model, data, device, batch_size, inference)
    metrics = evaluation.classification_metrics(predictions, data.classes)
    metrics.update(dataset=dataset, arch=arch, parameters=count_parameters(model),
                   data_is_sample=bool(data.record.get("is_sample")),
                   inference={"channels_last": inference.channels_last, "bf16": inference.bf16})
    Path(metrics_path).write_text(json.dumps(metrics, indent=2) + "\n")
    log.info("%s on %s: test accuracy %.4f, loss %.4f, %d errors of %d", arch, dataset,
             metrics["test_accuracy"], metrics["test_loss"], metrics["errors"], metrics["test_size"])
    plotting.plot_confusion(
        np.asarray(metrics["confusion_matrix"]), data.classes,
        f"{arch} on {dataset}: test accuracy {100 * metrics['test_accuracy']:.2f}%",
        confusion_path,
    )
    with open(history_path, newline="") as handle:
        history = list(csv.DictReader(handle))
    plotting.plot_curves(history, f"{arch} on {dataset}: training curves", curves_path)
    worst = evaluation.most_confident_errors(predictions, misclassified)
    captions = [
        f"true {data.classes[predictions.labels[i]]}\npred {data.classes[predictions.predicted[i]]}"
        f" ({100 * predictions.confidence[i]:.0f}%)"
        for i in worst
    ]
    plotting.plot_image_grid(
        data.test.images[worst], captions,
        f"{arch} on {dataset}: the {len(worst)} most confident of "
        f"{metrics['errors']} misclassified test images", misclassified_path,
    )
    return metrics

"""The pipeline's steps as plain functions of paths and values (the adapters call these).

Nothing here knows about Snakemake; each function writes exactly the files it is given.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch

from cnnlab import data as datamod
from cnnlab import evaluation, plotting, training
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
    model_path: Path | str,
    history_path: Path | str,
    train_record_path: Path | str,
    eval_batch_size: int = 1000,
    device_preference: str = "auto",
) -> dict[str, Any]:
    """Train ``arch`` on the prepared ``dataset`` and write weights, history and run record."""
    use_threads(threads)
    recipe = training.TrainSettings.from_mapping(settings)
    data = datamod.load_prepared(npz_path, record_path)
    device = training.select_device(device_preference)
    data_digest = training.fingerprint(
        {k: data.record[k] for k in ("source", "train_size", "test_size", "normalization")}
    )
    run_id = training.fingerprint(
        {"arch": arch, "dataset": dataset, "settings": training.settings_dict(recipe),
         "seed": seed, "data": data_digest}
    )
    checkpoint = Path(checkpoint_dir) / f"{run_id[:16]}.pt"
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
    checkpoint.unlink(missing_ok=True)
    return record


def evaluate_model(
    *,
    dataset: str,
    arch: str,
    threads: int,
    npz_path: Path | str,
    record_path: Path | str,
    model_path: Path | str,
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
    predictions = evaluation.predict_test_set(model, data, device, batch_size)
    metrics = evaluation.classification_metrics(predictions, data.classes)
    metrics.update(dataset=dataset, arch=arch, parameters=count_parameters(model),
                   data_is_sample=bool(data.record.get("is_sample")))
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

"""A training run's identity and the folder of finished runs kept by it.

The run id is a digest of everything that defines what a run produces: architecture, dataset,
recipe, seed, data and the library's code. A checkpoint resumes, and a kept run is restored,
only under the same id.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping

from cnnlab import manifest
from cnnlab.artifacts import TRAIN
from cnnlab.io import atomic_copy, read_json, write_json

log = logging.getLogger("cnnlab")

# Set to 1 to train for real where a kept run would be restored (README, "Interruptions").
RETRAIN_VARIABLE = "CNNLAB_RETRAIN"
RETRAIN_VALUES = {"1": True, "true": True, "yes": True, "": False, "0": False, "false": False,
                  "no": False}


def fingerprint(payload: Mapping[str, Any]) -> str:
    """A stable digest of everything that defines a run (recipe, seed, data, architecture)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def code_fingerprint() -> str:
    """A digest of every module of the cnnlab package (path and bytes).

    Part of a run's identity, so that a changed trainer, model or data parser never resumes a
    checkpoint or restores a kept model made by the old code, wherever in the package the
    change (or moved code) lands.
    """
    package = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def keep_run(kept: Path, outputs: Mapping[str, Path]) -> None:
    """Copy a finished run's files to its own folder, named by what defines the run.

    Snakemake deletes a rule's outputs before it reruns the rule with new settings; if that run
    then fails (a diverging learning rate), the copy kept here still holds the good model, and
    going back to the old settings restores it instead of training again.
    """
    for name, source in outputs.items():
        with manifest.recording([kept / name], "train"):
            atomic_copy(source, kept / name)


def retrain_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``CNNLAB_RETRAIN`` asks to train again instead of restoring a kept run.

    Snakemake's ``--forcerun`` reruns the train job, and that job finds its kept copy (same
    settings, seed, data and code) and restores it: the way to really train again is this
    variable, which the train rule's jobs inherit from the shell that starts Snakemake.
    """
    value = environ.get(RETRAIN_VARIABLE, "").strip().lower()
    if value not in RETRAIN_VALUES:
        raise ValueError(f"{RETRAIN_VARIABLE}={value!r} is neither on nor off: set it to 1 to "
                         "train again instead of restoring kept runs, or unset it")
    return RETRAIN_VALUES[value]


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
        if name != TRAIN.record:
            atomic_copy(kept / name, target)
    record = read_json(kept / TRAIN.record)
    record["restored_from"] = str(kept)
    write_json(outputs[TRAIN.record], record)
    log.info("restored the finished run %s from %s: same settings, seed, data and code, so "
             "nothing to train (delete that folder to train again)", record.get("run_id"), kept)
    return record


def data_identity(data_record: Mapping[str, Any]) -> str:
    """What the prepared data is, never where it was found: its content digest and statistics.

    A record written before content digests existed falls back to the checksums of its source
    files, still without their paths.
    """
    content = data_record.get("content_sha256")
    if content is None:
        files = data_record.get("source", {}).get("files", [])
        content = sorted((f.get("file"), f.get("sha256")) for f in files)
    return fingerprint({"content": content, "normalization": data_record["normalization"],
                        "derived": data_record.get("derived"), "train_size": data_record["train_size"],
                        "test_size": data_record["test_size"]})


def run_identity(*, arch: str, dataset: str, settings: Mapping[str, Any], seed: int,
                 data_record: Mapping[str, Any]) -> str:
    """The id of a training run: a digest of what defines the model it produces."""
    data = data_identity(data_record)
    return fingerprint({"arch": arch, "dataset": dataset, "settings": dict(settings), "seed": seed,
                        "data": data, "code": code_fingerprint()})

"""SHA-256 records of the artifacts each step writes, checked before any step reads them.

Snakemake decides what to rebuild from modification times and settings, never from content: a
byte flipped in ``model.pt`` by a failing disk, a stray editor or a bad copy loads without
complaint and feeds every later figure. So each artifact gets a record beside it
(``.<name>.sha256``, JSON) once the step that wrote it has succeeded, and every step checks its
inputs against their records before reading them. A damaged input is moved aside (nothing is
deleted) so that the next ``snakemake`` run rebuilds it and everything made from it.

An output and its record are two files, and no rename changes two files at once. So a step
first marks the record of each output *pending* (one atomic rewrite that keeps the old
description and adds the step's name), then writes the outputs, then replaces each pending
record by the new one (:func:`recording`). Wherever the step is interrupted, an artifact is in
one of three states, which :func:`diagnose` tells apart:

* old bytes beside a pending record that still describes them: trusted (both old);
* other bytes beside a pending record: "interrupted", rebuilt by a rerun, not "damaged";
* new bytes beside their new record: trusted (both new).

:mod:`cnnlab.verify` checks every record at once (``make verify``).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from cnnlab.io import file_sha256, write_json

RECORD_SUFFIX = ".sha256"
QUARANTINE_DIR = "damaged"
# Snakemake drops this marker into directory outputs after the job: not part of the content.
SNAKEMAKE_MARKER = ".snakemake_timestamp"
# The key of a record whose step has started rewriting its artifact and not yet finished.
PENDING = "pending"
# What can be wrong with an artifact (the word `verify` prints before it).
DAMAGED, INTERRUPTED, MISSING, UNRECORDED = "damaged", "interrupted", "missing", "unrecorded"


class DamagedArtifact(RuntimeError):
    """An input's bytes differ from what the step that wrote it recorded."""


@dataclass(frozen=True)
class Problem:
    """One artifact that cannot be trusted, and why."""

    path: Path
    reason: str
    kind: str = DAMAGED


def record_path(artifact: Path | str) -> Path:
    """Where the record of ``artifact`` lives: a hidden file beside it."""
    artifact = Path(artifact)
    return artifact.parent / f".{artifact.name}{RECORD_SUFFIX}"


def artifact_of(record: Path) -> Path:
    """The artifact a record describes (inverse of :func:`record_path`)."""
    return record.parent / record.name[1:-len(RECORD_SUFFIX)]


def describe(artifact: Path) -> dict[str, Any]:
    """Size and SHA-256 of a file, or of every file in a directory output."""
    if artifact.is_dir():
        files = {
            str(p.relative_to(artifact)): {"sha256": file_sha256(p), "size": p.stat().st_size}
            for p in sorted(artifact.rglob("*")) if p.is_file() and p.name != SNAKEMAKE_MARKER
        }
        return {"kind": "directory", "files": files}
    return {"kind": "file", "sha256": file_sha256(artifact), "size": artifact.stat().st_size}


def record_artifact(artifact: Path | str, step: str) -> dict[str, Any]:
    """Write the record of a finished artifact (atomically, so a crash leaves none or a whole one)."""
    artifact = Path(artifact)
    record = {"artifact": artifact.name, "step": step, **describe(artifact)}
    write_json(record_path(artifact), record, indent=1, sort_keys=True)
    return record


def mark_pending(artifacts: Iterable[Path | str], step: str) -> None:
    """Mark each artifact's record pending before ``step`` rewrites it (see the module doc).

    The old description stays in the record, so an artifact the step never got to still
    verifies; an artifact without a readable record gets a pending record with none.
    """
    for artifact in map(Path, artifacts):
        try:
            old = _read_record(artifact)
        except ValueError:
            old = None
        kept = old if isinstance(old, dict) and "kind" in old else {"artifact": artifact.name}
        write_json(record_path(artifact), {**kept, PENDING: step}, indent=1, sort_keys=True)


@contextlib.contextmanager
def recording(artifacts: Iterable[Path | str], step: str) -> Iterator[None]:
    """Mark the artifacts' records pending, run the block that writes them, then record them.

    A block that fails or is interrupted leaves the records pending: :func:`diagnose` then
    reports what it changed as interrupted, and accepts what it left alone.
    """
    artifacts = list(artifacts)
    mark_pending(artifacts, step)
    yield
    for artifact in artifacts:
        record_artifact(artifact, step)


def _read_record(artifact: Path) -> Any:
    """The parsed record of ``artifact``, None when there is none; ValueError when unreadable."""
    try:
        return json.loads(record_path(artifact).read_text())
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(exc) from exc


def diagnose(artifact: Path | str) -> Problem | None:
    """What is wrong with ``artifact`` (and of which kind), or None when it can be trusted."""
    artifact = Path(artifact)
    if not artifact.exists():
        remains = "; its checksum record remains" if record_path(artifact).exists() else ""
        return Problem(artifact, f"is missing{remains}", MISSING)
    name = record_path(artifact).name
    try:
        record = _read_record(artifact)
    except ValueError:
        return Problem(artifact, f"its checksum record {name} is unreadable")
    if record is None:
        return Problem(artifact, "has no checksum record (written by hand, by an older cnnlab, "
                       "or by a step that was killed before it finished)", UNRECORDED)
    if not isinstance(record, dict) or ("kind" not in record and PENDING not in record):
        return Problem(artifact, f"its checksum record {name} is not a cnnlab record")
    # A pending record without a description (a new output) accepts no bytes at all.
    mismatch = _mismatch(record, describe(artifact)) if "kind" in record else "unrecorded"
    if mismatch is None:
        return None
    if PENDING in record:
        step = record[PENDING]
        return Problem(artifact, f"was being written by step {step}, which stopped before it "
                       f"recorded it (interrupted or failed): a rerun runs {step} again",
                       INTERRUPTED)
    return Problem(artifact, mismatch)


def check_artifact(artifact: Path | str) -> str | None:
    """Why ``artifact`` cannot be trusted, or None when its bytes match its record."""
    problem = diagnose(artifact)
    return None if problem is None else problem.reason


def _mismatch(record: dict[str, Any], actual: dict[str, Any]) -> str | None:
    """How ``actual`` (:func:`describe`) differs from what ``record`` says was written."""
    if record["kind"] != actual["kind"]:
        return f"was recorded as a {record['kind']} but is a {actual['kind']}"
    if actual["kind"] == "file":
        return _compare_file(record, actual)
    expected, found = record.get("files", {}), actual["files"]
    for name in sorted(set(expected) | set(found)):
        if name not in found:
            return f"{name} is missing from it"
        if name not in expected:
            return f"{name} was added to it after it was written"
        problem = _compare_file(expected[name], found[name])
        if problem:
            return f"{name} {problem}"
    return None


def _compare_file(expected: dict[str, Any], actual: dict[str, Any]) -> str | None:
    if expected.get("size") != actual["size"]:
        return f"has {actual['size']} bytes, {expected.get('size')} were written"
    if expected.get("sha256") != actual["sha256"]:
        return "has different bytes than were written (SHA-256 mismatch)"
    return None


def quarantine(artifact: Path, root: Path, into: Path | None = None) -> Path:
    """Move an artifact (and its record) to ``into/<time>/<root>/...`` and return where.

    ``into`` defaults to ``root/damaged``; the artifact keeps its path relative to the folder
    holding ``root``, so that what was moved aside is easy to find and put back.
    """
    stamp = time.strftime("%Y%m%d_%H%M%S")
    root = Path(root)
    into = root / QUARANTINE_DIR if into is None else into
    try:
        relative = Path(artifact).resolve().relative_to(root.resolve().parent)
    except ValueError:
        relative = Path(artifact.name)
    target = into / stamp / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if artifact.exists():  # a missing artifact leaves only its stale record to move
        shutil.move(str(artifact), str(target))
    record = record_path(artifact)
    if record.exists():
        shutil.move(str(record), str(record_path(target)))
    return target


def is_under(path: Path | str, root: Path | str) -> bool:
    """Whether ``path`` lies inside ``root`` (both resolved)."""
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return False
    return True


def verify_inputs(paths: Iterable[str | Path], root: Path | str = "results") -> None:
    """Check every input under ``root`` against its record before a step reads it.

    Damaged inputs are moved to ``root/damaged/`` and one error names each of them and the fix:
    run Snakemake again, which rebuilds what is missing and everything made from it. Inputs
    outside ``root`` (templates, style sheets) are source files, not artifacts.
    """
    root = Path(root)
    problems = [problem for p in dict.fromkeys(map(str, paths))
                if is_under(p, root) and (problem := diagnose(p)) is not None]
    if not problems:
        return
    lines = []
    for problem in problems:
        moved = quarantine(problem.path, root) if problem.path.exists() else None
        where = f"; moved to {moved}" if moved else ""
        lines.append(f"  {problem.path}: {problem.reason}{where}")
    raise DamagedArtifact(
        f"{len(problems)} input(s) of this step cannot be trusted:\n" + "\n".join(lines)
        + "\nNothing was computed from them. Run snakemake again: it rebuilds the missing "
        "artifacts and everything made from them."
    )

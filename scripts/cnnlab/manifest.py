"""SHA-256 records of the artifacts each step writes, checked before any step reads them.

Snakemake decides what to rebuild from modification times and settings, never from content: a
byte flipped in ``model.pt`` by a failing disk, a stray editor or a bad copy loads without
complaint and feeds every later figure. So each artifact gets a record beside it
(``.<name>.sha256``, JSON) once the step that wrote it has succeeded, and every step checks its
inputs against their records before reading them. A damaged input is moved aside (nothing is
deleted) so that the next ``snakemake`` run rebuilds it and everything made from it.

``python -m cnnlab.manifest verify results report`` checks every record at once (``make verify``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from cnnlab.artifacts import BENCHMARKS, CHECKPOINTS, LOGS
from cnnlab.io import file_sha256, write_json

RECORD_SUFFIX = ".sha256"
QUARANTINE_DIR = "damaged"
# Folders of an artifact root that hold no step outputs: logs, timings, resumable state,
# benchmarks of the trainer, and what was already moved aside.
UNRECORDED_DIRS = (LOGS, BENCHMARKS, CHECKPOINTS, "bench", QUARANTINE_DIR)
# Snakemake drops this marker into directory outputs after the job: not part of the content.
SNAKEMAKE_MARKER = ".snakemake_timestamp"


class DamagedArtifact(RuntimeError):
    """An input's bytes differ from what the step that wrote it recorded."""


@dataclass(frozen=True)
class Problem:
    """One artifact that cannot be trusted, and why."""

    path: Path
    reason: str


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


def check_artifact(artifact: Path | str) -> str | None:
    """Why ``artifact`` cannot be trusted, or None when its bytes match its record."""
    artifact = Path(artifact)
    if not artifact.exists():
        return "missing"
    try:
        record = json.loads(record_path(artifact).read_text())
    except FileNotFoundError:
        return ("has no checksum record (written by hand, by an older cnnlab, or by a step "
                "that was killed before it finished)")
    except (OSError, ValueError):
        return f"its checksum record {record_path(artifact).name} is unreadable"
    if not isinstance(record, dict) or "kind" not in record:
        return f"its checksum record {record_path(artifact).name} is not a cnnlab record"
    actual = describe(artifact)
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
    """Move a damaged artifact (and its record) to ``into/<time>/<root>/...`` and return where.

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
    problems = [
        Problem(Path(p), reason)
        for p in dict.fromkeys(map(str, paths))
        if is_under(p, root) and (reason := check_artifact(p)) is not None
    ]
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


def find_records(roots: Sequence[Path]) -> list[Path]:
    """Every record under ``roots``, outside the folders that hold no step outputs."""
    return sorted(
        record for root in roots if root.is_dir()
        for record in root.rglob(f".*{RECORD_SUFFIX}")
        if not _in_unrecorded_dir(record, root)
    )


def find_unrecorded(roots: Sequence[Path]) -> list[Path]:
    """Artifact files with no record of their own or of a directory output holding them."""
    found = []
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if (not path.is_file() or path.name.startswith(".")
                    or _in_unrecorded_dir(path, root)):
                continue
            covered = any(record_path(parent).exists()
                          for parent in [path, *path.parents] if is_under(parent, root))
            if not covered:
                found.append(path)
    return found


def _in_unrecorded_dir(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return len(parts) > 1 and parts[0] in UNRECORDED_DIRS


def verify_tree(roots: Sequence[Path], repair: bool = False) -> list[Problem]:
    """Check every recorded artifact under ``roots``; with ``repair``, move the bad ones aside."""
    problems = [Problem(artifact_of(r), reason) for r in find_records(roots)
                if (reason := check_artifact(artifact_of(r))) not in (None, "missing")]
    problems += [Problem(p, "has no checksum record") for p in find_unrecorded(roots)]
    if repair:
        for problem in problems:
            root = next(r for r in roots if is_under(problem.path, r))
            quarantine(problem.path, root, into=roots[0] / QUARANTINE_DIR)
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """``verify [--repair] ROOT...``: report (and move aside) artifacts that do not match."""
    parser = argparse.ArgumentParser(prog="python -m cnnlab.manifest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["verify"])
    parser.add_argument("roots", nargs="+", type=Path)
    parser.add_argument("--repair", action="store_true",
                        help=f"move damaged artifacts to <first root>/{QUARANTINE_DIR}/")
    args = parser.parse_args(argv)
    records = find_records(args.roots)
    problems = verify_tree(args.roots, repair=args.repair)
    for problem in problems:
        print(f"DAMAGED {problem.path}: {problem.reason}")
    print(f"checked {len(records)} recorded artifacts under {', '.join(map(str, args.roots))}: "
          f"{len(problems)} cannot be trusted")
    if problems and args.repair:
        print(f"moved them to {args.roots[0] / QUARANTINE_DIR}/; run `make report` (or snakemake) "
              "to rebuild them and everything made from them")
    elif problems:
        print("run `make verify-repair` to move them aside, then `make report` to rebuild them")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

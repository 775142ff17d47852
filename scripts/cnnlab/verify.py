"""``python -m cnnlab.verify [--repair] ROOT...`` (``make verify``, ``make verify-repair``):
check every artifact under the roots against its SHA-256 record, and move aside what cannot be
trusted so that the next run rebuilds it. The records themselves are :mod:`cnnlab.manifest`'s.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Sequence

from cnnlab.artifacts import BENCHMARKS, CHECKPOINTS, LOGS
from cnnlab.manifest import (
    MISSING,
    QUARANTINE_DIR,
    RECORD_SUFFIX,
    UNRECORDED,
    Problem,
    artifact_of,
    diagnose,
    is_under,
    quarantine,
    record_path,
)

# Folders of an artifact root that hold no step outputs: logs, timings, resumable state,
# benchmarks of the trainer, and what was already moved aside.
UNRECORDED_DIRS = (LOGS, BENCHMARKS, CHECKPOINTS, "bench", QUARANTINE_DIR)
# Snakemake 9 keeps <n>.input.lock and <n>.output.lock here while it runs (persistence/file.py).
SNAKEMAKE_LOCKS = Path(".snakemake") / "locks"


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
    """Check every recorded artifact under ``roots``; with ``repair``, move the bad ones aside.

    A missing artifact has only its record to move: that stale record would otherwise be
    reported again after every run that no longer makes the artifact.
    """
    problems = [problem for record in find_records(roots)
                if (problem := diagnose(artifact_of(record))) is not None]
    problems += [Problem(p, "has no checksum record", UNRECORDED) for p in find_unrecorded(roots)]
    if repair:
        for problem in problems:
            root = next(r for r in roots if is_under(problem.path, r))
            quarantine(problem.path, root, into=roots[0] / QUARANTINE_DIR)
    return problems


def snakemake_locks(roots: Sequence[Path]) -> list[Path]:
    """The lock files of a Snakemake running in the project folder that holds ``roots``.

    Snakemake removes its lock folder when it ends; one killed with ``kill -9`` leaves it
    behind until ``snakemake --unlock``.
    """
    projects = dict.fromkeys(Path(root).resolve().parent for root in roots)
    return sorted(lock for project in projects if (project / SNAKEMAKE_LOCKS).is_dir()
                  for lock in (project / SNAKEMAKE_LOCKS).iterdir())


def advice(problems: Sequence[Problem], repaired: bool, quarantine_dir: Path) -> list[str]:
    """What to do about ``problems``, one sentence a line."""
    present = [p for p in problems if p.kind != MISSING]
    missing = len(problems) - len(present)
    lines = []
    if present and repaired:
        lines.append(f"moved them to {quarantine_dir}/ (nothing was deleted); run `make report` "
                     "(or snakemake) to rebuild them and everything made from them")
    elif present:
        lines.append("run `make verify-repair` to move them aside, then `make report` to "
                     "rebuild them")
    if missing and repaired:
        lines.append(f"moved the stale records of the {missing} missing artifact(s) to "
                     f"{quarantine_dir}/: the next run (`make report`) rebuilds each one the "
                     "config still asks for")
    elif missing:
        lines.append(f"{missing} recorded artifact(s) are missing: the next run (`make report`) "
                     "rebuilds them; if the config no longer asks for them, `make verify-repair` "
                     "moves their stale records aside")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """``verify [--repair] ROOT...``: report (and move aside) artifacts that do not match."""
    parser = argparse.ArgumentParser(prog="python -m cnnlab.verify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["verify"])
    parser.add_argument("roots", nargs="+", type=Path)
    parser.add_argument("--repair", action="store_true",
                        help=f"move damaged artifacts to <first root>/{QUARANTINE_DIR}/")
    args = parser.parse_args(argv)
    locks = ", ".join(map(str, snakemake_locks(args.roots)))
    if locks and args.repair:
        print(f"refusing to repair while Snakemake holds its lock ({locks}): a pipeline is "
              "running here, and the files it is writing have no checksum records yet. Nothing "
              "was moved. Run `make verify-repair` again when it has finished; if no snakemake "
              "is running (a killed one leaves its lock), run `.venv/bin/snakemake --unlock` "
              "first.", file=sys.stderr)
        return 2
    if locks:
        print(f"note: Snakemake holds its lock ({locks}): files a running pipeline is writing "
              "may be reported below; verify again when it has finished", file=sys.stderr)
    records = find_records(args.roots)
    problems = verify_tree(args.roots, repair=args.repair)
    for problem in problems:
        print(f"{problem.kind.upper()} {problem.path}: {problem.reason}")
    kinds = ", ".join(f"{count} {kind}" for kind, count in Counter(p.kind for p in problems).items())
    print(f"checked {len(records)} recorded artifacts under {', '.join(map(str, args.roots))}: "
          f"{len(problems)} cannot be trusted" + (f" ({kinds})" if kinds else ""))
    for line in advice(problems, args.repair, args.roots[0] / QUARANTINE_DIR):
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

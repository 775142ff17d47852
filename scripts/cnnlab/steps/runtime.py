"""What every step runs inside: its log file, the check of its inputs' SHA-256 records, the
records of its outputs, and a watch that stops it when the Snakemake that started it dies."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import platform
import sys
import threading
import time
from pathlib import Path
from typing import Iterable, Iterator

from cnnlab import manifest

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

    The step also stops by itself if the Snakemake process that started it dies, and, started
    by Snakemake, leaves its objects to the end of the process (:func:`gc.freeze`).

    Inputs under ``artifact_root`` must match the SHA-256 records their steps wrote; the
    outputs' records are marked pending before the block runs and written once it has finished
    without error (:func:`cnnlab.manifest.recording`), so an interrupted step leaves no stale
    record that would call its new outputs damaged.
    """
    inputs, outputs = list(inputs), list(outputs)
    with logging_to(log_path):
        log.info("%s started (pid %d, host %s)", step, os.getpid(), platform.node())
        supervisor = supervising_process()
        if supervisor is not None:
            exit_when_gone(supervisor)
        manifest.verify_inputs(inputs, artifact_root)
        with manifest.recording(outputs, step):
            yield
        log.info("%s finished: %d outputs recorded", step, len(outputs))
    if supervisor is not None:
        # A job's process ends with its step. The interpreter's exit would first collect every
        # object the step left (0.5 s of CPU in a training job, ~100 jobs a run); frozen, they
        # are freed with the process.
        gc.freeze()


def tell_terminal(message: str) -> None:
    """Show ``message`` where the person running Snakemake looks, as well as in the rule's log.

    :func:`logging_to` sends a step's output to its log file; the process's own stderr is
    still the one Snakemake shows in the terminal (or a cluster job's output file).
    """
    log.info(message)
    if sys.__stderr__ is not None:  # None under pythonw and some embedders
        print(message, file=sys.__stderr__, flush=True)

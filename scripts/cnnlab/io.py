"""Reading and writing artifacts: one helper each for atomic writes, SHA-256, JSON and CSV.

Every writer goes through :func:`atomic_target`: a temporary file in the same folder, renamed
over the target, so a crash or a kill leaves either the old file or the new one, never half of
one; and a write that fails (a full disk, Ctrl-C) removes its temporary file.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

CHUNK = 1 << 20


class ArtifactReadError(RuntimeError):
    """An artifact cannot be read or parsed; the message names it and the fix."""


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextlib.contextmanager
def atomic_target(path: Path | str) -> Iterator[Path]:
    """A temporary file beside ``path`` for the block to write, renamed over ``path`` at the end.

    If the block fails (``ENOSPC`` on a full disk, Ctrl-C), the temporary file is removed and
    ``path`` keeps its old bytes: a failed write leaves neither half a file nor a stray copy
    (a checkpoint is megabytes). Only ``kill -9`` can leave one; its name ends in ``.tmp``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(path)
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path | str, content: bytes) -> None:
    """Write ``content`` to ``path`` through a temporary file renamed over it."""
    with atomic_target(path) as temporary:
        temporary.write_bytes(content)


def atomic_write_text(path: Path | str, text: str) -> None:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    atomic_write_bytes(path, text.encode())


def atomic_copy(source: Path | str, target: Path | str) -> None:
    """Copy a file so that ``target`` is never seen half-written."""
    with atomic_target(target) as temporary:
        shutil.copyfile(source, temporary)


def file_sha256(path: Path | str) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_json(path: Path | str, value: Any, indent: int = 2, **dump_options: Any) -> None:
    """Write ``value`` as indented JSON with a final newline (atomically)."""
    atomic_write_text(path, json.dumps(value, indent=indent, **dump_options) + "\n")


def read_json(path: Path | str) -> Any:
    """The JSON value in ``path``; an unreadable file raises :class:`ArtifactReadError`."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactReadError(f"{path}: cannot be read ({exc}); rerun the rule that writes it") from exc


def write_npz(path: Path | str, arrays: Mapping[str, Any]) -> None:
    """Write named arrays as an uncompressed ``.npz`` file, atomically."""
    import numpy as np  # here: most steps never touch an .npz file

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def read_npz(path: Path | str) -> dict[str, Any]:
    """Every array of an ``.npz`` file, read without unpickling anything."""
    import numpy as np

    with np.load(path, allow_pickle=False) as arrays:
        return {name: arrays[name] for name in arrays.files}


def write_csv(path: Path | str, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Write ``rows`` under a header of ``columns`` (a header alone when there are no rows)."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(columns))
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row[c] for c in columns})
    atomic_write_text(path, buffer.getvalue())


def read_csv(path: Path | str, delimiter: str = ",") -> list[dict[str, str]]:
    """The rows of a CSV (or TSV) file as dicts of strings."""
    try:
        with open(path, newline="") as handle:
            return list(csv.DictReader(handle, delimiter=delimiter))
    except OSError as exc:
        raise ArtifactReadError(f"{path}: cannot be read ({exc}); rerun the rule that writes it") from exc


# How csv writes Python's booleans; read back as text they would all be true in a template.
BOOLEAN_CELLS = {"True": True, "False": False}


def parse_number(value: str) -> Any:
    """``value`` as a bool (``True``/``False``), an int, else a float, else unchanged (CSV cells
    are strings)."""
    if isinstance(value, str) and value in BOOLEAN_CELLS:
        return BOOLEAN_CELLS[value]
    for cast in (int, float):
        try:
            return cast(value)
        except (TypeError, ValueError):
            continue
    return value


def typed_rows(rows: Iterable[Mapping[str, str]]) -> list[dict[str, Any]]:
    """CSV rows with every numeric and boolean cell parsed (:func:`parse_number`)."""
    return [{k: parse_number(v) for k, v in row.items()} for row in rows]

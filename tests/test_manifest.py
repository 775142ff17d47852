"""SHA-256 records: every kind of damage to an artifact is caught before a step reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest
import torch
from cnnlab import manifest, verify
from cnnlab.steps.runtime import checked_step


def flip_byte(path: Path, offset: int = -10) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def same_size_rewrite(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[1:] + data[:1])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def swap_for_sibling(path: Path) -> None:
    path.write_bytes((path.parent / "metrics.json").read_bytes())


def forge_record(path: Path) -> None:
    manifest.record_path(path).write_text("{not json")


def drop_record(path: Path) -> None:
    manifest.record_path(path).unlink()


def remove_map(path: Path) -> None:
    (path.parent / "feature_maps" / "01_conv.png").unlink()


def add_map(path: Path) -> None:
    (path.parent / "feature_maps" / "99_extra.png").write_bytes(b"\x89PNG extra")


def flip_map(path: Path) -> None:
    flip_byte(path.parent / "feature_maps" / "00_conv.png", 5)


# (name, damage, damaged artifact relative to the run folder)
CORRUPTIONS: list[tuple[str, Callable[[Path], None], str]] = [
    ("flipped byte in model.pt", flip_byte, "model.pt"),
    ("flipped first byte of model.pt", lambda p: flip_byte(p, 0), "model.pt"),
    ("truncated model.pt", truncate, "model.pt"),
    ("rotated bytes, same size", same_size_rewrite, "model.pt"),
    ("emptied model.pt", empty, "model.pt"),
    ("model.pt replaced by another file", swap_for_sibling, "model.pt"),
    ("unreadable record", forge_record, "model.pt"),
    ("record deleted", drop_record, "model.pt"),
    ("file removed from a directory output", remove_map, "feature_maps"),
    ("file added to a directory output", add_map, "feature_maps"),
    ("flipped byte inside a directory output", flip_map, "feature_maps"),
]


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """A results tree written through checked_step, as the pipeline's steps write it."""
    folder = tmp_path / "results" / "mnist" / "digitcnn"
    folder.mkdir(parents=True)
    outputs = [folder / "model.pt", folder / "metrics.json", folder / "feature_maps"]
    with checked_step(tmp_path / "results" / "logs" / "x.log", [], map(str, outputs), "train",
                      artifact_root=tmp_path / "results"):
        torch.save({"w": torch.arange(1000, dtype=torch.float32)}, folder / "model.pt")
        (folder / "metrics.json").write_text(json.dumps({"test_accuracy": 0.99}))
        (folder / "feature_maps").mkdir()
        (folder / "feature_maps" / "00_conv.png").write_bytes(b"\x89PNG first map" * 10)
        (folder / "feature_maps" / "01_conv.png").write_bytes(b"\x89PNG second map" * 10)
    return folder


def test_untouched_artifacts_pass(run_folder: Path) -> None:
    results = run_folder.parents[1]
    manifest.verify_inputs([run_folder / "model.pt", run_folder / "feature_maps"], results)
    assert verify.verify_tree([results]) == []
    record = json.loads(manifest.record_path(run_folder / "model.pt").read_text())
    assert record["step"] == "train" and len(record["sha256"]) == 64


@pytest.mark.parametrize("name,damage,target", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_damage_is_detected_reported_and_moved_aside(
        run_folder: Path, name: str, damage: Callable[[Path], None], target: str) -> None:
    results = run_folder.parents[1]
    damage(run_folder / "model.pt")
    problems = verify.verify_tree([results])
    assert [p.path.name for p in problems] == [target], name
    with pytest.raises(manifest.DamagedArtifact) as error:
        manifest.verify_inputs([str(run_folder / "model.pt"), str(run_folder / "feature_maps"),
                                str(run_folder / "metrics.json")], results)
    message = str(error.value)
    assert f"{run_folder / target}:" in message and "Run snakemake again" in message
    assert "1 input(s)" in message  # the intact inputs are not blamed
    # Moved aside, not deleted: the next run rebuilds it because it is missing.
    assert not (run_folder / target).exists()
    assert list((results / "damaged").rglob(target))
    assert (run_folder / "metrics.json").exists()


def test_a_step_refuses_damaged_inputs_before_running(run_folder: Path) -> None:
    results = run_folder.parents[1]
    flip_byte(run_folder / "model.pt")
    ran = []
    with pytest.raises(manifest.DamagedArtifact):
        with checked_step(results / "logs" / "e.log", [str(run_folder / "model.pt")],
                          [str(run_folder / "eval.json")], "evaluate", artifact_root=results):
            ran.append(True)
    assert ran == []
    assert "SHA-256 mismatch" in (results / "logs" / "e.log").read_text()


def test_inputs_outside_the_artifact_root_are_source_files(tmp_path: Path) -> None:
    template = tmp_path / "report.html.j2"
    template.write_text("{{ x }}")
    manifest.verify_inputs([template], tmp_path / "results")


def test_verify_command_reports_unrecorded_files_and_repairs(run_folder: Path, capsys) -> None:
    results = run_folder.parents[1]
    (results / "logs" / "other.log").write_text("logs are not artifacts")
    (run_folder / "by_hand.csv").write_text("a,b\n")
    assert verify.main(["verify", str(results)]) == 1
    out = capsys.readouterr().out
    assert "by_hand.csv: has no checksum record" in out and "other.log" not in out
    assert verify.main(["verify", "--repair", str(results)]) == 1
    assert not (run_folder / "by_hand.csv").exists()
    assert verify.main(["verify", str(results)]) == 0
    assert "checked 3 recorded artifacts" in capsys.readouterr().out

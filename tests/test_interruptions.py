"""Interruptions and the manifest: a stopped step, a running pipeline, deleted artifacts and a
full disk each leave the artifacts and their records in a state `make verify` tells apart."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from cnnlab import io as cnnlab_io
from cnnlab import manifest, training
from cnnlab import verify as verifier
from cnnlab.plotting import base as plotting
from cnnlab.report import render_pdf
from cnnlab.steps import report as report_step
from cnnlab.steps.runtime import checked_step
from matplotlib.figure import Figure

# ------------------------------------------------------------ 13: a step stopped mid-way

TEMPLATE = "<html><body><h1>{{ title }}</h1></body></html>"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose report step renders a one-line template; the PDF is stood in for."""
    (tmp_path / "results").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "report.html.j2").write_text(TEMPLATE)
    (tmp_path / "report.css").write_text("h1 {}")
    (tmp_path / "report.js").write_text("")
    monkeypatch.setattr(report_step, "render_pdf",
                        lambda html, pdf, allowed, epoch: cnnlab_io.atomic_write_bytes(
                            pdf, b"%PDF " + html.read_bytes()))
    return tmp_path


def render(project: Path, title: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The render_report step as its adapter runs it, with a context of one value."""
    html, pdf = project / "report" / "index.html", project / "report" / "report.pdf"
    monkeypatch.setattr(report_step, "collect_context",
                        lambda **_: ({"title": title, "run_epoch": 0}, None))
    with checked_step(project / "results" / "logs" / "render_report.log", [], [html, pdf],
                      "render_report", artifact_root=project / "results"):
        report_step.render_report(
            results=project / "results", report_dir=project / "report", project=project,
            template_dir=project / "templates", css_path=project / "report.css",
            script_path=project / "report.js", config={},
            runs=[], compare_datasets=[], benchmarks=[], html_path=html, pdf_path=pdf)


def verify(project: Path, capsys: pytest.CaptureFixture, *options: str) -> tuple[int, str]:
    code = verifier.main(["verify", *options, str(project / "results"), str(project / "report")])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def interrupt(*args: Any, **kwargs: Any) -> None:
    raise KeyboardInterrupt


def test_ctrl_c_between_the_new_report_and_its_record_is_not_damage(
        project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    render(project, "old", monkeypatch)
    assert verify(project, capsys)[0] == 0
    # Ctrl-C after index.html is written and before the step records it.
    working_pdf = report_step.render_pdf
    monkeypatch.setattr(report_step, "render_pdf", interrupt)
    with pytest.raises(KeyboardInterrupt):
        render(project, "new", monkeypatch)
    assert "new" in (project / "report" / "index.html").read_text()
    code, out = verify(project, capsys)
    assert code == 1 and "DAMAGED" not in out
    assert f"INTERRUPTED {project / 'report' / 'index.html'}: was being written by step " \
           "render_report" in out and "a rerun runs render_report again" in out
    assert "report.pdf" not in out  # not rewritten yet: its old bytes still match (both old)
    # The rerun the message asks for leaves everything verified.
    monkeypatch.setattr(report_step, "render_pdf", working_pdf)
    render(project, "new", monkeypatch)
    assert verify(project, capsys)[0] == 0


def test_ctrl_c_before_the_first_write_leaves_both_old(
        project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    render(project, "old", monkeypatch)
    monkeypatch.setattr(report_step, "render_html", interrupt)
    with pytest.raises(KeyboardInterrupt):
        render(project, "new", monkeypatch)
    assert "old" in (project / "report" / "index.html").read_text()
    assert verify(project, capsys)[0] == 0
    record = json.loads(manifest.record_path(project / "report" / "index.html").read_text())
    assert record[manifest.PENDING] == "render_report"


def test_a_failed_step_leaves_pending_records_not_trusted_ones(tmp_path: Path) -> None:
    out = tmp_path / "results" / "a.csv"
    with pytest.raises(ValueError):
        with checked_step(tmp_path / "log", [], [str(out)], "x", artifact_root=tmp_path / "results"):
            out.write_text("half")
            raise ValueError("boom")
    assert "sha256" not in json.loads(manifest.record_path(out).read_text())
    assert manifest.diagnose(out).kind == manifest.INTERRUPTED


@pytest.mark.parametrize("started_by_snakemake", [True, False])
def test_a_jobs_step_leaves_its_objects_to_the_end_of_the_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started_by_snakemake: bool) -> None:
    """A job's process ends with its step, so the step freezes what it made rather than have
    the interpreter collect it on the way out; a step run anywhere else (a test, a notebook)
    leaves the collector alone, and so does a step that failed."""
    import gc

    from cnnlab.steps import runtime

    monkeypatch.setattr(runtime, "supervising_process", lambda: 1 if started_by_snakemake else None)
    monkeypatch.setattr(runtime, "exit_when_gone", lambda pid: None)
    frozen = gc.get_freeze_count()
    try:
        with pytest.raises(ValueError):
            with checked_step(tmp_path / "log", [], [], "x", artifact_root=tmp_path / "results"):
                raise ValueError("boom")
        assert gc.get_freeze_count() == frozen
        with checked_step(tmp_path / "log", [], [], "x", artifact_root=tmp_path / "results"):
            made = [[] for _ in range(100)]
        assert (gc.get_freeze_count() >= frozen + len(made)) is started_by_snakemake
    finally:
        gc.unfreeze()


# ------------------------------------------------------ 14 and 15: verify and repair


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """results/ with two recorded artifacts, written as a step writes them."""
    folder = tmp_path / "results" / "mnist" / "mlp"
    outputs = [folder / "metrics.json", folder / "model.pt"]
    with checked_step(tmp_path / "results" / "logs" / "x.log", [], outputs, "evaluate",
                      artifact_root=tmp_path / "results"):
        folder.mkdir(parents=True, exist_ok=True)
        outputs[0].write_text('{"test_accuracy": 0.9}')
        outputs[1].write_bytes(b"weights")
    return tmp_path / "results"


def test_repair_refuses_while_snakemake_holds_its_lock(results: Path, capsys) -> None:
    fresh = results / "mnist" / "mlp" / "confusion.png"
    fresh.write_bytes(b"written by a job that is about to record it")
    locks = results.parent / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.output.lock").write_text(f"{fresh}\n")
    assert verifier.main(["verify", "--repair", str(results)]) == 2
    err = capsys.readouterr().err
    assert "refusing to repair while Snakemake holds its lock" in err and "0.output.lock" in err
    assert "Nothing was moved" in err and "snakemake --unlock" in err
    assert fresh.exists() and not (results / "damaged").exists()
    # Plain verify still reports, with a note that a run is under way.
    assert verifier.main(["verify", str(results)]) == 1
    assert "note: Snakemake holds its lock" in capsys.readouterr().err
    # Snakemake leaves an empty lock folder behind when it ends: no lock, repair goes ahead.
    (locks / "0.output.lock").unlink()
    assert verifier.main(["verify", "--repair", str(results)]) == 1
    assert not fresh.exists()


def test_a_deleted_recorded_artifact_is_reported_missing(results: Path, capsys) -> None:
    metrics = results / "mnist" / "mlp" / "metrics.json"
    metrics.unlink()
    assert verifier.main(["verify", str(results)]) == 1
    out = capsys.readouterr().out
    assert f"MISSING {metrics}: is missing; its checksum record remains" in out
    assert "(1 missing)" in out and "the next run (`make report`) rebuilds them" in out
    assert verifier.main(["verify", "--repair", str(results)]) == 1
    out = capsys.readouterr().out
    assert "moved the stale records of the 1 missing artifact(s)" in out
    assert "the next run (`make report`) rebuilds each one the config still asks for" in out
    assert not manifest.record_path(metrics).exists()
    assert list((results / "damaged").rglob(".metrics.json.sha256"))
    assert verifier.main(["verify", str(results)]) == 0
    assert (results / "mnist" / "mlp" / "model.pt").read_bytes() == b"weights"


# --------------------------------------------------------------- 16: a full disk


def full_disk(destination_argument: int) -> Callable[..., None]:
    """A writer that gets half its bytes onto the disk and then fails with ENOSPC."""
    def write(*args: Any, **kwargs: Any) -> None:
        destination = Path(args[destination_argument])
        with open(destination, "wb") as handle:
            handle.write(b"half of it")
        raise OSError(errno.ENOSPC, "No space left on device", str(destination))
    return write


def write_pdf(target: Path) -> None:
    html = target.parent / "page.html"
    html.write_text("<html><body><p>new</p></body></html>")
    render_pdf(html, target, [target.parent], 0)


# (writer, the call that writes `target`, what fails: object, attribute, destination argument)
WRITERS: list[tuple[str, Callable[[Path], None], tuple[Any, str, int]]] = [
    ("atomic_write_bytes", lambda t: cnnlab_io.atomic_write_bytes(t, b"new" * 1000), (Path, "write_bytes", 0)),
    ("atomic_write_text", lambda t: cnnlab_io.atomic_write_text(t, "new"), (Path, "write_bytes", 0)),
    ("write_json", lambda t: cnnlab_io.write_json(t, {"new": 1}), (Path, "write_bytes", 0)),
    ("write_csv", lambda t: cnnlab_io.write_csv(t, [{"a": 1}], ["a"]), (Path, "write_bytes", 0)),
    ("atomic_copy", lambda t: cnnlab_io.atomic_copy(t.parent / "source", t), (shutil, "copyfile", 1)),
    ("atomic_torch_save", lambda t: training.atomic_torch_save({"w": torch.ones(1000)}, t),
     (Path, "write_bytes", 0)),
    ("figure save", lambda t: plotting.save(plotting.subplots(figsize=(2, 2))[0], t),
     (Figure, "savefig", 1)),
    ("report PDF", write_pdf, (Path, "write_bytes", 0)),
]


@pytest.mark.parametrize("name,write,failing", WRITERS, ids=[w[0] for w in WRITERS])
def test_a_full_disk_leaves_the_old_file_and_no_temporary_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
        write: Callable[[Path], None], failing: tuple[Any, str, int]) -> None:
    target = tmp_path / "artifact"
    target.write_bytes(b"old bytes")
    (tmp_path / "source").write_bytes(b"new bytes" * 100)
    owner, attribute, destination = failing
    monkeypatch.setattr(owner, attribute, full_disk(destination))
    with pytest.raises(OSError) as error:
        write(target)
    monkeypatch.undo()
    assert error.value.errno == errno.ENOSPC, name
    assert target.read_bytes() == b"old bytes", name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["artifact", "source", *(["page.html"] if name == "report PDF" else [])]), name


def test_a_second_seeds_artifacts_are_checked_like_the_first_seeds(tmp_path: Path, capsys) -> None:
    """results/<dataset>/<arch>/seed_<n>/ holds step outputs like its parent: recorded, verified,
    and moved aside when damaged, the first seed's files untouched."""
    results = tmp_path / "results"
    first, second = results / "mnist" / "mlp", results / "mnist" / "mlp" / "seed_1"
    for folder, weights in ((first, b"seed 0 weights"), (second, b"seed 1 weights")):
        outputs = [folder / "model.pt", folder / "metrics.json"]
        with checked_step(results / "logs" / "x.log", [], outputs, "train", artifact_root=results):
            folder.mkdir(parents=True, exist_ok=True)
            outputs[0].write_bytes(weights)
            outputs[1].write_text('{"seed": 1}')
    assert verifier.main(["verify", str(results)]) == 0
    assert "checked 4" in capsys.readouterr().out
    damaged = second / "model.pt"
    stat = damaged.stat()
    damaged.write_bytes(b"seed 1 weightz")
    os.utime(damaged, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert verifier.main(["verify", "--repair", str(results)]) == 1
    out = capsys.readouterr().out
    assert f"{damaged}: has different bytes than were written" in out
    assert str(first / "model.pt") not in out
    assert not damaged.exists() and (first / "model.pt").read_bytes() == b"seed 0 weights"
    assert [p.relative_to(results / "damaged").parts[-3:] for p in (results / "damaged").rglob("model.pt")] \
        == [("mlp", "seed_1", "model.pt")]
    assert verifier.main(["verify", str(results)]) == 0

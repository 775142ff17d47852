"""Step of workflow/rules/report.smk: the HTML report and its PDF."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from cnnlab.artifacts import REPORT_FILES
from cnnlab.report import collect_context, render_html, render_pdf


def render_report(
    *,
    results: Path | str,
    report_dir: Path | str,
    project: Path | str,
    template_dir: Path | str,
    css_path: Path | str,
    script_path: Path | str,
    config: Mapping[str, Any],
    runs: Sequence[tuple[str, str]],
    compare_datasets: Iterable[str],
    benchmarks: Iterable[Path | str],
    html_path: Path | str,
    pdf_path: Path | str,
) -> dict[str, Any]:
    """Read the artifacts, write ``index.html`` (figures copied beside it) and the PDF.

    The figures folder is rebuilt from scratch (no figure of an earlier run lingers), and each
    copied figure gets a SHA-256 record like any artifact, so `make verify` covers the report.
    The run-time table shows the ``benchmarks`` (of this run's jobs) that exist.
    """
    results, report_dir = Path(results), Path(report_dir)
    shutil.rmtree(report_dir / REPORT_FILES.figures, ignore_errors=True)
    context, _ = collect_context(results=results, report_dir=report_dir, project=Path(project),
                                 config=config, runs=runs, compare_datasets=compare_datasets,
                                 benchmarks=benchmarks)
    render_html(context, Path(template_dir), Path(css_path), Path(script_path), Path(html_path))
    render_pdf(Path(html_path), Path(pdf_path), [results, report_dir], context["run_epoch"])
    return context

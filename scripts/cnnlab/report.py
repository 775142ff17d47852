"""Render the pipeline's artifacts into a self-contained HTML report and a paginated PDF.

The context is read from the artifacts alone (every number comes from a run); templates are
jinja2 with ``StrictUndefined`` and autoescaping; the PDF renderer may read only files under
the allowed folders, and a missing figure stops the rendering instead of leaving a hole.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import jinja2
import yaml

from cnnlab import manifest
from cnnlab.models import model_spec


class ReportError(RuntimeError):
    """An input of the report is missing or unreadable; the message names it."""


# ---------------------------------------------------------------------------------------------
# Reading artifacts


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: cannot be read ({exc}); rerun the rule that writes it") from exc


def _csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    except OSError as exc:
        raise ReportError(f"{path}: cannot be read ({exc}); rerun the rule that writes it") from exc


def _number(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except (TypeError, ValueError):
            continue
    return value


def _typed(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    return [{k: _number(v) for k, v in row.items()} for row in rows]


class Figures:
    """Copies figures into the report folder and hands out their relative links."""

    def __init__(self, results: Path, report_dir: Path) -> None:
        self.results = results
        self.report_dir = report_dir
        self.copied: list[Path] = []

    def __call__(self, relative: str) -> str:
        source = self.results / relative
        if not source.is_file():
            raise ReportError(f"missing figure {source}: rerun the rule that draws it")
        target = self.report_dir / "figures" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        self.copied.append(target)
        return f"figures/{relative}"


def _benchmarks(results: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted((results / "benchmarks").rglob("*.tsv")):
        table = list(csv.DictReader(path.open(), delimiter="\t"))
        if table:
            parts = path.relative_to(results / "benchmarks").with_suffix("").parts
            rows.append({"job": " / ".join(parts), "seconds": float(table[0]["s"]),
                         "max_rss_mb": _number(table[0].get("max_rss", "0"))})
    return rows


def git_commit(project: Path) -> str:
    """The project's commit (with '+changes' when the tree differs), or 'not a git checkout'."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True,
                                text=True, check=True, timeout=20).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=project, capture_output=True, text=True, timeout=20).stdout
        return commit + (" +changes" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def findings(summary: Sequence[Mapping[str, Any]], compare: Mapping[str, Any] | None) -> list[str]:
    """Key findings as sentences built from the numbers of this run."""
    if not summary:
        return []
    sentences = []
    best = max(summary, key=lambda r: r["test_accuracy"])
    sentences.append(
        f"The most accurate model is {best['arch']}: {_pct(best['test_accuracy'])} test accuracy "
        f"with {best['parameters']:,} parameters after {best['epochs']} epochs.")
    cnns = [r for r in summary if r["convolutional"]]
    dense = [r for r in summary if not r["convolutional"]]
    if cnns and dense:
        best_cnn = max(cnns, key=lambda r: r["test_accuracy"])
        best_dense = max(dense, key=lambda r: r["test_accuracy"])
        sentences.append(
            f"The best CNN ({best_cnn['arch']}, {best_cnn['parameters']:,} parameters) reaches "
            f"{_pct(best_cnn['test_accuracy'])}; the best fully connected model "
            f"({best_dense['arch']}, {best_dense['parameters']:,} parameters) "
            f"{_pct(best_dense['test_accuracy'])}.")
        smallest = min(cnns, key=lambda r: r["parameters"])
        sentences.append(
            f"The smallest CNN, {smallest['arch']}, has {smallest['parameters']:,} parameters and "
            f"reaches {_pct(smallest['test_accuracy'])}.")
    if compare:
        perm = compare.get("permutation") or []
        for row in perm:
            kind = "CNN" if row["convolutional"] == "True" or row["convolutional"] is True else "MLP"
            sentences.append(
                f"On pixel-permuted images the {kind} {row['arch']} goes from "
                f"{_pct(row['accuracy_original'])} to {_pct(row['accuracy_permuted'])} "
                f"({100 * row['change']:+.2f} points).")
        efficiency = compare.get("data_efficiency") or []
        if efficiency:
            smallest_fraction = min(r["fraction"] for r in efficiency)
            at_small = [r for r in efficiency if r["fraction"] == smallest_fraction]
            parts = ", ".join(f"{r['arch']} {_pct(r['test_accuracy'])}" for r in at_small)
            sentences.append(
                f"With {at_small[0]['train_size']:,} training images "
                f"({100 * smallest_fraction:g}% of the set): {parts}.")
    return sentences


def collect_context(
    *,
    results: Path,
    report_dir: Path,
    project: Path,
    config: Mapping[str, Any],
    runs: Sequence[tuple[str, str]],
    compare_datasets: Iterable[str],
) -> tuple[dict[str, Any], Figures]:
    """Everything the templates show, read from the artifacts under ``results``."""
    figures = Figures(results, report_dir)
    datasets: dict[str, Any] = {}
    for dataset in dict.fromkeys(d for d, _ in runs):
        record = _json(results / "data" / f"{dataset}.json")
        datasets[dataset] = {"name": dataset, "record": record, "models": []}
    summary = []
    latest = 0.0
    runtime: dict[str, Any] = {}
    for dataset, arch in runs:
        base = results / dataset / arch
        spec = model_spec(arch)
        metrics = _json(base / "metrics.json")
        train = _json(base / "train.json")
        runtime = runtime or train["runtime"]
        latest = max(latest, (base / "metrics.json").stat().st_mtime)
        params = _typed(_csv(base / "params.csv"))
        model = {
            "arch": arch, "dataset": dataset, "description": spec.description,
            "convolutional": spec.is_convolutional, "metrics": metrics, "train": train,
            "params": params, "mult_adds": sum(r["mult_adds"] for r in params),
            "history": _typed(_csv(base / "history.csv")),
            "fig": {"confusion": figures(f"{dataset}/{arch}/confusion.png"),
                    "curves": figures(f"{dataset}/{arch}/curves.png"),
                    "misclassified": figures(f"{dataset}/{arch}/misclassified.png"),
                    "params": figures(f"{dataset}/{arch}/params.png"),
                    "shape_flow": figures(f"{dataset}/{arch}/shape_flow.png")},
            "sparsity": None, "receptive_field": None, "similarity": None, "feature_maps": [],
        }
        if (base / "sparsity.csv").is_file():
            model["sparsity"] = _typed(_csv(base / "sparsity.csv"))
            model["fig"]["sparsity"] = figures(f"{dataset}/{arch}/sparsity.png")
        if spec.is_convolutional:
            model["receptive_field"] = _typed(_csv(base / "receptive_field.csv"))
            similarity = _typed(_csv(base / "filter_similarity.csv"))
            model["similarity"] = {
                state: {
                    "mean_best": sum(r["best_similarity"] for r in rows) / len(rows),
                    "top": sorted(rows, key=lambda r: -r["best_similarity"])[:5],
                    "count": len(rows),
                }
                for state in ("trained", "init")
                for rows in [[r for r in similarity if r["state"] == state]]
            }
            for name in ("filters", "filters_signed", "filter_similarity", "conv_kernels",
                         "receptive_field"):
                model["fig"][name] = figures(f"{dataset}/{arch}/{name}.png")
            index = _json(base / "feature_maps" / "index.json")
            model["feature_maps"] = [
                {**layer, "src": figures(f"{dataset}/{arch}/feature_maps/{layer['file']}")}
                for layer in index["layers"]
            ]
        datasets[dataset]["models"].append(model)
        summary.append({
            "dataset": dataset, "arch": arch, "convolutional": spec.is_convolutional,
            "parameters": train["parameters"], "mult_adds": model["mult_adds"],
            "test_accuracy": metrics["test_accuracy"], "epochs": train["epochs"],
            "seconds_per_epoch": train["seconds_per_epoch"],
        })
    for dataset, entry in datasets.items():
        rows = [r for r in summary if r["dataset"] == dataset]
        entry["best"] = max(rows, key=lambda r: r["test_accuracy"])["arch"] if rows else None
    compare = {}
    for dataset in compare_datasets:
        folder = results / dataset / "compare"
        compare[dataset] = {
            name: _typed(_csv(folder / f"{name}.csv"))
            for name in ("cost", "dense_equivalent", "first_layer_224", "translation",
                         "permutation", "data_efficiency")
        }
        compare[dataset]["fig"] = {
            name: figures(f"{dataset}/compare/{name}.png")
            for name in ("cost", "dense_equivalent", "translation", "permutation",
                         "data_efficiency", "training_dynamics")
        }
    for dataset, entry in datasets.items():
        entry["findings"] = findings([r for r in summary if r["dataset"] == dataset],
                                     compare.get(dataset))
    benchmarks = _benchmarks(results)
    run_date = dt.datetime.fromtimestamp(latest, tz=dt.timezone.utc) if latest else None
    context = {
        "title": config["title"],
        "run_date": run_date.strftime("%Y-%m-%d %H:%M UTC") if run_date else "unknown",
        "run_epoch": int(latest),
        "datasets": datasets,
        "summary": summary,
        "compare": compare,
        "sample_notices": [d["record"]["source"].get("notice") for d in datasets.values()
                           if d["record"].get("is_sample")],
        "runtime": runtime,
        "seed": config["seed"],
        "config_yaml": yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=None),
        "git_commit": git_commit(project),
        "benchmarks": benchmarks,
        "total_seconds": sum(b["seconds"] for b in benchmarks),
    }
    return context, figures


# ---------------------------------------------------------------------------------------------
# Rendering


def environment(template_dir: Path) -> jinja2.Environment:
    """Jinja2 with StrictUndefined (a missing value is an error) and autoescape everywhere."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = _pct
    env.filters["thousands"] = lambda v: f"{int(v):,}"
    env.filters["fixed"] = lambda v, digits=2: f"{float(v):.{digits}f}"
    return env


def render_html(context: Mapping[str, Any], template_dir: Path, css_path: Path,
                out_html: Path, *, for_print: bool = False) -> str:
    """Render the report page; the stylesheet is inlined so the page needs no other file."""
    env = environment(template_dir)
    html = env.get_template("report.html.j2").render(
        **context, css=css_path.read_text(), for_print=for_print)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(html)
    return html


def restricted_fetcher(allowed: Sequence[Path]) -> Any:
    """WeasyPrint's URL fetcher, limited to existing files under the ``allowed`` folders.

    Anything else (the network, /etc, a missing figure) raises FatalURLFetchingError, which
    stops the rendering instead of leaving a hole in the PDF.
    """
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    roots = [Path(p).resolve() for p in allowed]
    where = ", ".join(map(str, roots))

    class Fetcher(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            parsed = urlparse(url)
            if parsed.scheme != "file":
                raise FatalURLFetchingError(
                    f"refusing {url}: the report may only read local files under {where}")
            path = Path(url2pathname(unquote(parsed.path))).resolve()
            if not any(path.is_relative_to(root) for root in roots):
                raise FatalURLFetchingError(f"refusing {path}: outside the allowed folders {where}")
            if not path.is_file():
                raise FatalURLFetchingError(f"missing file {path}: rerun the rule that makes it")
            return super().fetch(url, headers)

    return Fetcher(fail_on_errors=True, allowed_protocols={"file"})


def render_pdf(html_path: Path, pdf_path: Path, allowed: Sequence[Path], epoch: int) -> None:
    """Render ``html_path`` to PDF; the same inputs give the same bytes (SOURCE_DATE_EPOCH)."""
    from weasyprint import HTML

    os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
    document = HTML(filename=str(html_path), url_fetcher=restricted_fetcher(allowed))
    document.write_pdf(str(pdf_path), uncompressed_pdf=False)


def render_report(
    *,
    results: Path | str,
    report_dir: Path | str,
    project: Path | str,
    template_dir: Path | str,
    css_path: Path | str,
    config: Mapping[str, Any],
    runs: Sequence[tuple[str, str]],
    compare_datasets: Iterable[str],
    html_path: Path | str,
    pdf_path: Path | str,
) -> dict[str, Any]:
    """Read the artifacts, write ``index.html`` (figures copied beside it) and the PDF.

    The figures folder is rebuilt from scratch (no figure of an earlier run lingers), and each
    copied figure gets a SHA-256 record like any artifact, so `make verify` covers the report.
    """
    results, report_dir = Path(results), Path(report_dir)
    shutil.rmtree(report_dir / "figures", ignore_errors=True)
    context, figures = collect_context(results=results, report_dir=report_dir, project=Path(project),
                                       config=config, runs=runs, compare_datasets=compare_datasets)
    render_html(context, Path(template_dir), Path(css_path), Path(html_path))
    render_pdf(Path(html_path), Path(pdf_path), [results, report_dir], context["run_epoch"])
    for figure in figures.copied:
        manifest.record_artifact(figure, "render_report")
    return context

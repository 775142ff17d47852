"""The report's context: every number and figure it shows, read from the artifacts of a run."""

from __future__ import annotations

import datetime as dt
import functools
import subprocess
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from cnnlab import artifacts as names
from cnnlab import manifest
from cnnlab.analysis import certainty
from cnnlab.io import atomic_copy, read_csv, read_json, typed_rows
from cnnlab.models import model_spec
from cnnlab.report.findings import (
    best_pair,
    findings,
    head_to_head,
    head_to_head_row,
    seed_paths,
    with_evidence,
)
from cnnlab.report.model_findings import (
    METHOD_LABELS,
    attribution_findings,
    calibration_findings,
    deepest_fields,
    effective_field_findings,
    embedding_findings,
    weight_evolution_summary,
)

# What the templates call each figure and table, and the artifact it is read from.
RUN_FIGURES = {"confusion": names.EVALUATE.confusion, "curves": names.EVALUATE.curves,
               "reliability": names.CALIBRATION.png, "weights": names.WEIGHT_CHANGES.png,
               "weight_evolution": names.WEIGHT_CHANGES.evolution,
               "misclassified": names.EVALUATE.misclassified, "params": names.PARAMS.png,
               "shape_flow": names.PARAMS.flow}
CONV_FIGURES = {"filters": names.FILTERS.filters, "filters_signed": names.FILTERS.signed,
                "filter_similarity": names.FILTERS.similarity_plot,
                "conv_kernels": names.FILTERS.deeper, "receptive_field": names.RECEPTIVE_FIELD.png,
                "effective_field": names.EFFECTIVE_FIELD.png,
                "optimal_inputs": names.OPTIMAL_INPUTS.png,
                "attribution": names.ATTRIBUTION.mosaic,
                "attribution_checks": names.ATTRIBUTION.checks_plot,
                "randomisation": names.ATTRIBUTION.randomisation}
COMPARE_TABLES = {"cost": names.COST.csv, "dense_equivalent": names.DENSE_EQUIVALENT.csv,
                  "first_layer_224": names.DENSE_EQUIVALENT.thought,
                  "translation": names.TRANSLATION.csv, "permutation": names.PERMUTATION.csv,
                  "data_efficiency": names.DATA_EFFICIENCY.csv,
                  "translation_tests": names.TRANSLATION.tests,
                  "data_efficiency_tests": names.DATA_EFFICIENCY.tests}
COMPARE_FIGURES = {"cost": names.COST.png, "dense_equivalent": names.DENSE_EQUIVALENT.png,
                   "translation": names.TRANSLATION.png, "permutation": names.PERMUTATION.png,
                   "data_efficiency": names.DATA_EFFICIENCY.png,
                   "training_dynamics": names.TRAINING_DYNAMICS.png}


class ReportError(RuntimeError):
    """An input of the report is missing or unreadable; the message names it."""


class Figures:
    """Copies figures into the report folder and hands out their relative links.

    Each copy is recorded as soon as it is made (:func:`cnnlab.manifest.recording`), so an
    interrupted report leaves no copied figure without a record, however far it got.
    """

    def __init__(self, results: Path, report_dir: Path, step: str = "render_report") -> None:
        self.results = results
        self.report_dir = report_dir
        self.step = step
        self.copied: list[Path] = []

    def __call__(self, relative: str) -> str:
        source = self.results / relative
        if not source.is_file():
            raise ReportError(f"missing figure {source}: rerun the rule that draws it")
        target = self.report_dir / names.REPORT_FILES.figures / relative
        with manifest.recording([target], self.step):
            atomic_copy(source, target)
        self.copied.append(target)
        return f"{names.REPORT_FILES.figures}/{relative}"


def read_benchmarks(results: Path, paths: Iterable[Path | str]) -> list[dict[str, Any]]:
    """The run-time table: one row for each of ``paths`` (Snakemake benchmark files) that exists.

    ``paths`` are the benchmark files of the jobs the config implies (``job_benchmarks`` in
    workflow/rules/common.smk), not whatever lies under results/benchmarks/: that folder
    keeps the timings of removed architectures and earlier renders. A job that has not run yet
    has no file and no row.
    """
    rows = []
    folder = results / names.BENCHMARKS
    for path in map(Path, paths):
        if not path.is_file():
            continue
        table = typed_rows(read_csv(path, delimiter="\t"))
        if table:
            try:
                parts = path.resolve().relative_to(folder.resolve()).with_suffix("").parts
            except ValueError:  # a benchmark kept elsewhere: named by its path
                parts = path.with_suffix("").parts
            # A job's stage is its file's name: train.tsv, prepare_data.tsv.
            rows.append({"job": " / ".join(parts), "stage": parts[-1],
                         "seconds": float(table[0]["s"]), "max_rss_mb": table[0].get("max_rss", 0)})
    return rows


def stage_times(benchmarks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Where the run's time went: per stage (a benchmark file's name: train, calibrate, ...),
    its jobs, their summed seconds and share of all jobs' time, most expensive first."""
    total = sum(row["seconds"] for row in benchmarks) or 1.0
    stages: dict[str, dict[str, Any]] = {}
    for row in benchmarks:
        stage = stages.setdefault(row["stage"], {"stage": row["stage"], "jobs": 0, "seconds": 0.0})
        stage["jobs"] += 1
        stage["seconds"] += row["seconds"]
    return [{**stage, "share": stage["seconds"] / total}
            for stage in sorted(stages.values(), key=lambda s: -s["seconds"])]


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


def collect_context(
    *,
    results: Path,
    report_dir: Path,
    project: Path,
    config: Mapping[str, Any],
    runs: Sequence[tuple[str, str]],
    compare_datasets: Iterable[str],
    benchmarks: Iterable[Path | str],
) -> tuple[dict[str, Any], Figures]:
    """Everything the templates show, read from the artifacts under ``results``.

    ``benchmarks`` are the benchmark files of this run's jobs (:func:`read_benchmarks`).
    """
    figures = Figures(results, report_dir)
    compare_datasets = list(compare_datasets)
    trained = list(dict.fromkeys(d for d, _ in runs))
    # Provenance and sample notices cover every dataset the report draws on, the compared ones
    # included, even where no model of the report's own list was trained on it.
    data_sources = [
        {"name": dataset, "record": read_json(results / "data" / f"{dataset}{names.DATA.record}"),
         "used_for": " and ".join(use for use, among in (("training", trained),
                                                         ("comparison", compare_datasets))
                                  if dataset in among)}
        for dataset in dict.fromkeys([*trained, *compare_datasets])
    ]
    records = {source["name"]: source["record"] for source in data_sources}
    datasets: dict[str, Any] = {
        dataset: {"name": dataset, "record": records[dataset], "models": []} for dataset in trained
    }
    summary = []
    latest = 0.0
    runtime: dict[str, Any] = {}
    seeds = {arch: list(settings["seeds"]) for arch, settings in config["training"].items()}
    for dataset, arch in runs:
        base = results / dataset / arch
        spec = model_spec(arch)
        train = read_json(base / names.TRAIN.record)
        every_seed = [read_json(path) for path in
                      seed_paths(results, names.EVALUATE.metrics, dataset, arch, seeds[arch])]
        metrics = every_seed[0]  # the first seed's: the run this section's figures show
        accuracy = certainty.across_seeds([m["test_accuracy"] for m in every_seed],
                                          metrics["test_accuracy_interval"])
        runtime = runtime or train["runtime"]
        latest = max(latest, (base / names.EVALUATE.metrics).stat().st_mtime)
        params = typed_rows(read_csv(base / names.PARAMS.csv))
        model = {
            "arch": arch, "dataset": dataset, "description": spec.description,
            "convolutional": spec.is_convolutional, "metrics": metrics, "train": train,
            "params": params, "mult_adds": sum(r["mult_adds"] for r in params),
            "seeds": seeds[arch], "accuracy": accuracy.as_dict(),
            "calibration": read_json(base / names.CALIBRATION.json),
            "weights": typed_rows(read_csv(base / names.WEIGHT_CHANGES.csv)),
            "weight_evolution": weight_evolution_summary(
                typed_rows(read_csv(base / names.WEIGHT_CHANGES.evolution_csv))),
            "seed_accuracies": [m["test_accuracy"] for m in every_seed],
            "history": typed_rows(read_csv(base / names.TRAIN.history)),
            "fig": {key: figures(f"{dataset}/{arch}/{name}") for key, name in RUN_FIGURES.items()},
            "sparsity": None, "receptive_field": None, "similarity": None, "feature_maps": [],
            "attribution": None, "effective_field": None, "deepest_field": None, "top_images": [],
            "optimal_inputs": None,
            "residual": spec.has_skip,
        }
        if (base / names.SPARSITY.csv).is_file():
            model["sparsity"] = typed_rows(read_csv(base / names.SPARSITY.csv))
            model["fig"]["sparsity"] = figures(f"{dataset}/{arch}/{names.SPARSITY.png}")
        if spec.is_convolutional:
            model["receptive_field"] = typed_rows(read_csv(base / names.RECEPTIVE_FIELD.csv))
            model["attribution"] = read_json(base / names.ATTRIBUTION.checks)
            model["optimal_inputs"] = read_json(base / names.OPTIMAL_INPUTS.json)
            model["effective_field"] = typed_rows(read_csv(base / names.EFFECTIVE_FIELD.csv))
            model["deepest_field"] = deepest_fields(model["effective_field"])
            top = read_json(base / names.TOP_IMAGES.images / names.TOP_IMAGES.index)
            model["top_images"] = [
                {"layer": layer["layer"], "channels": layer["channels"], "shown": layer["shown"],
                 "receptive_field": layer["receptive_field"],
                 "src": figures(f"{dataset}/{arch}/{names.TOP_IMAGES.images}/{layer['file']}")}
                for layer in top["layers"]]
            model["effective_field_pairs"] = [
                {"layer": r["layer"], "trained": r,
                 "init": next(i for i in model["effective_field"]
                              if i["layer"] == r["layer"] and i["state"] == "init")}
                for r in model["effective_field"] if r["state"] == "trained"]
            similarity = typed_rows(read_csv(base / names.FILTERS.similarity))
            model["similarity"] = {
                state: {
                    "mean_best": sum(r["best_similarity"] for r in rows) / len(rows),
                    "top": sorted(rows, key=lambda r: -r["best_similarity"])[:5],
                    "count": len(rows),
                }
                for state in ("trained", "init")
                for rows in [[r for r in similarity if r["state"] == state]]
            }
            model["fig"].update(
                {key: figures(f"{dataset}/{arch}/{name}") for key, name in CONV_FIGURES.items()})
            index = read_json(base / names.FEATURE_MAPS.maps / names.FEATURE_MAPS.index)
            model["feature_maps"] = [
                {**layer, "src": figures(f"{dataset}/{arch}/{names.FEATURE_MAPS.maps}/{layer['file']}")}
                for layer in index["layers"]
            ]
        datasets[dataset]["models"].append(model)
        summary.append({
            "dataset": dataset, "arch": arch, "convolutional": spec.is_convolutional,
            "parameters": train["parameters"], "mult_adds": model["mult_adds"],
            "test_accuracy": accuracy.estimate, "accuracy": accuracy.as_dict(),
            "seeds": len(every_seed), "epochs": train["epochs"],
            "seconds_per_epoch": train["seconds_per_epoch"],
        })
    for dataset, entry in datasets.items():
        rows = [r for r in summary if r["dataset"] == dataset]
        entry["best"] = max(rows, key=lambda r: r["test_accuracy"])["arch"] if rows else None
        entry["calibration_findings"] = with_evidence(
            calibration_findings(entry["models"]), "table", f"{dataset}/calibration")
        entry["attribution_findings"] = with_evidence(
            attribution_findings(entry["models"]), "table", f"{dataset}/attribution")
        entry["effective_field_findings"] = with_evidence(
            effective_field_findings(entry["models"]), "table", f"{dataset}/effective_fields")
        embeddings = typed_rows(read_csv(results / dataset / names.EMBEDDINGS.csv))
        entry["embeddings"] = {"rows": embeddings, "src": figures(f"{dataset}/{names.EMBEDDINGS.png}"),
                               "findings": with_evidence(embedding_findings(embeddings), "table",
                                                         f"{dataset}/embeddings")}
    compare = {}
    for dataset in compare_datasets:
        folder = results / dataset / "compare"
        compare[dataset] = {key: typed_rows(read_csv(folder / name))
                            for key, name in COMPARE_TABLES.items()}
        compare[dataset]["fig"] = {key: figures(f"{dataset}/compare/{name}")
                                   for key, name in COMPARE_FIGURES.items()}
        # How many seeds the extra training runs were cut to (null: every seed of each model).
        compare[dataset]["seeds_cap"] = {experiment: config["compare"][experiment]["seeds"]
                                         for experiment in ("permutation", "data_efficiency")}
    for dataset, entry in datasets.items():
        pair = best_pair([r for r in summary if r["dataset"] == dataset])
        entry["head_to_head"] = (head_to_head_row(results, dataset, seeds, pair[0]["arch"],
                                                  pair[1]["arch"]) if pair else None)
        entry["findings"] = findings(
            [r for r in summary if r["dataset"] == dataset], compare.get(dataset),
            functools.partial(head_to_head, results, dataset, seeds))
    benchmarks = read_benchmarks(results, benchmarks)
    run_date = dt.datetime.fromtimestamp(latest, tz=dt.timezone.utc) if latest else None
    context = {
        "title": config["title"],
        "run_date": run_date.strftime("%Y-%m-%d %H:%M UTC") if run_date else "unknown",
        "run_epoch": int(latest),
        "datasets": datasets,
        "summary": summary,
        "compare": compare,
        "data_sources": data_sources,
        "sample_notices": [{"dataset": d["name"], "notice": d["record"]["source"].get("notice")}
                           for d in data_sources if d["record"].get("is_sample")],
        "runtime": runtime,
        "seed": config["seed"],
        "seeds": {arch: seeds[arch] for arch in dict.fromkeys(a for _, a in runs)},
        "config_yaml": yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=None),
        "git_commit": git_commit(project),
        "benchmarks": benchmarks,
        "stage_times": stage_times(benchmarks),
        "attribution_methods": METHOD_LABELS,
        "attribution_shown": any(m["attribution"] for d in datasets.values() for m in d["models"]),
        "units_shown": bool(datasets),  # every model has a penultimate representation
        "certainty": {"resamples": certainty.RESAMPLES, "significance": certainty.SIGNIFICANCE,
                      "confidence": certainty.CONFIDENCE},
        "total_seconds": sum(b["seconds"] for b in benchmarks),
    }
    return context, figures

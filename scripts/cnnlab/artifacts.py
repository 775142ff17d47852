"""Every artifact's file name and folder, declared once: the rules, the report and the tests
read them here, so renaming a figure is one edit.

Each stage's files are a named tuple whose fields are the rule's output names. Paths are
relative to the working directory Snakemake runs in; ``{dataset}`` and ``{arch}`` (and
``{seed}``) stay wildcards unless a value is given.
"""

from __future__ import annotations

from typing import NamedTuple

RESULTS = "results"
REPORT = "report"
# Folders of results/ that hold no step outputs (see verify.UNRECORDED_DIRS).
LOGS, BENCHMARKS, CHECKPOINTS, KEPT_RUNS = "logs", "benchmarks", "checkpoints", "runs"
# The folder of an architecture's run with a seed other than its first: seed_<n>/.
SEED_DIR = "seed_"


class DataFiles(NamedTuple):
    """results/data/{dataset}<suffix>: a prepared (or derived) dataset."""

    data: str = ".npz"
    record: str = ".json"


class TrainFiles(NamedTuple):
    model: str = "model.pt"
    history: str = "history.csv"
    record: str = "train.json"
    # Per epoch: every learned layer's relative change and the first convolution's kernels.
    trajectory: str = "weight_trajectory.npz"


class EvaluateFiles(NamedTuple):
    metrics: str = "metrics.json"
    confusion: str = "confusion.png"
    misclassified: str = "misclassified.png"
    curves: str = "curves.png"
    # Per test image: label, prediction, confidence; what the paired tests of two models need.
    predictions: str = "predictions.npz"
    # Test and validation logits: what calibration needs, without the model or torch.
    logits: str = "logits.npz"


class TopImageFiles(NamedTuple):
    images: str = "top_images"  # a folder: one figure per convolution and index.json
    index: str = "index.json"


class EmbeddingFiles(NamedTuple):
    embedding: str = "embedding.npz"  # PCA and t-SNE coordinates, labels, test image indices
    json: str = "embedding.json"


class CalibrationFiles(NamedTuple):
    json: str = "calibration.json"
    png: str = "reliability.png"


class AttributionFiles(NamedTuple):
    mosaic: str = "attribution.png"
    checks: str = "attribution_checks.json"
    checks_plot: str = "attribution_checks.png"
    randomisation: str = "randomisation.png"


class ParamFiles(NamedTuple):
    csv: str = "params.csv"
    png: str = "params.png"
    flow: str = "shape_flow.png"


class FilterFiles(NamedTuple):
    filters: str = "filters.png"
    signed: str = "filters_signed.png"
    similarity: str = "filter_similarity.csv"
    similarity_plot: str = "filter_similarity.png"
    deeper: str = "conv_kernels.png"


class FeatureMapFiles(NamedTuple):
    maps: str = "feature_maps"  # a folder: one figure per layer and index.json
    index: str = "index.json"


class TablePlot(NamedTuple):
    csv: str
    png: str


class JsonPlot(NamedTuple):
    json: str
    png: str


class WeightChangeFiles(NamedTuple):
    csv: str = "weights.csv"
    png: str = "weights.png"
    # Per epoch of training (from the train step's weight trajectory).
    evolution_csv: str = "weight_evolution.csv"
    evolution: str = "weight_evolution.png"


class TestedTablePlot(NamedTuple):
    """A table and its figure, and the tests of each CNN against each fully connected model."""

    csv: str
    png: str
    tests: str


class DenseEquivalentFiles(NamedTuple):
    csv: str = "dense_equivalent.csv"
    thought: str = "first_layer_224.csv"
    png: str = "dense_equivalent.png"


class ReportFiles(NamedTuple):
    html: str = "index.html"
    pdf: str = "report.pdf"
    figures: str = "figures"


DATA = DataFiles()
TRAIN = TrainFiles()
EVALUATE = EvaluateFiles()
PARAMS = ParamFiles()
CALIBRATION = CalibrationFiles()
ATTRIBUTION = AttributionFiles()
TOP_IMAGES = TopImageFiles()
EMBEDDING = EmbeddingFiles()
# Across the models of a dataset: results/{dataset}/{name}.
EMBEDDINGS = TablePlot("embeddings.csv", "embeddings.png")
FILTERS = FilterFiles()
FEATURE_MAPS = FeatureMapFiles()
SPARSITY = TablePlot("sparsity.csv", "sparsity.png")
RECEPTIVE_FIELD = TablePlot("receptive_field.csv", "receptive_field.png")
EFFECTIVE_FIELD = TablePlot("effective_field.csv", "effective_field.png")
OPTIMAL_INPUTS = JsonPlot("optimal_inputs.json", "optimal_inputs.png")
WEIGHT_CHANGES = WeightChangeFiles()
COST = TablePlot("cost.csv", "cost.png")
DENSE_EQUIVALENT = DenseEquivalentFiles()
TRANSLATION = TestedTablePlot("translation.csv", "translation.png", "translation_tests.csv")
PERMUTATION = TablePlot("permutation.csv", "permutation.png")
DATA_EFFICIENCY = TestedTablePlot("data_efficiency.csv", "data_efficiency.png",
                                  "data_efficiency_tests.csv")
TRAINING_DYNAMICS = TablePlot("training_dynamics.csv", "training_dynamics.png")
REPORT_FILES = ReportFiles()

COMPARE_FILES: tuple[tuple[str, ...], ...] = (
    COST, DENSE_EQUIVALENT, TRANSLATION, PERMUTATION, DATA_EFFICIENCY, TRAINING_DYNAMICS,
)


def data_file(kind: str, dataset: str = "{dataset}") -> str:
    """results/data/{dataset}.npz (``kind`` data) or .json (``kind`` record)."""
    return f"{RESULTS}/data/{dataset}{getattr(DATA, kind)}"


def run_file(name: str, dataset: str = "{dataset}", arch: str = "{arch}",
             seed: int | str | None = None) -> str:
    """A file of one training run: results/{dataset}/{arch}/{name} for the architecture's
    first seed, results/{dataset}/{arch}/seed_{seed}/{name} for each of its other seeds."""
    run_dir = f"{RESULTS}/{dataset}/{arch}"
    return f"{run_dir}/{name}" if seed is None else f"{run_dir}/{SEED_DIR}{seed}/{name}"


def seed_files(name: str, dataset: str, arch: str, seeds: list[int]) -> list[str]:
    """The file ``name`` of every seed's run, in the order of ``seeds`` (the first seed's
    at the plain run path)."""
    return [run_file(name, dataset, arch, None if i == 0 else seed) for i, seed in enumerate(seeds)]


def dataset_file(name: str, dataset: str = "{dataset}") -> str:
    """A file about every model of a dataset: results/{dataset}/{name}."""
    return f"{RESULTS}/{dataset}/{name}"


def compare_file(name: str, dataset: str = "{dataset}") -> str:
    """A file of the CNN-vs-MLP comparison: results/{dataset}/compare/{name}."""
    return f"{RESULTS}/{dataset}/compare/{name}"


def run_outputs(*, convolutional: bool, has_relu: bool) -> list[str]:
    """File names under results/{dataset}/{arch}/ that apply to an architecture: evaluation,
    calibration, embedding, weight changes and parameters for all, sparsity where there are
    ReLUs, the rest (filters, feature maps, receptive fields, effective ones, top images,
    optimal inputs, attribution) for convolutional ones."""
    names = [*EVALUATE, *CALIBRATION, *EMBEDDING, *WEIGHT_CHANGES, PARAMS.csv, PARAMS.png,
             PARAMS.flow]
    if has_relu:
        names += [*SPARSITY]
    if convolutional:
        names += [*FILTERS, FEATURE_MAPS.maps, *RECEPTIVE_FIELD, *EFFECTIVE_FIELD,
                  TOP_IMAGES.images, *OPTIMAL_INPUTS, *ATTRIBUTION]
    return names


def compare_outputs() -> list[str]:
    """File names under results/{dataset}/compare/."""
    return [name for files in COMPARE_FILES for name in files]


def report_file(name: str) -> str:
    """A file of the rendered report: report/{name}."""
    return f"{REPORT}/{name}"


def checkpoint_dir(dataset: str = "{dataset}", arch: str = "{arch}") -> str:
    """Epoch checkpoints of unfinished runs (outside Snakemake's outputs, never deleted by it)."""
    return f"{RESULTS}/{CHECKPOINTS}/{dataset}/{arch}"


def kept_runs_dir(dataset: str = "{dataset}", arch: str = "{arch}") -> str:
    """Finished runs kept by run id, so a failed rerun cannot lose a good model."""
    return f"{RESULTS}/{KEPT_RUNS}/{dataset}/{arch}"

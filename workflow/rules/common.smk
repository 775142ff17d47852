# Config validation, wildcard constraints and input functions. No rules here.
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

# Facts only: none of these imports torch, so deciding the DAG stays fast.
from cnnlab.artifacts import (  # noqa: E402
    ATTRIBUTION, CALIBRATION, COST, DATA_EFFICIENCY, DENSE_EQUIVALENT, EFFECTIVE_FIELD, EMBEDDING,
    EMBEDDINGS, EVALUATE, FEATURE_MAPS, FILTERS, OPTIMAL_INPUTS, PARAMS, PERMUTATION,
    RECEPTIVE_FIELD, REPORT_FILES, SPARSITY, TOP_IMAGES, TRAIN, TRAINING_DYNAMICS, TRANSLATION,
    WEIGHT_CHANGES,
    checkpoint_dir, compare_file, compare_outputs, data_file, dataset_file, kept_runs_dir,
    report_file, run_file, run_outputs, seed_files,
)
from cnnlab.config import ConfigError, load_schema, validate_config  # noqa: E402
from cnnlab.datasets import (  # noqa: E402
    DATASETS, DataError, data_search_path, split_dataset_name, subset_dataset_name, subset_epochs,
)
from cnnlab.datasets.sources import (  # noqa: E402
    check_env_search_path, check_no_downgrade, planned_source,
)
from cnnlab.io import ArtifactReadError, read_json  # noqa: E402
from cnnlab.hardware import nvidia_gpu_count  # noqa: E402
from cnnlab.models import list_models, model_spec  # noqa: E402

SCHEMA_PATH = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
REPORT_TEMPLATES = sorted(
    str(p) for p in (Path(workflow.basedir) / "workflow" / "report" / "templates").glob("*.html.j2")
)
REPORT_CSS = str(Path(workflow.basedir) / "workflow" / "report" / "static" / "report.css")
REPORT_SCRIPT = str(Path(workflow.basedir) / "workflow" / "report" / "static" / "report.js")

try:
    _validated = validate_config(
        config,
        load_schema(SCHEMA_PATH),
        model_shapes={name: model_spec(name).input_shape for name in list_models()},
        dataset_shapes={name: info.input_shape for name, info in DATASETS.items()},
        project_dir=Path.cwd(),
    )
except ConfigError as error:
    raise WorkflowError(str(error)) from None
config.clear()
config.update(_validated)


BASE_DATASET = "|".join(DATASETS)


def used_base_datasets():
    """Every published dataset the run trains or compares on."""
    return list(dict.fromkeys([*config["datasets"], *config["compare"]["datasets"]]))


def prepared_record(dataset):
    """The record of the prepared dataset already under results/, or None."""
    path = Path(data_file("record", dataset))
    try:
        return read_json(path) if path.is_file() else None
    except ArtifactReadError:
        return None  # a damaged record is rebuilt like a missing one


def _data_search_path():
    env_value = os.environ.get("CNNLAB_DATA_PATH")
    check_env_search_path(env_value, Path.cwd())
    return data_search_path(Path.cwd(), env_value, config["data"]["search_path"])


_DATA_SOURCES = {}


def data_source(dataset):
    """The source prepare_data will try first for ``dataset`` (checked: never a downgrade)."""
    if dataset not in _DATA_SOURCES:
        previous = prepared_record(dataset)
        plan = planned_source(dataset, DATA_SEARCH_PATH, allow_download=config["data"]["download"],
                              previous=previous)
        prepared = [data_file("data", dataset), data_file("record", dataset)]
        check_no_downgrade(dataset, plan, previous, DATA_SEARCH_PATH, prepared)
        _DATA_SOURCES[dataset] = plan
    return _DATA_SOURCES[dataset]


def planned_data_source(wildcards):
    """A param of prepare_data: data found after a run on the offline sample replaces it."""
    return data_source(wildcards.dataset)


def announce_sample_data():
    """Repeat in the terminal, at the end of the run, every dataset that is the offline sample."""
    for dataset in used_base_datasets():
        record = prepared_record(dataset)
        if record and record.get("is_sample"):
            print(f"\ncnnlab: {dataset}: {record['source'].get('notice')}\n", file=sys.stderr)


# Checked before any job runs: a missing folder on CNNLAB_DATA_PATH, or data prepared from a
# copy that is gone, stops here rather than quietly switching the run to other data.
try:
    DATA_SEARCH_PATH = _data_search_path()
    for _dataset in used_base_datasets():
        data_source(_dataset)
except DataError as error:
    raise WorkflowError(str(error)) from None


# A dataset is a published one or one derived from it for the comparison experiments:
# <base>_permuted (pixels shuffled) or <base>_subset_<fraction> (part of the training split).
wildcard_constraints:
    dataset=f"({BASE_DATASET})(_permuted|_subset_[0-9.]+)?",
    arch="|".join(list_models()),
    seed="[0-9]+",


def seeds_of(arch):
    """The training seeds of ``arch`` (resolved by validate_config); the first is its plain run."""
    return config["training"][arch]["seeds"]


def experiment_seeds(arch, experiment=None):
    """The seeds of ``arch`` that a comparison experiment (``permutation``, ``data_efficiency``)
    trains and compares: the first ``compare.<experiment>.seeds`` of its training seeds, or all
    of them (also with no experiment)."""
    return seeds_of(arch)[:config["compare"][experiment]["seeds"] if experiment else None]


def run_seeds(dataset, arch):
    """The seeds ``arch`` trains with on ``dataset``: on a derived dataset (permuted pixels, a
    training subset), those of the experiment that asks for it."""
    _, derivation, _ = split_dataset_name(dataset)
    experiment = {None: None, "permuted": "permutation", "subset": "data_efficiency"}[derivation]
    return experiment_seeds(arch, experiment)


def training_seed(wildcards):
    """The seed of rule train_seed's run, or the architecture's first seed for rule train."""
    if "seed" in wildcards.keys():
        return int(wildcards.seed)
    return seeds_of(wildcards.arch)[0]


def run_pairs():
    """(dataset, arch) for every training run the config asks for."""
    return [
        (dataset, arch)
        for dataset, run in config["datasets"].items()
        for arch in run["architectures"]
    ]


def arch_outputs(arch):
    """File names under results/{dataset}/{arch}/ that `all` asks for: what applies to it."""
    spec = model_spec(arch)
    return run_outputs(convolutional=spec.is_convolutional, has_relu=spec.has_relu)


def all_targets(wildcards):
    """Everything `snakemake` with no target builds."""
    targets = [
        run_file(name, dataset, arch)
        for dataset, arch in run_pairs()
        for name in arch_outputs(arch)
    ]
    # Every other seed's run is evaluated; the inspections look at the first seed's model.
    targets += [
        run_file(name, dataset, arch, seed)
        for dataset, arch in run_pairs()
        for seed in seeds_of(arch)[1:]
        for name in EVALUATE
    ]
    for dataset in config["datasets"]:
        targets += [dataset_file(name, dataset) for name in EMBEDDINGS]
    for dataset in config["compare"]["datasets"]:
        targets += [compare_file(name, dataset) for name in compare_outputs()]
    return targets


def every_training_run():
    """(dataset, arch) of every training the config implies, comparison runs included."""
    runs = list(run_pairs())
    for dataset in config["compare"]["datasets"]:
        runs += [(f"{dataset}_permuted", arch)
                 for arch in config["compare"]["permutation"]["architectures"]]
        runs += [(name, arch) for arch, _, name in data_efficiency_runs(dataset)]
    return list(dict.fromkeys(runs))


def kept_artifacts(wildcards):
    """The prepared data and trained models themselves, not only what is made from them.

    Named by `all` so that one moved aside as damaged (make verify-repair) is rebuilt by the next
    run even though the figures made from it still exist.
    """
    targets = []
    for dataset, arch in every_training_run():
        targets += [path for name in TRAIN for path in seed_files(name, dataset, arch, run_seeds(dataset, arch))]
        targets += [data_file("data", dataset), data_file("record", dataset)]
    return list(dict.fromkeys(targets))


def report_records(wildcards):
    """Run records the report reads besides the figures and tables (checked like any input)."""
    records = [data_file("record", dataset) for dataset in used_base_datasets()]
    for dataset, arch in run_pairs():
        for name in (TRAIN.record, TRAIN.history, EVALUATE.metrics, EVALUATE.predictions):
            records += seed_files(name, dataset, arch, seeds_of(arch))
    return list(dict.fromkeys(records))


def training_settings(wildcards):
    """The resolved recipe of one run (a param: changing it reruns only that run's jobs).

    A run on a training subset gets as many optimiser steps as the full run, within
    compare.data_efficiency.max_epochs.
    """
    settings = dict(config["training"][wildcards.arch])
    del settings["seeds"]  # the seed is a param of its own; the recipe is the same for each
    _, derivation, fraction = split_dataset_name(wildcards.dataset)
    if derivation == "subset":
        settings["epochs"] = subset_epochs(
            settings["epochs"], fraction, config["compare"]["data_efficiency"]["max_epochs"]
        )
    return settings


def derivation_seed(wildcards):
    """The permutation's own seed for permuted pixels, the run seed for subsets."""
    if wildcards.derivation == "permuted":
        return config["compare"]["permutation"]["seed"]
    return config["seed"]


def runs_of(dataset, archs, name, experiment=None):
    """results/{dataset}/{arch}[/seed_{n}]/{name} for each architecture and each of its seeds
    (those of ``experiment``: :func:`experiment_seeds`), in the order of :func:`seed_labels`."""
    return [path for arch in archs
            for path in seed_files(name, dataset, arch, experiment_seeds(arch, experiment))]


def seed_labels(archs, experiment=None):
    """[arch, seed] of each run :func:`runs_of` lists, in its order (a compare rule's param)."""
    return [[arch, seed] for arch in archs for seed in experiment_seeds(arch, experiment)]


def compare_arch_seeds(wildcards):
    return seed_labels(config["compare"]["architectures"])


def permutation_arch_seeds(wildcards):
    return seed_labels(config["compare"]["permutation"]["architectures"], "permutation")


def compare_cost_inputs(wildcards):
    archs = config["compare"]["architectures"]
    return {
        "metrics": runs_of(wildcards.dataset, archs, EVALUATE.metrics),
        "train": runs_of(wildcards.dataset, archs, TRAIN.record),
        "params": [run_file(PARAMS.csv, wildcards.dataset, arch) for arch in archs],
    }


def compare_translation_inputs(wildcards):
    return {
        "data": data_file("data", wildcards.dataset),
        "record": data_file("record", wildcards.dataset),
        "models": runs_of(wildcards.dataset, config["compare"]["architectures"], TRAIN.model),
        "train": runs_of(wildcards.dataset, config["compare"]["architectures"], TRAIN.record),
    }


def compare_permutation_inputs(wildcards):
    archs, permuted = config["compare"]["permutation"]["architectures"], f"{wildcards.dataset}_permuted"
    return {
        "original": runs_of(wildcards.dataset, archs, EVALUATE.metrics, "permutation"),
        "permuted": runs_of(permuted, archs, EVALUATE.metrics, "permutation"),
        "original_predictions": runs_of(wildcards.dataset, archs, EVALUATE.predictions, "permutation"),
        "permuted_predictions": runs_of(permuted, archs, EVALUATE.predictions, "permutation"),
        "record": data_file("record", f"{wildcards.dataset}_permuted"),
    }


def data_efficiency_runs(dataset):
    """(arch, fraction, dataset name) of every data-efficiency run."""
    settings = config["compare"]["data_efficiency"]
    return [
        (arch, fraction, subset_dataset_name(dataset, fraction))
        for arch in settings["architectures"]
        for fraction in sorted(settings["fractions"])
    ]


def compare_data_efficiency_inputs(wildcards):
    runs = data_efficiency_runs(wildcards.dataset)
    return {
        key: [path for arch, _, name in runs
              for path in seed_files(file, name, arch, experiment_seeds(arch, "data_efficiency"))]
        for key, file in (("metrics", EVALUATE.metrics), ("train", TRAIN.record),
                          ("predictions", EVALUATE.predictions))
    }


def embedding_inputs(wildcards):
    """Each model's embedding of the dataset, in the config's order of its architectures."""
    archs = config["datasets"][wildcards.dataset]["architectures"]
    return {"embeddings": [run_file(EMBEDDING.embedding, wildcards.dataset, a) for a in archs],
            "records": [run_file(EMBEDDING.json, wildcards.dataset, a) for a in archs]}


def embedding_archs(wildcards):
    """The architectures of rule compare_embeddings' inputs, in the same order."""
    return list(config["datasets"][wildcards.dataset]["architectures"])


def compare_dynamics_inputs(wildcards):
    return {"histories": runs_of(wildcards.dataset, config["compare"]["architectures"], TRAIN.history)}


def data_efficiency_labels(wildcards):
    """[arch, fraction, seed] of each run, in the order of the rule's inputs."""
    return [[arch, fraction, seed] for arch, fraction, _ in data_efficiency_runs(wildcards.dataset)
            for seed in experiment_seeds(arch, "data_efficiency")]



def job_benchmarks(wildcards):
    """The benchmark file of every job the config implies, for the report's run-time table.

    Read from each rule's own `benchmark:` pattern, expanded over the runs the config asks for:
    results/benchmarks/ also keeps the timings of architectures since removed from the config
    and of earlier renders of the report (its own job writes its file only after it ends), and
    neither belongs to this run. The report shows those of the listed files that exist.
    """
    compare = config["compare"]
    runs = [*every_training_run(),
            *[(dataset, arch) for dataset in compare["datasets"] for arch in compare["architectures"]]]
    runs = list(dict.fromkeys(runs))
    paths = []
    for dataset in dict.fromkeys(dataset for dataset, _ in runs):
        base, derivation, _ = split_dataset_name(dataset)
        paths.append(benchmark_of(rules.prepare_data, dataset=base))
        if derivation is not None:
            paths.append(benchmark_of(rules.derive_dataset, base=base,
                                      derivation=dataset[len(base) + 1:]))
    for dataset, arch in runs:
        paths.append(benchmark_of(rules.train, dataset=dataset, arch=arch))
        paths += [benchmark_of(rules.train_seed, dataset=dataset, arch=arch, seed=seed)
                  for seed in run_seeds(dataset, arch)[1:]]
    # The inspection rules whose outputs `all` asks for, by the file that shows each applies.
    inspections = [(CALIBRATION.json, rules.calibrate),
                   (ATTRIBUTION.checks, rules.explain_decisions),
                   (EFFECTIVE_FIELD.csv, rules.effective_receptive_fields),
                   (TOP_IMAGES.images, rules.top_activating_images),
                   (OPTIMAL_INPUTS.json, rules.optimise_inputs),
                   (EMBEDDING.json, rules.embed_representations),
                   (FEATURE_MAPS.maps, rules.extract_feature_maps),
                   (SPARSITY.csv, rules.measure_sparsity),
                   (RECEPTIVE_FIELD.csv, rules.receptive_fields)]
    for dataset, arch in run_pairs():
        made = arch_outputs(arch)
        paths += [benchmark_of(rule, dataset=dataset, arch=arch)
                  for output, rule in inspections if output in made]
    paths += [benchmark_of(rules.compare_translation, dataset=dataset)
              for dataset in compare["datasets"]]
    paths += [benchmark_of(rules.compare_embeddings, dataset=dataset)
              for dataset in config["datasets"]]
    return list(dict.fromkeys(paths))


def benchmark_of(rule, **wildcards):
    """A rule's benchmark file for the given wildcard values."""
    return str(rule.benchmark).format(**wildcards)


# Read from the NVIDIA driver, not from torch: importing torch here would cost every run.
HAS_GPU = nvidia_gpu_count() > 0


def gpu_request(wildcards):
    """The GPU where CUDA is present: the profile's gpu limit is the jobs that may share it."""
    return 1 if HAS_GPU else 0


# Heavy jobs (training, evaluation, passes over the data) share the profile's heavy_jobs units
# (HEAVY_UNITS of them), each with an equal part of the cores Snakemake is given and of the
# machine's.
# - Without a GPU, two at a time, each with half the cores: a job's start-up (Python, imports,
#   loading data) is single-threaded, so two jobs overlap it, and PyTorch gains less from a
#   second thread than a second job does (2-core EPYC: a DigitCNN epoch took 1.74 s with 2
#   threads, 2.2 s with 1, and 2.5 s each for two 1-thread jobs side by side). Never more
#   threads than the machine has cores between them: two multi-threaded jobs sharing cores
#   slow each other down several times over.
# - With a GPU, four at a time, sharing it: there a training job's time is mostly start-up,
#   CUDA's initialisation and the host's work around the epochs (H200: 1.5 s of a 11.4 s
#   DigitCNN job was training), so one job at a time left the GPU idle most of the run.
HEAVY_UNITS = 4
HEAVY_JOBS_AT_ONCE = 4 if HAS_GPU else 2


def heavy_request(wildcards):
    """A heavy job's share of the profile's heavy_jobs units."""
    return HEAVY_UNITS // HEAVY_JOBS_AT_ONCE


def _heavy_threads():
    """Snakemake's --cores, and the machine's, shared among the heavy jobs that run at once;
    1 under a cluster executor, where the profile's set-threads rules."""
    try:
        cores = workflow.cores or 1
    except WorkflowError:  # no --cores: a cluster executor such as SLURM
        return 1
    return max(1, min(cores, os.cpu_count() or 1) // HEAVY_JOBS_AT_ONCE)


HEAVY_THREADS = _heavy_threads()


# Among the jobs ready to run, Snakemake starts those of the highest priority first. Training
# comes before the analyses, all of which wait on some training run; the comparison of shifted
# images (the longest single job) starts as soon as its runs are trained, and attribution next:
# the many short jobs then fill the end of the run, instead of one long job running on alone.
PRIORITY = {"translation": 3, "training": 2, "attribution": 1}

"""The Snakemake DAG end to end on a few hundred real MNIST images, and its caching."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT, SmallRun, shared_data_path
from workflow_helpers import (
    SMALL_ARCHS,
    SNAKEMAKE,
    planned_jobs,
    planned_priorities,
    small_config,
    snakemake,
    tree_digest,
    write_config,
)


def test_default_config_plans_every_train_job(tmp_path: Path) -> None:
    write_config(tmp_path, yaml.safe_load((PROJECT / "config.yaml").read_text()))
    result = snakemake(tmp_path, "-n", "--cores", "2")
    jobs = planned_jobs(result.stdout)
    # Seven architectures; five are convolutional; all but logreg and lenet5 (tanh) have ReLUs.
    # Permuted runs: mlp and digitcnn; subsets: 3 fractions below 1.0 for each of them.
    # mlp and digitcnn have three seeds: two more runs of each on mnist; their permuted and
    # subset runs train the first seed only (compare.*.seeds: 1).
    compare = {"compare_cost": 1, "compare_dense_equivalent": 1, "compare_translation": 1,
               "compare_permutation": 1, "compare_data_efficiency": 1,
               "compare_training_dynamics": 1}
    # Each train job also evaluates its run: there is no evaluate job. The misclassified
    # images are drawn for the runs `all` shows (plain datasets, every seed), not for the
    # comparison's derived datasets, whose other evaluation files their train jobs write.
    assert jobs == {"prepare_data": 1, "derive_dataset": 4, "render_report": 1, "train": 7 + 2 + 6,
                    "train_seed": 2 * 2, "plot_misclassified": 7,
                    "plot_misclassified_seed": 2 * 2, "param_breakdown": 7, "calibrate": 7,
                    "extract_filters": 5, "explain_decisions": 5, "effective_receptive_fields": 5,
                    "top_activating_images": 5, "embed_representations": 7, "optimise_inputs": 5,
                    "weight_changes": 7,
                    "compare_embeddings": 1,
                    "extract_feature_maps": 5, "receptive_fields": 5, "measure_sparsity": 5,
                    **compare, "all": 1}
    # Training first, since every analysis waits on it; the longest single job (translation)
    # and the attribution checks before the many short jobs, which then fill the run's end.
    priorities = planned_priorities(result.stdout)
    assert priorities.pop("compare_translation") == {3}
    assert priorities.pop("train") == priorities.pop("train_seed") == {2}
    assert priorities.pop("explain_decisions") == {1}
    assert set(priorities) == set(jobs) - {"compare_translation", "train", "train_seed",
                                           "explain_decisions"}
    assert set().union(*priorities.values()) == {0}


def test_full_config_plans_three_datasets(tmp_path: Path) -> None:
    result = snakemake(tmp_path, "-n", "--cores", "2", "--configfile",
                       str(PROJECT / "configs" / "full.yaml"))
    compare = {name: 2 for name in ("compare_cost", "compare_dense_equivalent",
                                    "compare_translation", "compare_permutation",
                                    "compare_data_efficiency", "compare_training_dynamics")}
    # Five seeds of every model: four more runs of each of the 16 + 16.
    assert planned_jobs(result.stdout) == {
        "prepare_data": 3, "derive_dataset": 8, "render_report": 1, "train": 16 + 16,
        "train_seed": 4 * (16 + 16), "plot_misclassified": 16,
        "plot_misclassified_seed": 4 * 16,
        "param_breakdown": 16, "calibrate": 16, "extract_filters": 12, "explain_decisions": 12,
        "effective_receptive_fields": 12, "top_activating_images": 12,
        "embed_representations": 16, "compare_embeddings": 3, "optimise_inputs": 12,
        "weight_changes": 16,
        "extract_feature_maps": 12,
        "receptive_fields": 12, "measure_sparsity": 12, **compare, "all": 1}


def planned_job_blocks(dry_run: str) -> list[dict[str, str]]:
    """Each job a dry run prints, as {"rule": ..., "output": ..., "threads": ..., ...}."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", dry_run):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        if rule:
            fields = dict(re.findall(r"^    (\w+): (.*)$", block, re.M))
            jobs.append({"rule": rule.group(1), **fields})
    return jobs


def test_every_seed_of_a_run_is_as_heavy_as_its_first(tmp_path: Path) -> None:
    """train_seed is train in a seed_<n>/ folder: the same threads (half the cores) and the same GPU request, one job per extra seed of every run."""
    write_config(tmp_path, small_config(mlp={"seeds": [0, 1]}))
    result = snakemake(tmp_path, "-n", "--cores", "2")
    assert planned_jobs(result.stdout)["train_seed"] == 3  # mnist, permuted, the 0.5 subset
    jobs = planned_job_blocks(result.stdout)
    by_rule: dict[str, list[dict[str, str]]] = {}
    for job in jobs:
        by_rule.setdefault(job["rule"], []).append(job)
    for first, other in [("train", "train_seed")]:
        # Snakemake prints no threads line for a job of one thread.
        threads = {j.get("threads", "1") for j in by_rule[first] + by_rule[other]}
        assert threads == {"1"}, threads
        resources = {re.sub(r"tmpdir=\S+, ", "", j["resources"]) for j in by_rule[first] + by_rule[other]}
        # Two of the profile's four heavy units without a GPU (two jobs at once), one with.
        assert resources == {"gpu=0, heavy_jobs=2"} or resources == {"gpu=1, heavy_jobs=1"}, resources
        for job in by_rule[other]:
            assert "arch=mlp, seed=1" in job["wildcards"]
            assert all("/mlp/seed_1/" in path for path in job["output"].split(", "))
            assert "/mlp/seed_1/" in job["log"] and "/mlp/seed_1/" in job["benchmark"]
        # The first seed's run stays where it was, in no seed folder.
        assert not [j for j in by_rule[first] if "seed_" in j["output"]]
    assert sorted(j["wildcards"].split(",")[0] for j in by_rule["train_seed"]) == [
        "dataset=mnist", "dataset=mnist_permuted", "dataset=mnist_subset_0.5"]
    assert "seed_0" not in result.stdout


def test_bad_config_stops_before_any_job_and_deletes_nothing(tmp_path: Path) -> None:
    (tmp_path / "results" / "mnist" / "digitcnn").mkdir(parents=True)
    (tmp_path / "results" / "mnist" / "digitcnn" / "model.pt").write_bytes(b"precious")
    before = tree_digest(tmp_path)
    config = small_config()
    config["datasets"]["cifar10"] = {"architectures": ["digitcnn"]}
    config["training"]["digitcnn"]["epochs"] = -1
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "--cores", "2", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "'training.digitcnn.epochs': -1 is less than the minimum of 1" in output
    assert "nothing was run and nothing was deleted" in output
    assert "Traceback" not in output
    after = tree_digest(tmp_path)
    after.pop("config.yaml")
    before.pop("config.yaml", None)
    assert {k: v for k, v in after.items() if not k.startswith(".snakemake")} == before


CONFIG_FILE_MISTAKES = [
    ("training:\n  mlp: {epochs: 1}\nseed: 1\ntraining:\n  digitcnn: {epochs: 1}\n",
     "line 4, column 1: key 'training' is given twice (first on line 1)"),
    ("seed: 1\ntraining:\n  mlp: {epochs: 1\n  digitcnn: {epochs: 1}\n",
     "line 4, column 11: expected ',' or '}', but got ':' (while parsing a flow mapping on line 3)"),
]


@pytest.mark.parametrize("text,fragment", CONFIG_FILE_MISTAKES, ids=["key twice", "syntax error"])
def test_config_file_mistakes_name_the_file_and_line(tmp_path: Path, text: str, fragment: str) -> None:
    """Snakemake itself keeps the last of two equal keys silently and names neither file nor line
    of a syntax error; the workflow reads config.yaml strictly before Snakemake does."""
    (tmp_path / "config.yaml").write_text(text)
    result = snakemake(tmp_path, "-n", "--cores", "1", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"config file config.yaml, {fragment}" in output, output
    assert "nothing was run and nothing was deleted" in output and "Traceback" not in output


def test_a_key_twice_in_a_configfile_option_names_the_file(tmp_path: Path) -> None:
    write_config(tmp_path, small_config())
    extra = tmp_path / "extra.yaml"
    extra.write_text(CONFIG_FILE_MISTAKES[0][0])
    result = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(extra), check=False)
    assert result.returncode != 0
    assert f"config file {extra}, {CONFIG_FILE_MISTAKES[0][1]}" in result.stdout + result.stderr


def test_lint_is_clean() -> None:
    result = subprocess.run([*SNAKEMAKE, "-s", str(PROJECT / "Snakefile"), "--lint"],
                            capture_output=True, text=True, cwd=PROJECT, timeout=300)
    lints = [line for line in result.stdout.splitlines() + result.stderr.splitlines()
             if line.startswith("    * ") and "conda environment" not in line]
    assert lints == [], "\n".join(lints)


@pytest.mark.e2e
@pytest.mark.skipif(shared_data_path() is None, reason="needs real MNIST (CNNLAB_DATA_PATH)")
def test_small_end_to_end_run_then_caching(small_run: SmallRun) -> None:
    tmp_path = small_run.workdir  # the session's small run: this test goes on to change it
    results = tmp_path / "results"
    record = json.loads((results / "data" / "mnist.json").read_text())
    assert record["train_size"] == 300 and record["test_size"] == 200
    assert record["train_class_counts"] == [30] * 10 and record["validation_class_counts"] == [500] * 10
    assert record["source"]["kind"] == "local" and record["is_sample"] is False
    assert len(record["source"]["files"]) == 4
    for arch in SMALL_ARCHS:
        folder = results / "mnist" / arch
        for name in ("model.pt", "history.csv", "train.json", "metrics.json", "confusion.png",
                     "misclassified.png", "curves.png"):
            assert (folder / name).stat().st_size > 0, f"{arch}/{name}"
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["test_size"] == 200 and metrics["seed"] == 0
        assert not list(folder.glob("seed_*"))  # one seed: no seed folder
        assert 0.3 < metrics["test_accuracy"] <= 1.0  # 300 images, one epoch: well above chance
        assert sum(map(sum, metrics["confusion_matrix"])) == 200
        train = json.loads((folder / "train.json").read_text())
        # Each epoch is scored on the 5,000 validation images held out of training (auto:
        # one twelfth of 60,000); the test split only once, here.
        last_epoch = (folder / "history.csv").read_text().splitlines()[-1].split(",")
        assert 0.3 < float(last_epoch[4]) <= 1.0 and train["validation_size"] == 5000
        assert metrics["inference"] == {"channels_last": True, "bf16": train["bf16_active"]}
        assert train["parameters"] == train["declared_parameters"]
        assert train["runtime"]["threads"] == 1 and train["seed"] == 0  # half of --cores 2
        history = (folder / "history.csv").read_text().splitlines()
        assert history[0] == "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,images_per_second"
        assert len(history) == 2
        assert (results / "benchmarks" / "mnist" / arch / "train.tsv").is_file()
        assert "epoch 1/1" in (results / "logs" / "mnist" / arch / "train.log").read_text()
        assert not list((results / "checkpoints").rglob("*.pt"))  # removed after success

    # Inside the network: data and figures for the CNN, parameters and sparsity for the MLP.
    cnn = results / "mnist" / "digitcnn"
    for name in ("filters.png", "filters_signed.png", "filter_similarity.png", "conv_kernels.png",
                 "receptive_field.png", "sparsity.png", "params.png", "shape_flow.png"):
        assert (cnn / name).read_bytes()[:4] == b"\x89PNG", name
    rf = (cnn / "receptive_field.csv").read_text().splitlines()
    header = rf[0].split(",")
    field = [int(line.split(",")[header.index("receptive_field")]) for line in rf[1:]]
    measured = [int(line.split(",")[header.index("receptive_field_empirical")]) for line in rf[1:]]
    assert field == measured == [3, 4, 8, 10]
    similarity = (cnn / "filter_similarity.csv").read_text().splitlines()
    assert len(similarity) == 1 + 2 * 16 and "sobel_x" in similarity[0]
    index = json.loads((cnn / "feature_maps" / "index.json").read_text())
    assert [layer["layer"] for layer in index["layers"]] == ["features.1", "features.4"]
    assert len(index["test_indices"]) == 10
    assert all((cnn / "feature_maps" / layer["file"]).is_file() for layer in index["layers"])
    sparsity = (results / "mnist" / "mlp" / "sparsity.csv").read_text().splitlines()
    assert len(sparsity) == 3  # header + the MLP's two ReLU layers
    params = (results / "mnist" / "mlp" / "params.csv").read_text().splitlines()
    assert sum(int(line.split(",")[6]) for line in params[1:]) == 535_818
    assert not (results / "mnist" / "mlp" / "filters.png").exists()

    # The comparison: six tables and figures from one run.
    compare = results / "mnist" / "compare"
    for name in ("cost", "dense_equivalent", "translation", "permutation", "data_efficiency",
                 "training_dynamics"):
        assert (compare / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
        assert len((compare / f"{name}.csv").read_text().splitlines()) > 1, name
    permutation = (compare / "permutation.csv").read_text().splitlines()
    assert permutation[0].startswith("arch,convolutional,accuracy_original,accuracy_permuted")
    assert len(permutation) == 3 and permutation[1].endswith(",1")  # the permutation's seed
    permuted_record = json.loads((results / "data" / "mnist_permuted.json").read_text())
    assert permuted_record["derived"]["kind"] == "pixel_permutation"
    efficiency = (compare / "data_efficiency.csv").read_text().splitlines()
    assert [line.split(",")[:3] for line in efficiency[1:]] == [["mlp", "0.5", "150"],
                                                                ["mlp", "1.0", "300"]]
    # Only the mlp is in the data-efficiency runs: no CNN to test it against.
    assert read_rows(compare / "data_efficiency_tests.csv") == []
    translation = (compare / "translation.csv").read_text().splitlines()
    assert translation[0] == "arch,seed,direction,shift,accuracy"
    assert len(translation) == 1 + 2 * 3 * 3  # two models, three directions, shifts 0..2
    metrics = {arch: json.loads((results / "mnist" / arch / "metrics.json").read_text())
               for arch in SMALL_ARCHS}
    for line in translation[1:]:
        arch, seed, _, shift, accuracy = line.split(",")
        assert seed == "0"
        if shift == "0":
            assert float(accuracy) == pytest.approx(metrics[arch]["test_accuracy"])
    (test,) = read_rows(compare / "translation_tests.csv")  # digitcnn against mlp
    assert (test["cnn"], test["mlp"], test["shift"], test["seeds"]) == ("digitcnn", "mlp", "1", "1")
    assert test["test"] == "McNemar's exact test, one seed"

    check_report(tmp_path, metrics)

    # Every artifact and every figure of the report has a SHA-256 record, and all match.
    verify = subprocess.run([sys.executable, "-m", "cnnlab.verify", "verify", "results", "report"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert verify.returncode == 0, verify.stdout
    assert int(verify.stdout.split("checked ")[1].split()[0]) > 100

    # A second run after a complete one does nothing.
    assert "Nothing to be done" in snakemake(tmp_path, "-n", "--cores", "2").stdout

    # How many misclassified images to show is drawn by a job of its own per run: changing it
    # reruns neither training nor any analysis of a model.
    shown = small_config()
    shown["evaluation"] = {"misclassified": 5}
    write_config(tmp_path, shown)
    planned = planned_jobs(snakemake(tmp_path, "-n", "--cores", "2").stdout)
    assert planned == {"plot_misclassified": 2, "render_report": 1, "all": 1}, planned
    write_config(tmp_path, small_config())

    # Changing one architecture's learning rate reruns only that architecture's jobs.
    write_config(tmp_path, small_config(mlp={"lr": 0.002}))
    result = snakemake(tmp_path, "-n", "--cores", "2")
    # (parameter tables and receptive fields depend on the architecture alone: not rerun; the
    # MLP's permuted and subset runs use the same recipe; its calibration, embedding and
    # weight changes, and the comparisons that include it)
    assert planned_jobs(result.stdout) == {
        "train": 3, "plot_misclassified": 1, "measure_sparsity": 1, "calibrate": 1,
        "embed_representations": 1, "compare_embeddings": 1, "weight_changes": 1,
        "compare_cost": 1,
        "compare_translation": 1, "compare_permutation": 1, "compare_data_efficiency": 1,
        "compare_training_dynamics": 1, "render_report": 1, "all": 1}
    assert "arch=digitcnn" not in result.stdout

    check_a_second_seed(tmp_path, metrics)


def read_rows(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def check_a_second_seed(workdir: Path, metrics: dict[str, dict]) -> None:
    """A second seed of the mlp after a complete run: only the new seed's runs and what compares
    them are planned (the first seed's runs stay), and the comparisons take in both seeds."""
    write_config(workdir, small_config(mlp={"seeds": [0, 1]}))
    result = snakemake(workdir, "-n", "--cores", "2")
    assert planned_jobs(result.stdout) == {
        "train_seed": 3, "plot_misclassified_seed": 1, "compare_cost": 1, "compare_translation": 1,
        "compare_permutation": 1, "compare_data_efficiency": 1, "compare_training_dynamics": 1,
        "render_report": 1, "all": 1}
    results = workdir / "results"
    compare = results / "mnist" / "compare"
    targets = [f"results/mnist/compare/{name}" for name in
               ("cost.csv", "translation_tests.csv", "permutation.csv",
                "data_efficiency_tests.csv", "training_dynamics.csv")]
    snakemake(workdir, "--cores", "2", *targets)
    second = results / "mnist" / "mlp" / "seed_1"
    train = json.loads((second / "train.json").read_text())
    seed_metrics = json.loads((second / "metrics.json").read_text())
    assert train["seed"] == 1 and seed_metrics["seed"] == 1 and seed_metrics["test_size"] == 200
    assert (second / "model.pt").read_bytes() != (results / "mnist" / "mlp" / "model.pt").read_bytes()
    assert json.loads((results / "mnist" / "mlp" / "metrics.json").read_text()) == metrics["mlp"]
    for dataset in ("mnist_permuted", "mnist_subset_0.5"):
        assert json.loads((results / dataset / "mlp" / "seed_1" / "train.json").read_text())["seed"] == 1

    cost = {row["arch"]: row for row in read_rows(compare / "cost.csv")}
    assert (cost["mlp"]["seeds"], cost["digitcnn"]["seeds"]) == ("2", "1")
    assert cost["mlp"]["interval"] == "t-interval over 2 seeds"
    assert float(cost["mlp"]["test_accuracy"]) == pytest.approx(
        (metrics["mlp"]["test_accuracy"] + seed_metrics["test_accuracy"]) / 2)
    translation = read_rows(compare / "translation.csv")
    assert sorted({(r["arch"], r["seed"]) for r in translation}) == [
        ("digitcnn", "0"), ("mlp", "0"), ("mlp", "1")]
    (test,) = read_rows(compare / "translation_tests.csv")  # one seed in common: one pair
    assert (test["test"], test["seeds"]) == ("McNemar's exact test, one seed", "1")
    permutation = {row["arch"]: row for row in read_rows(compare / "permutation.csv")}
    assert (permutation["mlp"]["seeds"], permutation["mlp"]["test"]) == ("2", "paired t-test over 2 seeds")
    assert (permutation["digitcnn"]["seeds"], permutation["digitcnn"]["test"]) == (
        "1", "McNemar's exact test, one seed")
    efficiency = read_rows(compare / "data_efficiency.csv")
    assert [(r["arch"], r["fraction"], r["seeds"]) for r in efficiency] == [
        ("mlp", "0.5", "2"), ("mlp", "1.0", "2")]
    dynamics = read_rows(compare / "training_dynamics.csv")
    assert sorted({(r["arch"], r["seed"]) for r in dynamics}) == [
        ("digitcnn", "0"), ("mlp", "0"), ("mlp", "1")]


def bookmark_tree(outline: list) -> list[tuple[str, list]]:
    """pypdf's outline (a bookmark, then a list of its children) as (title, children) pairs."""
    tree: list[tuple[str, list]] = []
    for item in outline:
        if isinstance(item, list):
            tree[-1] = (tree[-1][0], bookmark_tree(item))
        else:
            tree.append((item.title, []))
    return tree


def check_report(workdir: Path, metrics: dict[str, dict]) -> None:
    """The HTML and PDF of the small run: sections, links, numbers, escaping."""
    from html.parser import HTMLParser

    import pypdf

    html = (workdir / "report" / "index.html").read_text()
    for heading in ("Summary", "Models on mnist", "digitcnn", "mlp", "CNN vs MLP: the evidence",
                    "Methods and provenance", "Receptive fields", "Feature maps",
                    "Pixel permutation", "Data efficiency", "Translation robustness"):
        assert f">{heading}</h" in html, heading
    # The title's markup is escaped: the page's one script is the report's own.
    assert html.count("<script") == 1 and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html

    class Links(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.sources: list[str] = []

        def handle_starttag(self, tag: str, attrs: list) -> None:
            if tag == "img":
                self.sources.append(dict(attrs)["src"])

    parser = Links()
    parser.feed(html)
    assert len(parser.sources) > 20
    for src in parser.sources:
        assert not src.startswith(("/", "http")), src
        assert (workdir / "report" / src).is_file(), src

    # Figures and tables are numbered in page order; every reference lands on one of them.
    captions = re.findall(r'<span class="label">(Figure|Table) (\d+)\.</span>', html)
    for kind in ("Figure", "Table"):
        numbers = [int(n) for k, n in captions if k == kind]
        assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) > 5, kind
    references = re.findall(r'<a class="ref" href="#([^"]+)">(Figure|Table) (\d+)</a>', html)
    assert len(references) >= 5  # the Findings chapter's claims point at their tables
    for target, kind, number in references:
        assert re.search(f'id="{target}"', html), target
        assert f'id="{target}"' in html.split(f'<span class="label">{kind} {number}.</span>')[0], target

    reader = pypdf.PdfReader(workdir / "report" / "report.pdf")
    assert 8 <= len(reader.pages) <= 80
    # Bookmarks: every chapter at the top level, every model section under its chapter.
    outline = bookmark_tree(reader.outline)
    chapters = dict(outline)
    for chapter in ("Findings", "Summary", "Models on mnist", "CNN vs MLP: the evidence",
                    "Methods and provenance"):
        assert chapter in chapters, list(chapters)
    assert [title for title, _ in chapters["Models on mnist"]] == SMALL_ARCHS
    pages = [page.extract_text() for page in reader.pages]
    contents = next(i for i, text in enumerate(pages) if "Contents" in text.splitlines()[:4])
    assert "Findings" in pages[contents + 1].splitlines()[:4]  # right after the contents
    assert not reader.attachments
    text = "\n".join(pages)
    assert 'Small run <script>alert("x")</script> & <b>bold</b>' in text
    for arch, values in metrics.items():
        assert f"{100 * values['test_accuracy']:.2f}%" in text, arch
    assert f"page 2 of {len(reader.pages)}" in text

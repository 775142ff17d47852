"""The summary's claims, each stated with its evidence, from the numbers of one run.

A claim about two models or two kinds of training comes with the difference, its 95% interval,
the test behind it (a paired t-test over seeds, or McNemar's exact test on the test images for
one seed) and its p-value; a difference that is not significant is said to be not significant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from cnnlab import artifacts as names
from cnnlab.analysis import certainty
from cnnlab.predictions import load_correct


class Finding(str):
    """A sentence of the report that states a claim, with where its evidence is shown: the
    kind and key of a numbered table or figure (:mod:`cnnlab.report.numbering`), or None."""

    evidence: tuple[str, str] | None

    def __new__(cls, text: str, evidence: tuple[str, str] | None = None) -> "Finding":
        finding = super().__new__(cls, text)
        finding.evidence = evidence
        return finding


def with_evidence(sentences: Sequence[str], kind: str, key: str) -> list[Finding]:
    """Each sentence as a finding whose evidence is the one ``kind`` item ``key``."""
    return [Finding(sentence, (kind, key)) for sentence in sentences]


def percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def plus_minus(estimate: float, low: float, high: float, unit: str = "%") -> str:
    """``98.95 ± 0.12%``: a mean with half its interval's width (in percent or points)."""
    return f"{100 * estimate:.2f} ± {100 * (high - low) / 2:.2f}{unit}"


def accuracy_text(row: Mapping[str, Any]) -> str:
    """A summary row's test accuracy: ``98.95 ± 0.12% (3 seeds)``, or with one seed its
    bootstrap interval over test images."""
    interval = row["accuracy"]
    seeds = row["seeds"]
    where = f"{seeds} seeds" if seeds > 1 else "one seed"
    return f"{plus_minus(interval['estimate'], interval['low'], interval['high'])} ({where})"


def evidence_text(row: Mapping[str, Any]) -> str:
    """``95% interval -2.87 to -2.16 points, paired t-test over 3 seeds, p < 0.001``."""
    return (f"{100 * certainty.CONFIDENCE:.0f}% interval {100 * row['change_low']:+.2f} to "
            f"{100 * row['change_high']:+.2f} points, {row['test']}, "
            f"{certainty.describe_p(row['p_value'])}")


def verdict(row: Mapping[str, Any]) -> str:
    return "significant" if row["significant"] else "not significant"


def permutation_finding(row: Mapping[str, Any]) -> str:
    """One model's permutation effect, stated with its evidence; not significant if so."""
    kind = "CNN" if row["convolutional"] else "MLP"
    evidence = evidence_text(row)
    accuracies = (f"{percent(row['accuracy_original'])} to {percent(row['accuracy_permuted'])}")
    if row["significant"]:
        if row["change"] < 0:
            return (f"Permuting the pixels costs the {kind} {row['arch']} "
                    f"{-100 * row['change']:.2f} points ({accuracies}; {evidence}).")
        return (f"Permuting the pixels raises the {kind} {row['arch']} by "
                f"{100 * row['change']:.2f} points ({accuracies}; {evidence}).")
    return (f"Permuting the pixels changes the {kind} {row['arch']} by {100 * row['change']:+.2f} "
            f"points ({accuracies}): not significant ({evidence}).")


def seed_paths(results: Path, name: str, dataset: str, arch: str, seeds: Sequence[int]) -> list[Path]:
    """The file ``name`` of every seed's run of ``arch`` under the folder ``results``."""
    return [results / Path(path).relative_to(names.RESULTS)
            for path in names.seed_files(name, dataset, arch, list(seeds))]


def head_to_head_row(results: Path, dataset: str, seeds: Mapping[str, Sequence[int]], arch_a: str,
                     arch_b: str) -> dict[str, Any]:
    """The evidence that model ``arch_a`` differs from ``arch_b`` on ``dataset`` (a minus b) as
    a table row: paired by seed where they share two or more seeds, else McNemar's test on the
    test images of their first seeds. ``seeds`` lists each architecture's seeds, first first."""
    def runs(arch: str) -> dict[int, Any]:
        paths = seed_paths(results, names.EVALUATE.predictions, dataset, arch, seeds[arch])
        return {seed: load_correct(path) for seed, path in zip(seeds[arch], paths, strict=True)}

    runs_b, runs_a = certainty.pair_runs(runs(arch_b), runs(arch_a))
    return {"a": arch_a, "b": arch_b, **certainty.compare_correct(runs_b, runs_a).as_row()}


def head_to_head(results: Path, dataset: str, seeds: Mapping[str, Sequence[int]], arch_a: str,
                 arch_b: str) -> str:
    """:func:`head_to_head_row` in words: the difference, its interval, test and verdict."""
    row = head_to_head_row(results, dataset, seeds, arch_a, arch_b)
    return f"{100 * row['change']:+.2f} points, {evidence_text(row)}: {verdict(row)}"


def best_pair(summary: Sequence[Mapping[str, Any]]
              ) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """The summary rows of the most accurate CNN and of the most accurate fully connected
    model, if there are both."""
    cnns = [r for r in summary if r["convolutional"]]
    dense = [r for r in summary if not r["convolutional"]]
    if not (cnns and dense):
        return None
    return (max(cnns, key=lambda r: r["test_accuracy"]), max(dense, key=lambda r: r["test_accuracy"]))


def _model_sentences(summary: Sequence[Mapping[str, Any]],
                     versus: Callable[[str, str], str] | None, dataset: str) -> list[Finding]:
    """Sentences on the models' accuracies and sizes, shown in the summary table; the test of
    the best CNN against the best fully connected model (``versus``) has a table of its own."""
    table = ("table", f"{dataset}/summary")
    best = max(summary, key=lambda r: r["test_accuracy"])
    sentences = [Finding(f"The most accurate model is {best['arch']}: {accuracy_text(best)} test "
                         f"accuracy with {best['parameters']:,} parameters after {best['epochs']} "
                         "epochs.", table)]
    pair = best_pair(summary)
    if pair:
        best_cnn, best_dense = pair
        ratio = best_dense["parameters"] / best_cnn["parameters"]
        size = (f"{ratio:.1f} times fewer parameters than {best_dense['arch']}" if ratio >= 1 else
                f"{1 / ratio:.1f} times more parameters than {best_dense['arch']}")
        sentences.append(Finding(
            f"The best CNN ({best_cnn['arch']}, {best_cnn['parameters']:,} parameters, {size}) "
            f"reaches {accuracy_text(best_cnn)}; the best fully connected model "
            f"({best_dense['arch']}, {best_dense['parameters']:,} parameters) "
            f"{accuracy_text(best_dense)}"
            + (f" ({versus(best_cnn['arch'], best_dense['arch'])})." if versus else "."),
            ("table", f"{dataset}/head_to_head") if versus else table))
        smallest = min((r for r in summary if r["convolutional"]), key=lambda r: r["parameters"])
        sentences.append(Finding(
            f"The smallest CNN, {smallest['arch']}, has {smallest['parameters']:,} parameters and "
            f"reaches {accuracy_text(smallest)}.", table))
    return sentences


def _lead(row: Mapping[str, Any]) -> str:
    return (f"{row['cnn']} {percent(row['cnn_accuracy'])} against {row['mlp']} "
            f"{percent(row['mlp_accuracy'])}: {100 * row['change']:+.2f} points for the CNN "
            f"({evidence_text(row)}), {verdict(row)}")


def _pair_rows(rows: Sequence[Mapping[str, Any]], summary: Sequence[Mapping[str, Any]]
               ) -> list[Mapping[str, Any]]:
    """The tests of the best CNN against the best fully connected model of ``summary``, or, where
    those are not among the tested pairs, of the first tested pair."""
    if not rows:
        return []
    pair = (rows[0]["cnn"], rows[0]["mlp"])
    if best := best_pair(summary):
        names = (best[0]["arch"], best[1]["arch"])
        if any((r["cnn"], r["mlp"]) == names for r in rows):
            pair = names
    return [r for r in rows if (r["cnn"], r["mlp"]) == pair]


def _comparison_sentences(compare: Mapping[str, Any], summary: Sequence[Mapping[str, Any]],
                          dataset: str) -> list[Finding]:
    sentences = with_evidence([permutation_finding(row) for row in compare.get("permutation") or []],
                              "table", f"{dataset}/permutation")
    shifted = _pair_rows(compare.get("translation_tests") or [], summary)
    for row in shifted:
        pixels = "1 pixel" if row["shift"] == 1 else f"{row['shift']} pixels"
        sentences.append(Finding(f"On test images shifted {pixels} ({row['direction']}): {_lead(row)}.",
                                 ("table", f"{dataset}/translation_tests")))
    efficiency = compare.get("data_efficiency_tests") or []
    pairs = {(r["cnn"], r["mlp"]) for r in efficiency}
    for cnn, mlp in sorted(pairs):
        mine = sorted((r for r in efficiency if (r["cnn"], r["mlp"]) == (cnn, mlp)),
                      key=lambda r: r["train_size"])
        for row in (mine[0], mine[-1]) if len(mine) > 1 else mine:
            sentences.append(Finding(f"Trained on {row['train_size']:,} images "
                                     f"({100 * row['fraction']:g}% of the training split): {_lead(row)}.",
                                     ("table", f"{dataset}/data_efficiency_tests")))
    return sentences


def findings(summary: Sequence[Mapping[str, Any]], compare: Mapping[str, Any] | None,
             versus: Callable[[str, str], str] | None = None) -> list[Finding]:
    """Key findings as sentences built from the numbers of this run, each with the table that
    shows its evidence; ``versus(a, b)`` states the evidence that model ``a`` differs from
    model ``b`` (:func:`head_to_head`)."""
    if not summary:
        return []
    dataset = summary[0]["dataset"]
    sentences = _model_sentences(summary, versus, dataset)
    if compare:
        sentences += _comparison_sentences(compare, summary, dataset)
    return sentences

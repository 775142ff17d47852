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


def head_to_head(results: Path, dataset: str, seeds: Mapping[str, Sequence[int]], arch_a: str,
                 arch_b: str) -> str:
    """The evidence that model ``arch_a`` differs from ``arch_b`` on ``dataset``: paired by seed
    where they share two or more seeds, else McNemar's test on the test images of their first
    seeds. ``seeds`` lists each architecture's seeds, first seed first."""
    def runs(arch: str) -> dict[int, Any]:
        paths = seed_paths(results, names.EVALUATE.predictions, dataset, arch, seeds[arch])
        return {seed: load_correct(path) for seed, path in zip(seeds[arch], paths, strict=True)}

    runs_b, runs_a = certainty.pair_runs(runs(arch_b), runs(arch_a))
    evidence = certainty.compare_correct(runs_b, runs_a)
    row = evidence.as_row()
    return f"{100 * evidence.change.estimate:+.2f} points, {evidence_text(row)}: {verdict(row)}"


def _model_sentences(summary: Sequence[Mapping[str, Any]],
                     versus: Callable[[str, str], str] | None) -> list[str]:
    best = max(summary, key=lambda r: r["test_accuracy"])
    sentences = [f"The most accurate model is {best['arch']}: {accuracy_text(best)} test accuracy "
                 f"with {best['parameters']:,} parameters after {best['epochs']} epochs."]
    cnns = [r for r in summary if r["convolutional"]]
    dense = [r for r in summary if not r["convolutional"]]
    if cnns and dense:
        best_cnn = max(cnns, key=lambda r: r["test_accuracy"])
        best_dense = max(dense, key=lambda r: r["test_accuracy"])
        ratio = best_dense["parameters"] / best_cnn["parameters"]
        size = (f"{ratio:.1f} times fewer parameters than {best_dense['arch']}" if ratio >= 1 else
                f"{1 / ratio:.1f} times more parameters than {best_dense['arch']}")
        sentences.append(
            f"The best CNN ({best_cnn['arch']}, {best_cnn['parameters']:,} parameters, {size}) "
            f"reaches {accuracy_text(best_cnn)}; the best fully connected model "
            f"({best_dense['arch']}, {best_dense['parameters']:,} parameters) "
            f"{accuracy_text(best_dense)}"
            + (f" ({versus(best_cnn['arch'], best_dense['arch'])})." if versus else "."))
        smallest = min(cnns, key=lambda r: r["parameters"])
        sentences.append(
            f"The smallest CNN, {smallest['arch']}, has {smallest['parameters']:,} parameters and "
            f"reaches {accuracy_text(smallest)}.")
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
    cnns = [r for r in summary if r["convolutional"]]
    dense = [r for r in summary if not r["convolutional"]]
    pair = (rows[0]["cnn"], rows[0]["mlp"])
    if cnns and dense:
        best = (max(cnns, key=lambda r: r["test_accuracy"])["arch"],
                max(dense, key=lambda r: r["test_accuracy"])["arch"])
        if any((r["cnn"], r["mlp"]) == best for r in rows):
            pair = best
    return [r for r in rows if (r["cnn"], r["mlp"]) == pair]


def _comparison_sentences(compare: Mapping[str, Any], summary: Sequence[Mapping[str, Any]]) -> list[str]:
    sentences = [permutation_finding(row) for row in compare.get("permutation") or []]
    shifted = _pair_rows(compare.get("translation_tests") or [], summary)
    for row in shifted:
        pixels = "1 pixel" if row["shift"] == 1 else f"{row['shift']} pixels"
        sentences.append(f"On test images shifted {pixels} ({row['direction']}): {_lead(row)}.")
    efficiency = compare.get("data_efficiency_tests") or []
    pairs = {(r["cnn"], r["mlp"]) for r in efficiency}
    for cnn, mlp in sorted(pairs):
        mine = sorted((r for r in efficiency if (r["cnn"], r["mlp"]) == (cnn, mlp)),
                      key=lambda r: r["train_size"])
        for row in (mine[0], mine[-1]) if len(mine) > 1 else mine:
            sentences.append(f"Trained on {row['train_size']:,} images "
                             f"({100 * row['fraction']:g}% of the training split): {_lead(row)}.")
    return sentences


def findings(summary: Sequence[Mapping[str, Any]], compare: Mapping[str, Any] | None,
             versus: Callable[[str, str], str] | None = None) -> list[str]:
    """Key findings as sentences built from the numbers of this run; ``versus(a, b)`` states
    the evidence that model ``a`` differs from model ``b`` (:func:`head_to_head`)."""
    if not summary:
        return []
    sentences = _model_sentences(summary, versus)
    if compare:
        sentences += _comparison_sentences(compare, summary)
    return sentences


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _names(rows: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(r["arch"] for r in rows)


def calibration_findings(models: Sequence[Mapping[str, Any]]) -> list[str]:
    """What this run shows on calibration: CNNs against fully connected models, BatchNorm
    against none (Guo et al. 2017 found that BatchNorm and depth raise miscalibration), and
    what temperature scaling does. One seed per model: the sentences say so."""
    rows = [{"arch": m["arch"], "convolutional": m["convolutional"], **m["calibration"]}
            for m in models if m.get("calibration")]
    if not rows:
        return []

    # Medians: one underfitted model (digitcnn_gap) would otherwise decide a group's mean.
    def median(group: Sequence[Mapping[str, Any]], when: str = "before") -> float:
        return _median([r[when]["ece"] for r in group])

    def ece(group: Sequence[Mapping[str, Any]], when: str = "before") -> str:
        return f"{100 * median(group, when):.2f}%"

    sentences = []
    cnns = [r for r in rows if r["convolutional"]]
    dense = [r for r in rows if not r["convolutional"]]
    if cnns and dense:
        better = "better" if median(cnns) < median(dense) else "worse"
        worst = max(rows, key=lambda r: r["before"]["ece"])
        sentences.append(f"As trained, the CNNs are {better} calibrated than the fully connected "
                         f"models: median ECE {ece(cnns)} ({_names(cnns)}) against {ece(dense)} "
                         f"({_names(dense)}); the least calibrated model is {worst['arch']} "
                         f"(ECE {100 * worst['before']['ece']:.2f}%).")
    normed = [r for r in cnns if r["batch_norm"]]
    plain = [r for r in cnns if not r["batch_norm"]]
    if normed and plain:
        raises = median(normed) > median(plain)
        sentences.append(
            f"CNNs with BatchNorm ({_names(normed)}) have a median ECE of {ece(normed)}, those without "
            f"({_names(plain)}) {ece(plain)}: "
            + ("as Guo et al. (2017) report, BatchNorm goes with worse calibration here."
               if raises else "unlike what Guo et al. (2017) report, BatchNorm does not go with "
               "worse calibration here."))
    scaled = [r for r in rows if r["temperature_fitted"]]
    if scaled:
        low = min(scaled, key=lambda r: r["temperature"])
        high = max(scaled, key=lambda r: r["temperature"])
        sentences.append(
            f"Temperature scaling fitted on the validation split (T from {low['temperature']:.2f} for "
            f"{low['arch']} to {high['temperature']:.2f} for {high['arch']}; T > 1 means the model "
            f"was overconfident) takes the median ECE from {ece(scaled)} to {ece(scaled, 'after')} "
            f"without changing a single prediction.")
    sentences.append("Each model is measured once (its first seed) with no interval: small "
                     "differences in ECE may not survive another seed.")
    return sentences


# The pass figures the attribution checks are read against.
GRAD_CAM_DELETION_PASS = 0.9
METHOD_LABELS = {"saliency": "saliency", "integrated_gradients": "integrated gradients",
                 "grad_cam": "Grad-CAM", "occlusion": "occlusion"}


def _span(values: Sequence[float], digits: int = 2) -> str:
    """``0.07 to 0.19``: the range of ``values`` (one number when they round alike)."""
    low, high = min(values), max(values)
    return f"{low:.{digits}f}" if round(low, digits) == round(high, digits) \
        else f"{low:.{digits}f} to {high:.{digits}f}"


def attribution_findings(models: Sequence[Mapping[str, Any]]) -> list[str]:
    """What this run shows on the attribution maps' sanity checks, over the convolutional
    models: which methods survive the randomisation check, how Grad-CAM reads against the
    pass figures (rank correlation below the flag after full randomisation, deletion area
    below a random order's for at least 90% of images), and which method deletes best."""
    rows = [(m["arch"], m["attribution"]) for m in models if m.get("attribution")]
    if not rows:
        return []
    sentences = []
    threshold = rows[0][1]["randomisation"]["failing_correlation"]
    verdicts: dict[str, list[str]] = {}
    for method, label in METHOD_LABELS.items():
        finals = [checks["randomisation"]["methods"][method]["final"] for _, checks in rows]
        failing = [arch for arch, checks in rows if method in checks["randomisation"]["failing"]]
        verdict = ("pass on every model" if not failing else
                   "are flagged as failing on every model" if len(failing) == len(rows) else
                   f"are flagged as failing on {', '.join(failing)}")
        verdicts.setdefault(verdict, []).append(f"{label} ({_span(finals)})")
    sentences.append(
        "Once every learned layer is randomised, the maps keep this mean rank correlation with "
        "the trained model's: " + "; ".join(f"{' and '.join(methods)} {verdict}"
                                            for verdict, methods in verdicts.items())
        + f" (flagged at {threshold} or above: such maps take their structure from the image "
        "more than from the learned weights).")
    for method in ("integrated_gradients", "occlusion"):
        on_image = [checks["randomisation"]["methods"][method]["final_on_image"] for _, checks in rows]
        if all(v == v for v in on_image):  # defined everywhere (not nan)
            verdict = ("below the flag on every model: its failure comes from those forced zeros"
                       if max(on_image) < threshold else "still at or above the flag on "
                       + ", ".join(arch for (arch, _), v in zip(rows, on_image, strict=True)
                                   if v >= threshold))
            sentences.append(
                f"{METHOD_LABELS[method].capitalize()} is zero wherever the image equals the "
                f"baseline, whatever the weights; over the image's other pixels alone its "
                f"correlation is {_span(on_image)}, {verdict}.")
    shares = {arch: checks["perturbation"]["orders"]["grad_cam"]["deletion_beats_random"]
              for arch, checks in rows}
    passing = [arch for arch, share in shares.items() if share >= GRAD_CAM_DELETION_PASS]
    sentences.append(
        "Grad-CAM's deletion area is below a random order's for "
        + ", ".join(f"{100 * share:.1f}% of the images on {arch}" for arch, share in shares.items())
        + f": {len(passing)} of {len(rows)} models reach {100 * GRAD_CAM_DELETION_PASS:.0f}%.")
    best = {arch: min(METHOD_LABELS, key=lambda m: checks["perturbation"]["orders"][m]["deletion_area"])
            for arch, checks in rows}
    if len(set(best.values())) == 1:
        method = next(iter(best.values()))
        areas = [checks["perturbation"]["orders"][method]["deletion_area"] for _, checks in rows]
        randoms = [checks["perturbation"]["orders"]["random"]["deletion_area"] for _, checks in rows]
        sentences.append(
            f"{METHOD_LABELS[method].capitalize()} has the lowest deletion area on every model "
            f"({_span(areas, 3)}, against {_span(randoms, 3)} for a random order): deleting "
            f"pixels in its order lowers the predicted class's probability fastest. Deleting a "
            f"pixel that already equals the baseline changes nothing, so the curves reward a "
            f"method that ranks the image's own pixels first.")
    else:
        sentences.append("The lowest deletion area belongs to " + ", ".join(
            f"{METHOD_LABELS[m]} on {arch}" for arch, m in best.items()) + ".")
    first = rows[0][1]
    sentences.append(
        f"The checks use a sample of {first['perturbation']['images']} test images drawn with "
        f"seed {first['sample_seed']} (the randomisation its first "
        f"{first['randomisation']['images']}), and each model's first training seed.")
    return sentences

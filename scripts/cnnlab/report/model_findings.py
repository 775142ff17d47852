"""What the report says about each model's insides, from the numbers of one run: calibration,
attribution's sanity checks and effective receptive fields, each compared across the models
and read against what the literature reports."""

from __future__ import annotations

from typing import Any, Mapping, Sequence


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


def deepest_fields(rows: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The effective-field rows (by state) of the convolution with the largest theoretical
    field, the last such in graph order: where the unit sees the most."""
    trained = [r for r in rows if r["state"] == "trained"]
    layer = max(reversed(trained), key=lambda r: r["receptive_field"])["layer"]
    return {r["state"]: r for r in rows if r["layer"] == layer}


def sigma(row: Mapping[str, Any]) -> float:
    """The field's standard deviation, the mean of both axes (pixels)."""
    return (row["sigma_rows"] + row["sigma_cols"]) / 2


def effective_field_findings(models: Sequence[Mapping[str, Any]]) -> list[str]:
    """Whether the effective receptive fields grew with training (Luo et al. 2016 report that
    they do), and how the residual network's compares with the plain CNNs' (they report that
    skip connections make it smaller), at each model's deepest convolution."""
    deepest = {m["arch"]: deepest_fields(m["effective_field"])
               for m in models if m.get("effective_field")}
    if not deepest:
        return []
    grew = [arch for arch, d in deepest.items() if sigma(d["trained"]) > sigma(d["init"])]
    changes = ", ".join(f"{arch} {sigma(d['init']):.2f} → {sigma(d['trained']):.2f} px"
                        for arch, d in deepest.items())
    shrank = [arch for arch in deepest if arch not in grew]
    verdict = " and ".join(part for part in (
        f"grew on {', '.join(grew)}" if grew else "", f"shrank on {', '.join(shrank)}" if shrank else "")
        if part)
    sentences = [f"From initialisation to the end of training, the effective field of the "
                 f"deepest convolution's centre unit {verdict} (standard deviation: {changes}; "
                 f"one seed each, no interval)."]
    residual = [m["arch"] for m in models if m.get("residual") and m["arch"] in deepest]
    plain = [a for a in deepest if a not in residual]
    if residual and plain:
        convolutions = {m["arch"]: len({r["layer"] for r in m["effective_field"]})
                        for m in models if m["arch"] in deepest}

        def ratio(arch: str) -> float:
            d = deepest[arch]["trained"]
            return sigma(d) / d["receptive_field"]

        sentences.append(
            "Relative to its theoretical field, the trained effective field of "
            + ", ".join(f"{a} (σ {sigma(deepest[a]['trained']):.2f} px in a "
                        f"{deepest[a]['trained']['receptive_field']}-pixel field: {ratio(a):.3f}, "
                        f"{convolutions[a]} convolutions)" for a in residual)
            + f" is {'smaller' if max(map(ratio, residual)) < min(map(ratio, plain)) else 'not smaller'}"
            f" than the plain CNNs' ({_span([ratio(a) for a in plain], 3)}, "
            f"{_span([convolutions[a] for a in plain], 0)} convolutions). Luo et al. (2016) show "
            f"this ratio shrinking with depth as well as with skip connections, and these "
            f"networks differ in both: this run cannot tell the two apart.")
    return sentences


def embedding_findings(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Whether the CNNs separate the classes better than the fully connected models before
    their classifier: by k-NN accuracy against the best fully connected model (logistic
    regression's representation is the pixels themselves), with its standard error; and by
    silhouette score, with what it can and cannot compare."""
    if not rows:
        return []

    def scores(row: Mapping[str, Any]) -> str:
        return (f"{row['arch']} (k-NN {100 * row['knn_accuracy']:.1f}%, silhouette "
                f"{row['silhouette']:.2f})")

    cnns = [r for r in rows if r["convolutional"]]
    dense = [r for r in rows if not r["convolutional"]]
    sentences = []
    if cnns and dense:
        best = max(dense, key=lambda r: r["knn_accuracy"])

        def clearly_above(row: Mapping[str, Any]) -> bool:
            """Above by more than twice the two standard errors combined."""
            error = (row["knn_standard_error"] ** 2 + best["knn_standard_error"] ** 2) ** 0.5
            return row["knn_accuracy"] - best["knn_accuracy"] > 2 * error

        above = [r["arch"] for r in cnns if clearly_above(r)]
        sentences.append(
            f"Before their classifier, the representations of {len(above)} of {len(cnns)} CNNs "
            f"({', '.join(above) or 'none'}) let a k-nearest-neighbour classifier beat the best "
            f"fully connected model's, {best['arch']} ({100 * best['knn_accuracy']:.1f}%), by more "
            f"than twice the standard error (about {100 * best['knn_standard_error']:.1f} points "
            f"on {best['test_images']:,} test images): "
            + "; ".join(f"{r['arch']} {100 * r['knn_accuracy']:.1f}%" for r in cnns) + ".")
    clustered = max(rows, key=lambda r: r["silhouette"])
    sentences.append(
        f"By silhouette, the most clearly clustered representation is {clustered['arch']}'s "
        f"({clustered['silhouette']:.2f}; {_span([r['silhouette'] for r in rows])} over the "
        f"models). Silhouettes compare spaces of different size and scale ("
        f"{_span([r['features'] for r in rows], 0)} features), so read them as a ranking, not "
        f"as distances. One seed per model and one sample of test images.")
    return sentences


def weight_evolution_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """From a run's per-epoch relative changes (weight_evolution.csv): how many epochs, and how
    much of each layer's final distance from its initial weights the first epoch had already
    covered (the layers that covered least and most). None for a single epoch."""
    epochs = sorted({r["epoch"] for r in rows})
    if len(epochs) < 3:  # epoch 0 and one more: the first epoch is the whole run
        return None
    after_first = {r["layer"]: r["relative_change"] for r in rows if r["epoch"] == epochs[1]}
    final = {r["layer"]: r["relative_change"] for r in rows if r["epoch"] == epochs[-1]}
    shares = sorted((after_first[layer] / final[layer], layer) for layer in final
                    if final[layer] > 0)
    if not shares:
        return None
    return {"epochs": epochs[-1], "low": shares[0][0], "low_layer": shares[0][1],
            "high": shares[-1][0], "high_layer": shares[-1][1]}

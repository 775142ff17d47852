"""Every figure builder, drawn with data that tempts mathtext: tick labels read as numbers,
data labels as written, and the cost scatter's labels never overlap."""

from __future__ import annotations

import inspect
from itertools import combinations
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
from cnnlab.analysis.attribution import METHODS
from cnnlab.plotting import attribution, comparison, evaluation, inspection, units, weights
from matplotlib import cbook
from matplotlib.text import Text

DOLLARS = "a$x$"  # a class name with a dollar pair, as a CIFAR-style batches.meta may hold
TITLE = f"run on {DOLLARS}"
RNG = np.random.default_rng(0)
ARCHS = ["logreg", "mlp", "digitcnn", "digitcnn_gap", "simplecnn_bn", "lenet5"]
# Parameters, mult-adds, seconds and accuracy as a default run gives them: lenet5's and mlp's
# mult-adds are close, which once put one label over the other.
# mlp and digitcnn have three seeds (a t-interval over them), the others one (a bootstrap).
SEEDS = {"mlp": 3, "digitcnn": 3}
T_INTERVAL, BOOTSTRAP = "t-interval over 3 seeds", "percentile bootstrap over test images"
COST_ROWS = [
    {"arch": a, "convolutional": c, "parameters": p, "mult_adds": m, "seconds_per_epoch": s,
     "test_accuracy": acc, "accuracy_low": acc - 0.002, "accuracy_high": acc + 0.001,
     "seeds": SEEDS.get(a, 1), "interval": T_INTERVAL if a in SEEDS else BOOTSTRAP}
    for a, c, p, m, s, acc in [
        ("logreg", False, 7_850, 7_840, 3.1, 0.925), ("mlp", False, 535_818, 535_040, 6.0, 0.978),
        ("digitcnn", True, 206_922, 1_030_144, 14.2, 0.989),
        ("digitcnn_gap", True, 5_130, 826_048, 11.9, 0.953),
        ("simplecnn_bn", True, 421_834, 5_042_752, 41.0, 0.991),
        ("lenet5", True, 61_706, 416_520, 7.7, 0.986),
    ]
]


def history(epochs: int = 3) -> list[dict[str, str]]:
    return [{"epoch": str(e), "train_loss": str(1 / e), "val_loss": str(1.1 / e),
             "train_acc": str(1 - 0.1 / e), "val_acc": str(1 - 0.12 / e)} for e in range(1, epochs + 1)]


def translation_rows() -> list[dict[str, Any]]:
    """logreg once, mlp with three seeds that differ a little."""
    return [{"arch": a, "seed": seed, "direction": d, "shift": s,
             "accuracy": 0.9 - 0.1 * s - 0.01 * seed}
            for a in ARCHS[:2] for seed in range(SEEDS.get(a, 1))
            for d in ("horizontal", "vertical") for s in range(3)]


def dynamics() -> dict[str, dict[int, list[dict[str, str]]]]:
    """{arch: {seed: history}}: logreg once, mlp with three seeds."""
    histories: dict[str, dict[int, list[dict[str, str]]]] = {}
    for arch in ARCHS[:2]:
        histories[arch] = {}
        for seed in range(SEEDS.get(arch, 1)):
            rows = history()
            for row in rows:
                row["train_loss"] = str(float(row["train_loss"]) * (1 + 0.1 * seed))
                row["val_acc"] = str(float(row["val_acc"]) - 0.01 * seed)
            histories[arch][seed] = rows
    return histories


SAMPLES: dict[str, dict[str, Any]] = {
    "plot_confusion": {"cm": np.eye(3, dtype=int) * 4, "classes": [DOLLARS, "b", "c"], "title": TITLE},
    "plot_misclassified": {"images": RNG.integers(0, 255, (4, 1, 8, 8), dtype=np.uint8),
                           "captions": [f"true {DOLLARS}"] * 4, "title": TITLE, "errors": 7,
                           "requested": 4},
    "plot_curves": {"history": history(), "title": TITLE},
    "plot_kernels": {"kernels": RNG.random((6, 3, 3)), "title": TITLE, "signed": True},
    "plot_similarity": {"trained": [{"best_similarity": 0.8, "best_match": "sobel_x"}] * 3,
                        "init": [{"best_similarity": 0.3, "best_match": "blob"}] * 3, "title": TITLE},
    "plot_channel_norms": {"layers": [("conv2", RNG.random((4, 3)))], "title": TITLE},
    "plot_feature_maps": {"images": np.zeros((2, 1, 8, 8), np.uint8), "maps": RNG.random((2, 3, 4, 4)),
                          "row_labels": [DOLLARS, "b"], "title": TITLE, "channels": 3},
    "plot_sparsity": {"rows": [{"layer": "relu", "follows": "Conv2d", "zero_fraction": 0.5,
                                "dead_fraction": 0.1}], "title": TITLE},
    "plot_receptive_fields": {"image": np.zeros((1, 28, 28), np.uint8),
                              "boxes": [("conv1 (Conv2d)", 13.5, 3), ("conv2 (Conv2d)", 13.5, 40)],
                              "title": TITLE},
    "plot_parameters": {"rows": [{"name": "fc", "type": "Linear", "params": 1_000_000, "share": 0.9},
                                 {"name": "conv", "type": "Conv2d", "params": 160, "share": 0.1}],
                        "title": TITLE},
    "plot_shape_flow": {"flow": [("input", "1x28x28"), ("conv Conv2d", "16x28x28")], "title": TITLE},
    "plot_cost": {"rows": COST_ROWS, "title": TITLE},
    "plot_dense_equivalent": {
        "rows": [{"arch": "digitcnn", "layer": "features.0", "input_shape": "1x28x28",
                  "output_shape": "16x28x28", "conv_params": 160, "dense_params": 9_847_040,
                  "saving_factor": 61_544.0}],
        "thought": [{"layer": "dense", "params": 154_141_696}, {"layer": "conv", "params": 1_792}],
        "title": TITLE},
    "plot_translation": {"rows": translation_rows(), "title": TITLE},
    "plot_permutation": {"rows": [{"arch": a, "accuracy_original": 0.98, "accuracy_permuted": 0.97,
                                     "original_low": 0.975, "original_high": 0.985,
                                     "permuted_low": 0.96, "permuted_high": 0.975,
                                     "interval": T_INTERVAL if a in SEEDS else BOOTSTRAP}
                                  for a in ARCHS[:2]], "title": TITLE},
    "plot_data_efficiency": {"rows": [{"arch": a, "train_size": n, "test_accuracy": 0.5 + n / 2e5,
                                       "accuracy_low": 0.49 + n / 2e5, "accuracy_high": 0.52 + n / 2e5,
                                       "seeds": SEEDS.get(a, 1),
                                       "interval": T_INTERVAL if a in SEEDS else BOOTSTRAP}
                                      for a in ARCHS[:2] for n in (600, 3_000, 60_000)], "title": TITLE},
    "plot_training_dynamics": {"histories": dynamics(), "title": TITLE},
    "plot_attribution_mosaic": {
        "images": RNG.integers(0, 255, (3, 1, 8, 8), dtype=np.uint8),
        "maps": {m: RNG.normal(size=(3, 8, 8)) for m in METHODS},
        "captions": [f"true {DOLLARS}\npredicted b\n99.0%"] * 3, "wrong": [False, False, True],
        "blocks": [("one image per class", 2), ("the errors", 1)], "title": TITLE},
    "plot_randomisation_example": {
        "image": RNG.integers(0, 255, (1, 8, 8), dtype=np.uint8),
        "example": {m: [RNG.normal(size=(8, 8)) for _ in range(3)] for m in METHODS},
        "layers": ["classifier.1", "features.5.shortcut.0"], "title": TITLE},
    "plot_attribution_checks": {
        "layers": ["classifier.1", "features.0"],
        "correlation": {m: [0.6, 0.1 * i] for i, m in enumerate(METHODS)},
        "fractions": np.linspace(0, 1, 5),
        "deletion": {o: np.linspace(1, 0.1, 5) for o in (*METHODS, "random")},
        "insertion": {o: np.linspace(0.1, 1, 5) for o in (*METHODS, "random")},
        "deletion_area": {o: 0.3 for o in (*METHODS, "random")},
        "insertion_area": {o: 0.7 for o in (*METHODS, "random")},
        "notes": ("layers randomised", "mean over 10 images"), "title": TITLE},
    "plot_effective_fields": {
        "results": [{"layer": layer, "state": state, "field": RNG.random((8, 8)), "box": [1, 6, 1, 6],
                     "sigma_rows": 1.5, "sigma_cols": 1.7, "mass_share": 0.4}
                    for layer in ("features.0", "features.3") for state in ("init", "trained")],
        "title": TITLE},
    "plot_top_images": {"images": RNG.integers(0, 255, (2, 3, 1, 8, 8), dtype=np.uint8),
                        "boxes": [[[1, 4, 2, 5]] * 3] * 2, "values": np.array([[3.0, 2.0, 1.0]] * 2),
                        "channels": [0, 1], "title": TITLE},
    "plot_embeddings": {
        "rows": [{"arch": a, "features": 8, "knn_accuracy": 0.9, "silhouette": 0.2} for a in ARCHS[:2]],
        "projections": [{"pca": RNG.normal(size=(20, 2)), "tsne": RNG.normal(size=(20, 2)),
                         "labels": np.arange(20) % 3} for _ in range(2)],
        "classes": [DOLLARS, "b", "c"], "title": TITLE},
    "plot_optimal_inputs": {"layers": [{"name": "features.0", "note": "3-pixel field",
                                        "images": RNG.normal(size=(20, 7, 7))},
                                       {"name": "features.3", "note": "8-pixel field",
                                        "images": RNG.normal(size=(5, 12, 12))}], "title": TITLE},
    "plot_weight_changes": {"layers": [{"name": name, "edges": np.linspace(-1, 1, 11),
                                        "init": RNG.integers(0, 9, 10), "trained": RNG.integers(0, 9, 10),
                                        "change": 0.4} for name in ("features.0", "classifier.1")],
                            "title": TITLE},
    "plot_weight_evolution": {"trajectory": {
        "epochs": np.arange(4), "layers": ["features.0", DOLLARS],
        "relative_change": np.array([[0, 0], [0.3, 0.5], [0.4, 0.7], [0.45, 0.8]]),
        "kernel_layer": "features.0", "kernels": RNG.normal(size=(4, 20, 1, 3, 3))},
        "title": TITLE},
}
BUILDERS = {name: function for module in (evaluation, inspection, comparison, attribution, units,
                                                   weights)
            for name, function in inspect.getmembers(module, inspect.isfunction)
            if name.startswith("plot_") and function.__module__ == module.__name__}


def test_every_builder_has_a_sample() -> None:
    assert set(BUILDERS) == set(SAMPLES)


def shown(text: Text) -> tuple[str, bool]:
    """What a text element displays, and whether matplotlib draws it as TeX math."""
    raw = text.get_text()
    if text.get_parse_math() and cbook.is_math_text(raw):
        return raw, True
    return raw.replace(r"\$", "$"), False


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_ticks_are_numbers_and_data_labels_are_literal(name: str, tmp_path: Path) -> None:
    fig = BUILDERS[name](**SAMPLES[name], path=tmp_path / f"{name}.png")
    assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
    assert texts
    for text in texts:
        value, is_math = shown(text)
        if is_math:  # only formatters' own math (log ticks), drawn as 10^5, never data
            assert DOLLARS not in value, f"{name}: data label {value!r} drawn as math"
        else:
            assert "mathdefault" not in value, f"{name}: raw mathtext {value!r} printed"
            assert "$" not in value or DOLLARS in value, f"{name}: stray '$' in {value!r}"
    assert any(DOLLARS in shown(t)[0] for t in texts), f"{name}: the title was not drawn"


@pytest.mark.parametrize("errors,requested,says,never", [
    (37, 0, ["none requested", "evaluation.misclassified is 0", "misclassified 37"], "no misclassified"),
    (0, 0, ["none requested", "misclassified none"], "misclassified 0"),
    (0, 36, ["no misclassified test images", "every test image correctly"], "requested"),
])
def test_an_empty_misclassified_grid_says_truly_why(errors: int, requested: int, says: list[str],
                                                     never: str, tmp_path: Path) -> None:
    fig = evaluation.plot_misclassified(np.zeros((0, 1, 8, 8), np.uint8), [], TITLE,
                                        tmp_path / "m.png", errors=errors, requested=requested)
    text = " ".join(shown(t)[0] for t in fig.findobj(Text) if t.get_visible() and t.get_text())
    assert all(fragment in text for fragment in says), text
    assert never not in text


def test_log_axes_tick_labels_render_as_powers_of_ten(tmp_path: Path) -> None:
    fig = comparison.plot_cost(COST_ROWS, TITLE, tmp_path / "cost.png")
    parameters, mult_adds, seconds = fig.axes
    for ax in (parameters, mult_adds):
        labels = [t for t in ax.get_xticklabels() if t.get_text()]
        assert labels and all(shown(t)[1] and "10^" in t.get_text() for t in labels)
    # Seconds span about one decade: plain numbers, minor ticks included.
    low, high = seconds.get_xlim()
    ticks = seconds.xaxis.get_major_ticks() + seconds.xaxis.get_minor_ticks()
    values = [float(t.label1.get_text()) for t in ticks
              if low <= t.get_loc() <= high and t.label1.get_text()]
    assert 10.0 in values and len(values) >= 4


def test_cost_labels_overlap_neither_each_other_nor_the_points(tmp_path: Path) -> None:
    fig = comparison.plot_cost(COST_ROWS, TITLE, tmp_path / "cost.png")
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        labels = [t for t in ax.texts if t.get_text() in ARCHS]
        assert sorted(t.get_text() for t in labels) == sorted(ARCHS)
        boxes = [t.get_window_extent(renderer) for t in labels]
        for (a, box_a), (b, box_b) in combinations(zip(labels, boxes, strict=True), 2):
            assert not box_a.overlaps(box_b), f"{a.get_text()} overlaps {b.get_text()}"
        points = ax.transData.transform([t.xy for t in labels])
        for box in boxes:
            assert not any(box.contains(x, y) for x, y in points)
        inside = ax.get_window_extent(renderer)
        assert all(inside.x0 <= b.x0 and b.x1 <= inside.x1 and inside.y0 <= b.y0 and b.y1 <= inside.y1
                   for b in boxes)


def legend_labels(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def matplotlib_colour(colour: Any) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return to_rgb(colour)


def band(collection: Any) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edge of a fill_between band, as drawn (x ascending)."""
    vertices = collection.get_paths()[0].vertices
    xs = np.unique(vertices[:, 0])
    low = np.array([vertices[vertices[:, 0] == x, 1].min() for x in xs])
    high = np.array([vertices[vertices[:, 0] == x, 1].max() for x in xs])
    return low, high


@pytest.mark.parametrize("name", ["plot_translation", "plot_training_dynamics"])
def test_curves_are_means_over_seeds_with_a_band_only_where_there_are_several(
        name: str, tmp_path: Path) -> None:
    from cnnlab.analysis.certainty import t_interval

    fig = BUILDERS[name](**SAMPLES[name], path=tmp_path / "f.png")
    panels = [ax for ax in fig.axes if ax.get_lines()]
    assert len(panels) == 2
    for ax in panels:
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert set(lines) == {"logreg", "mlp (3 seeds)"}
        bands = ax.collections
        assert len(bands) == 1  # the mlp's band; logreg, one seed, has none
        assert bands[0].get_facecolor()[0][:3] == pytest.approx(
            matplotlib_colour(lines["mlp (3 seeds)"].get_color()))
        low, high = band(bands[0])
        mean = lines["mlp (3 seeds)"].get_ydata()
        assert np.all(low < mean) and np.all(mean < high)
    if name == "plot_translation":
        horizontal = panels[0]
        mlp = [[100 * r["accuracy"] for r in SAMPLES[name]["rows"]
                if r["arch"] == "mlp" and r["direction"] == "horizontal" and r["shift"] == s]
               for s in range(3)]
        expected = [t_interval(values) for values in mlp]
        line = {line.get_label(): line for line in horizontal.get_lines()}["mlp (3 seeds)"]
        assert list(line.get_ydata()) == pytest.approx([i.estimate for i in expected])
        low, high = band(horizontal.collections[0])
        assert list(low) == pytest.approx([i.low for i in expected])
        assert list(high) == pytest.approx([i.high for i in expected])
        logreg = {line.get_label(): line for line in horizontal.get_lines()}["logreg"]
        assert list(logreg.get_ydata()) == pytest.approx([90.0, 80.0, 70.0])


def test_cost_error_bars_are_each_models_interval(tmp_path: Path) -> None:
    fig = comparison.plot_cost(COST_ROWS, TITLE, tmp_path / "cost.png")
    for ax in fig.axes:
        bars = [c for c in ax.containers if c.has_yerr]
        assert len(bars) == len(COST_ROWS)
        for container, row in zip(bars, COST_ROWS, strict=True):
            (segment,) = container.lines[2][0].get_segments()
            assert sorted(segment[:, 1]) == pytest.approx(
                [100 * row["accuracy_low"], 100 * row["accuracy_high"]])
    note = " ".join(t.get_text() for t in fig.texts)
    assert "95% interval" in note and T_INTERVAL in note and BOOTSTRAP in note


def test_data_efficiency_points_carry_their_interval_and_seed_count(tmp_path: Path) -> None:
    rows = SAMPLES["plot_data_efficiency"]["rows"]
    fig = comparison.plot_data_efficiency(rows, TITLE, tmp_path / "d.png")
    (ax,) = fig.axes
    assert legend_labels(ax) == ["logreg", "mlp (3 seeds)"]
    for container, arch in zip(ax.containers, ["logreg", "mlp"], strict=True):
        mine = sorted((r for r in rows if r["arch"] == arch), key=lambda r: r["train_size"])
        segments = container.lines[2][0].get_segments()
        assert [sorted(s[:, 1]) for s in segments] == [
            pytest.approx([100 * r["accuracy_low"], 100 * r["accuracy_high"]]) for r in mine]
    note = " ".join(t.get_text() for t in fig.texts)
    assert T_INTERVAL in note and BOOTSTRAP in note


def test_permutation_legend_names_the_intervals_used(tmp_path: Path) -> None:
    fig = comparison.plot_permutation(**SAMPLES["plot_permutation"], path=tmp_path / "p.png")
    title = fig.axes[0].get_legend().get_title().get_text()
    assert "95% interval" in title and T_INTERVAL in title and BOOTSTRAP in title


@pytest.mark.parametrize("epochs,channels,shown,drawn", [
    (4, 32, [0, 1, 2, 3], 32),  # few epochs: every channel, in 4 blocks of 8
    (4, 64, [0, 1, 2, 3], 32),  # never more than 32 channels
    (31, 64, [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30], 16),  # 11 epochs, 2 blocks
    (2, 6, [0, 1], 6),
])
def test_the_strip_draws_evenly_spaced_epochs_first_and_last(epochs: int, channels: int,
                                                             shown: list[int], drawn: int) -> None:
    chosen, count = weights.strip_selection(epochs, channels)
    assert (chosen.tolist(), count) == (shown, drawn)


def test_the_strip_puts_each_kernel_in_its_cell_on_its_channels_scale() -> None:
    kernels = np.zeros((3, 10, 1, 3, 3))
    kernels[0, 8, 0, 1, 1] = -2.0  # channel 8 (second block, first row), epoch 0: blue centre
    kernels[2, 8, 0, 0, 0] = 1.0  # epoch 2: half as strong, red corner
    canvas = weights._strip_canvas(kernels, np.array([0, 1, 2]), 10)
    cell, block = 4, 3 * 4 + 3  # a kernel's width of white between blocks
    assert canvas.shape == (8 * cell - 1, block + 3 * cell - 1, 3)
    blue = canvas[1, block + 1]
    red = canvas[0, block + 2 * cell]
    assert blue[2] > blue[0] and red[0] > red[2]  # sign as colour
    middle = matplotlib.colormaps["RdBu_r"](0.5)[:3]  # the diverging map's (near-white) zero
    assert np.allclose(canvas[1, block + cell + 1], middle)  # epoch 1: all zero
    strength = lambda rgb: 1 - rgb.min()  # noqa: E731 (distance from white)
    assert strength(blue) > strength(red) > 0.2  # one scale over the epochs: -2 beats 1
    assert np.all(canvas[:, 3 * cell - 1:block] == 1.0)  # the gap between blocks stays white


def test_validation_curves_join_the_scored_epochs_only(tmp_path: Path) -> None:
    """A run scored every second epoch (validate_every) draws its validation line through
    epochs 2, 4 and 5, with no gap where an epoch was not scored; training is drawn each epoch."""
    rows = history(5)
    for row in rows:
        if row["epoch"] in ("1", "3"):
            row["val_loss"] = row["val_acc"] = "nan"
    fig = evaluation.plot_curves(rows, TITLE, tmp_path / "curves.png")
    for ax in fig.axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert list(lines["train"].get_xdata()) == [1, 2, 3, 4, 5]
        assert list(lines["validation"].get_xdata()) == [2, 4, 5]
        assert np.all(np.isfinite(lines["validation"].get_ydata()))
    accuracy = {line.get_label(): line for line in fig.axes[1].get_lines()}["validation"]
    assert list(accuracy.get_ydata()) == pytest.approx([100 * (1 - 0.12 / e) for e in (2, 4, 5)])
    histories = {"mlp": {seed: [dict(r) for r in rows] for seed in range(3)}}
    fig = comparison.plot_training_dynamics(histories, TITLE, tmp_path / "dynamics.png")
    loss, accuracy = (next(iter(ax.get_lines())) for ax in fig.axes if ax.get_lines())
    assert list(loss.get_xdata()) == [1, 2, 3, 4, 5]
    assert list(accuracy.get_xdata()) == [2, 4, 5]
    assert np.all(np.isfinite(accuracy.get_ydata()))

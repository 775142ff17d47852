"""Matplotlib figure builders (Agg backend, PNG at a resolution that reads well in print)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

DPI = 150
# Labels come from data files (CIFAR-10's batches.meta names the classes): a '$' in one must
# print as a dollar sign, not start TeX math that fails to parse and loses the figure.
matplotlib.rcParams["text.parse_math"] = False


def _save(fig: plt.Figure, path: Path | str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def _message_figure(text: str, path: Path | str) -> None:
    """A small figure that says why there is nothing to draw (the report still has its file)."""
    fig, ax = plt.subplots(figsize=(5, 1))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    _save(fig, path)


def plot_confusion(cm: np.ndarray, classes: list[str], title: str, path: Path | str) -> None:
    """Confusion matrix: colour is the share of each true class, text the count."""
    cm = np.asarray(cm)
    k = len(classes)
    share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    size = max(4.5, 0.55 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), classes, rotation=45 if max(map(len, classes)) > 2 else 0, ha="right"
                  if max(map(len, classes)) > 2 else "center")
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    _save(fig, path)


def plot_image_grid(images: np.ndarray, captions: list[str], title: str, path: Path | str,
                    columns: int = 9) -> None:
    """A grid of uint8 (N, C, H, W) images with a caption under each."""
    n = len(images)
    if n == 0:
        _message_figure("no misclassified test images", path)
        return
    columns = min(columns, n)
    rows = math.ceil(n / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.25 * columns, 1.45 * rows + 0.4),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions, strict=False):
        if image.shape[0] == 1:
            ax.imshow(image[0], cmap="gray_r", vmin=0, vmax=255)
        else:
            ax.imshow(np.transpose(image, (1, 2, 0)))
        ax.set_title(caption, fontsize=6.5)
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def _grid_shape(n: int, max_columns: int = 16) -> tuple[int, int]:
    columns = min(max_columns, max(1, math.ceil(math.sqrt(n * 2))))
    return math.ceil(n / columns), columns


def plot_kernels(kernels: np.ndarray, title: str, path: Path | str, signed: bool,
                 labels: list[str] | None = None) -> None:
    """A grid of kernels: (n, k, k) grey or diverging, or (n, k, k, 3) colour in [0, 1]."""
    n = len(kernels)
    rows, columns = _grid_shape(n)
    fig, axes = plt.subplots(rows, columns, figsize=(0.75 * columns + 0.6, 0.8 * rows + 0.7),
                             squeeze=False)
    image = None
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, kernel) in enumerate(zip(axes.flat, kernels, strict=False)):
        if kernel.ndim == 3:  # colour: map [-1, 1] to [0, 1] when signed
            ax.imshow((kernel + 1) / 2 if signed else kernel, interpolation="nearest")
        elif signed:
            image = ax.imshow(kernel, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
        else:
            image = ax.imshow(kernel, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(labels[i] if labels else str(i), fontsize=5.5, pad=1.5)
    fig.suptitle(title, fontsize=9)
    if image is not None and signed:
        fig.colorbar(image, ax=axes, fraction=0.02, pad=0.01, label="weight / max |weight|")
    _save(fig, path)


def plot_similarity(trained: list[dict], init: list[dict], title: str, path: Path | str) -> None:
    """Best cosine similarity per kernel (sorted), trained vs initialisation, and match counts."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), width_ratios=[1, 1.2])
    for rows, label, style in ((trained, "trained", "-o"), (init, "at initialisation", "--s")):
        values = sorted((r["best_similarity"] for r in rows), reverse=True)
        left.plot(range(1, len(values) + 1), values, style, markersize=3, label=label)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel("kernels, most operator-like first")
    left.set_ylabel("best cosine similarity")
    left.set_ylim(0, 1)
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    names = sorted({r["best_match"] for r in trained + init})
    counts_t = [sum(r["best_match"] == n for r in trained) for n in names]
    counts_i = [sum(r["best_match"] == n for r in init) for n in names]
    y = np.arange(len(names))
    right.barh(y + 0.2, counts_t, 0.4, label="trained")
    right.barh(y - 0.2, counts_i, 0.4, label="at initialisation")
    right.set_yticks(y, names, fontsize=7)
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.set_xlabel("kernels whose best match it is")
    right.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_channel_norms(layers: list[tuple[str, np.ndarray]], title: str, path: Path | str) -> None:
    """For each deeper convolution, a heat map of kernel norms (output x input channels)."""
    if not layers:
        _message_figure("no convolution beyond the first layer", path)
        return
    n = len(layers)
    columns = min(n, 3)
    rows = math.ceil(n / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, norms) in zip(axes.flat, layers, strict=False):
        ax.axis("on")
        image = ax.imshow(norms, cmap="magma", aspect="auto", interpolation="nearest")
        ax.set_title(f"{name}: {norms.shape[0]} x {norms.shape[1]} kernels", fontsize=8)
        ax.set_xlabel("input channel", fontsize=7)
        ax.set_ylabel("output channel", fontsize=7)
        ax.tick_params(labelsize=6)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=6)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def _to_rgb(image: np.ndarray, cmap: str, low: float, high: float) -> np.ndarray:
    scaled = (image - low) / (high - low) if high > low else np.zeros_like(image, dtype=float)
    return plt.get_cmap(cmap)(np.clip(scaled, 0, 1))[..., :3]


def plot_feature_maps(images: np.ndarray, maps: np.ndarray, row_labels: list[str], title: str,
                      path: Path | str, channels: int) -> None:
    """One row per input image: the image, then the first ``channels`` maps of one layer.

    The grid is composed as one RGB mosaic and drawn with a single imshow: a figure of
    hundreds of small axes took matplotlib seconds per layer.
    """
    shown = min(channels, maps.shape[1])
    rows = len(images)
    cell = max(images.shape[-1], maps.shape[-1])
    gap = max(1, cell // 10)
    mosaic = np.ones((rows * (cell + gap) - gap, (shown + 1) * (cell + gap) - gap, 3))

    def place(r: int, c: int, rgb: np.ndarray) -> None:
        factor = max(1, cell // max(rgb.shape[:2]))  # small maps drawn as large as the input
        rgb = rgb.repeat(factor, axis=0).repeat(factor, axis=1)
        h, w = rgb.shape[:2]
        y, x = r * (cell + gap) + (cell - h) // 2, c * (cell + gap) + (cell - w) // 2
        mosaic[y:y + h, x:x + w] = rgb

    for r in range(rows):
        image = images[r]
        if image.shape[0] == 1:
            place(r, 0, _to_rgb(image[0].astype(float), "gray_r", 0, 255))
        else:
            place(r, 0, np.transpose(image, (1, 2, 0)) / 255.0)
        for c in range(shown):
            fmap = maps[r, c]
            place(r, c + 1, _to_rgb(fmap, "viridis", float(fmap.min()), float(fmap.max())))
    fig, ax = plt.subplots(figsize=(0.8 * (shown + 1) + 0.6, 0.8 * rows + 0.6))
    ax.imshow(mosaic, interpolation="nearest")
    centres = [i * (cell + gap) + cell / 2 - 0.5 for i in range(max(rows, shown + 1))]
    ax.set_xticks(centres[: shown + 1], ["input"] + [f"ch {c}" for c in range(shown)], fontsize=6)
    ax.set_yticks(centres[:rows], row_labels, fontsize=6)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title, fontsize=8, pad=14)
    _save(fig, path)


def plot_sparsity(rows: list[dict], title: str, path: Path | str) -> None:
    """Share of zero activations and of dead channels per ReLU layer."""
    if not rows:
        _message_figure("no ReLU layers: nothing is exactly zero", path)
        return
    labels = [f"{r['layer']}\n(after {r['follows']})" for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(rows) + 1.5), 3.4))
    ax.bar(x - 0.2, [r["zero_fraction"] for r in rows], 0.4, label="activations exactly zero")
    ax.bar(x + 0.2, [r["dead_fraction"] for r in rows], 0.4, label="channels that never fire")
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share over the test set")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title, fontsize=10)
    _save(fig, path)


def plot_receptive_fields(image: np.ndarray, boxes: list[tuple[str, float, int]], title: str,
                          path: Path | str) -> None:
    """Each layer's receptive field of one central unit, as a square over the input image.

    ``boxes`` holds (label, centre in input pixels, size); a field larger than the image is
    drawn clipped, with a dashed edge.
    """
    from matplotlib.patches import Rectangle

    size = image.shape[-1]
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    if image.shape[0] == 1:
        ax.imshow(image[0], cmap="gray_r", vmin=0, vmax=255, extent=(-0.5, size - 0.5, size - 0.5, -0.5))
    else:
        ax.imshow(np.transpose(image, (1, 2, 0)), extent=(-0.5, size - 0.5, size - 0.5, -0.5))
    colours = plt.cm.viridis(np.linspace(0, 0.9, max(1, len(boxes))))
    for (label, centre, rf), colour in zip(boxes, colours, strict=True):
        low = centre - rf / 2
        clipped = low < -0.5 or low + rf > size - 0.5
        ax.add_patch(Rectangle((low, low), rf, rf, fill=False, edgecolor=colour, linewidth=1.6,
                               linestyle="--" if clipped else "-", label=f"{label}: {rf}x{rf}"))
    ax.set_xlim(-0.5 - size * 0.05, size - 0.5 + size * 0.05)
    ax.set_ylim(size - 0.5 + size * 0.05, -0.5 - size * 0.05)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    ax.set_title(title, fontsize=9)
    _save(fig, path)


def plot_parameters(rows: list[dict], title: str, path: Path | str) -> None:
    """Parameters per layer (layers with parameters), with each one's share of the total."""
    rows = [r for r in rows if r["params"] > 0]
    fig, ax = plt.subplots(figsize=(7, 0.38 * len(rows) + 1.2))
    y = np.arange(len(rows))[::-1]
    ax.barh(y, [r["params"] for r in rows], color="#3b6ea5")
    ax.set_yticks(y, [f"{r['name']} ({r['type']})" for r in rows], fontsize=7)
    top = max(r["params"] for r in rows)
    for yy, r in zip(y, rows, strict=True):
        ax.text(r["params"] + top * 0.01, yy, f"{r['params']:,} ({100 * r['share']:.1f}%)",
                va="center", fontsize=7)
    ax.set_xlim(0, top * 1.3)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.set_xlabel("parameters")
    ax.set_title(title, fontsize=10)
    _save(fig, path)


def plot_shape_flow(flow: list[tuple[str, str]], title: str, path: Path | str) -> None:
    """The tensor shape after each layer that changes it, top to bottom."""
    n = len(flow)
    fig, ax = plt.subplots(figsize=(5.2, 0.55 * n + 0.8))
    ax.axis("off")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.5, n - 0.5)
    for i, (label, shape) in enumerate(flow):
        y = n - 1 - i
        ax.text(0.5, y, shape, ha="center", va="center", fontsize=9, family="monospace",
                bbox={"boxstyle": "round,pad=0.3", "facecolor": "#e8eef6", "edgecolor": "#3b6ea5"})
        ax.text(0.02, y, label, ha="left", va="center", fontsize=6.5, color="#444444")
        if i:
            ax.annotate("", xy=(0.5, y + 0.28), xytext=(0.5, y + 0.72),
                        arrowprops={"arrowstyle": "->", "color": "#3b6ea5"})
    ax.set_title(title, fontsize=10)
    _save(fig, path)


def _arch_colours(archs: list[str]) -> dict[str, tuple]:
    palette = plt.cm.tab10(np.linspace(0, 1, 10))
    return {arch: tuple(palette[i % 10]) for i, arch in enumerate(archs)}


def plot_cost(rows: list[dict], title: str, path: Path | str) -> None:
    """Test accuracy against parameters, mult-adds and seconds per epoch, one point per model."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    panels = [("parameters", "parameters (log)"), ("mult_adds", "mult-adds per image (log)"),
              ("seconds_per_epoch", "training seconds per epoch (log)")]
    for ax, (key, label) in zip(axes, panels, strict=True):
        for r in rows:
            marker = "o" if r["convolutional"] else "s"
            colour = "#3b6ea5" if r["convolutional"] else "#c0504d"
            value = max(r[key], 1e-9)
            ax.scatter(value, 100 * r["test_accuracy"], marker=marker, color=colour, s=40)
            ax.annotate(r["arch"], (value, 100 * r["test_accuracy"]), fontsize=7,
                        xytext=(4, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].scatter([], [], marker="o", color="#3b6ea5", label="convolutional")
    axes[0].scatter([], [], marker="s", color="#c0504d", label="fully connected")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_dense_equivalent(rows: list[dict], thought: list[dict], title: str,
                          path: Path | str) -> None:
    """Parameters of each convolution vs a dense layer with the same shapes (log scale)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 0.32 * len(rows) + 2.2),
                                      width_ratios=[1.4, 1])
    labels = [f"{r['arch']} {r['layer']}\n{r['input_shape']} -> {r['output_shape']}" for r in rows]
    y = np.arange(len(rows))[::-1]
    left.barh(y + 0.2, [r["dense_params"] for r in rows], 0.4, color="#c0504d", label="dense layer")
    left.barh(y - 0.2, [r["conv_params"] for r in rows], 0.4, color="#3b6ea5", label="convolution")
    for yy, r in zip(y, rows, strict=True):
        left.text(r["dense_params"] * 1.3, yy + 0.2, f"x{r['saving_factor']:,.0f}", va="center",
                  fontsize=6.5)
    left.set_xscale("log")
    left.set_xlim(right=max(r["dense_params"] for r in rows) * 200)  # room for the labels
    left.set_yticks(y, labels, fontsize=6.5)
    left.set_xlabel("parameters (log)")
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    left.set_title("each convolution of the compared CNNs", fontsize=9)
    ty = np.arange(len(thought))[::-1]
    right.barh(ty, [t["params"] for t in thought], color=["#c0504d", "#3b6ea5", "#c0504d"])
    for yy, t in zip(ty, thought, strict=True):
        right.text(t["params"] * 1.3, yy, f"{t['params']:,}", va="center", fontsize=7)
    right.set_xscale("log")
    right.set_yticks(ty, [t["layer"] for t in thought], fontsize=7)
    right.set_xlim(right.get_xlim()[0], max(t["params"] for t in thought) * 1e3)
    right.set_xlabel("parameters (log)")
    right.set_title("first layer on a 224x224 RGB image", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_translation(rows: list[dict], title: str, path: Path | str) -> None:
    """Accuracy against shift, one panel per direction, one line per model."""
    directions = list(dict.fromkeys(r["direction"] for r in rows))
    archs = list(dict.fromkeys(r["arch"] for r in rows))
    colours = _arch_colours(archs)
    fig, axes = plt.subplots(1, len(directions), figsize=(4.3 * len(directions), 3.8), sharey=True)
    for ax, direction in zip(np.atleast_1d(axes), directions, strict=True):
        for arch in archs:
            points = [(r["shift"], 100 * r["accuracy"]) for r in rows
                      if r["arch"] == arch and r["direction"] == direction]
            ax.plot(*zip(*points, strict=True), "-o", markersize=3, color=colours[arch], label=arch)
        ax.set_title(f"{direction} shift", fontsize=9)
        ax.set_xlabel("pixels shifted (zero fill)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("test accuracy (%)")
    np.atleast_1d(axes)[-1].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_permutation(rows: list[dict], title: str, path: Path | str) -> None:
    """Accuracy of each model on original and pixel-permuted images."""
    archs = [r["arch"] for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(1.6 * len(rows) + 3, 3.8))
    original = [100 * r["accuracy_original"] for r in rows]
    permuted = [100 * r["accuracy_permuted"] for r in rows]
    ax.bar(x - 0.2, original, 0.4, label="original pixels", color="#3b6ea5")
    ax.bar(x + 0.2, permuted, 0.4, label="pixels permuted (one fixed permutation)", color="#e0a040")
    for xx, a, b in zip(x, original, permuted, strict=True):
        ax.text(xx - 0.2, a + 0.3, f"{a:.2f}", ha="center", fontsize=7)
        ax.text(xx + 0.2, b + 0.3, f"{b:.2f}", ha="center", fontsize=7)
    low = min(original + permuted)
    ax.set_ylim(max(0, low - 5), 100.5)
    ax.set_xticks(x, archs)
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    _save(fig, path)


def plot_data_efficiency(rows: list[dict], title: str, path: Path | str) -> None:
    """Test accuracy against training-set size (log axis), one line per model."""
    archs = list(dict.fromkeys(r["arch"] for r in rows))
    colours = _arch_colours(archs)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for arch in archs:
        points = sorted((r["train_size"], 100 * r["test_accuracy"]) for r in rows if r["arch"] == arch)
        ax.plot(*zip(*points, strict=True), "-o", color=colours[arch], label=arch, markersize=4)
    ax.set_xscale("log")
    ax.set_xlabel("training images (log)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    _save(fig, path)


def _finish_epoch_axes(axes: tuple, legend_size: int) -> None:
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=legend_size)


def plot_training_dynamics(histories: dict[str, list[dict]], title: str, path: Path | str) -> None:
    """Training loss and test accuracy per epoch, overlaid for all models."""
    colours = _arch_colours(list(histories))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for arch, rows in histories.items():
        epochs = [int(r["epoch"]) for r in rows]
        left.plot(epochs, [float(r["train_loss"]) for r in rows], "-o", markersize=3,
                  color=colours[arch], label=arch)
        right.plot(epochs, [100 * float(r["test_acc"]) for r in rows], "-o", markersize=3,
                   color=colours[arch], label=arch)
    left.set_yscale("log")
    left.set_ylabel("training loss (log)")
    right.set_ylabel("test accuracy (%)")
    _finish_epoch_axes((left, right), 7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_curves(history: list[dict], title: str, path: Path | str) -> None:
    """Loss and accuracy per epoch, training and test, of one run."""
    epochs = [int(r["epoch"]) for r in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.plot(epochs, [float(r["train_loss"]) for r in history], "-o", markersize=3, label="train")
    left.plot(epochs, [float(r["test_loss"]) for r in history], "-s", markersize=3, label="test")
    right.plot(epochs, [100 * float(r["train_acc"]) for r in history], "-o", markersize=3, label="train")
    right.plot(epochs, [100 * float(r["test_acc"]) for r in history], "-s", markersize=3, label="test")
    left.set_ylabel("cross-entropy loss")
    right.set_ylabel("accuracy (%)")
    left.legend(fontsize=8)
    _finish_epoch_axes((left, right), 8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)

"""Figures of a run's evaluation: confusion matrix and training curves (drawn by its train
job), misclassified images (rule plot_misclassified)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from cnnlab.plotting.base import (
    figure_builder,
    finish_epoch_axes,
    literal,
    literals,
    message_figure,
    save,
    subplots,
)


@figure_builder
def plot_confusion(cm: np.ndarray, classes: list[str], title: str, path: Path | str) -> Figure:
    """Confusion matrix: colour is the share of each true class, text the count."""
    cm = np.asarray(cm)
    k = len(classes)
    share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    size = max(4.5, 0.55 * k + 2)
    fig, ax = subplots(figsize=(size, size * 0.9))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), literals(classes), rotation=45 if max(map(len, classes)) > 2 else 0, ha="right"
                  if max(map(len, classes)) > 2 else "center")
    ax.set_yticks(range(k), literals(classes))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(literal(title))
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    return save(fig, path)


def _none_shown(errors: int, requested: int) -> str:
    """Why the grid of misclassified images is empty, in words true for both counts."""
    if requested == 0:
        made = f"the model misclassified {errors}" if errors else "the model misclassified none"
        return f"none requested (evaluation.misclassified is 0); {made} of the test images"
    return "no misclassified test images: the model classified every test image correctly"


@figure_builder
def plot_misclassified(images: np.ndarray, captions: list[str], title: str, path: Path | str,
                       *, errors: int, requested: int, columns: int = 9) -> Figure:
    """A grid of misclassified uint8 (N, C, H, W) test images with a caption under each.

    ``errors`` is how many test images the model got wrong, ``requested`` how many the config
    asked to show: with no image to show, the figure says which of the two is why.
    """
    n = len(images)
    if n == 0:
        return message_figure(_none_shown(errors, requested), path)
    columns = min(columns, n)
    rows = math.ceil(n / columns)
    fig, axes = subplots(rows, columns, figsize=(1.25 * columns, 1.45 * rows + 0.4),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions, strict=False):
        if image.shape[0] == 1:
            ax.imshow(image[0], cmap="gray_r", vmin=0, vmax=255)
        else:
            ax.imshow(np.transpose(image, (1, 2, 0)))
        ax.set_title(literal(caption), fontsize=6.5)
    fig.suptitle(literal(title), fontsize=9)
    return save(fig, path)


@figure_builder
def plot_curves(history: list[dict], title: str, path: Path | str) -> Figure:
    """Loss and accuracy per epoch on the training images and on the held-out validation split
    (at the epochs it was scored, when there is one); the test split is scored once, after
    training, not here."""
    epochs = [int(r["epoch"]) for r in history]
    fig, (left, right) = subplots(1, 2, figsize=(9, 3.2))
    left.plot(epochs, [float(r["train_loss"]) for r in history], "-o", markersize=3, label="train")
    right.plot(epochs, [100 * float(r["train_acc"]) for r in history], "-o", markersize=3, label="train")
    # Only the scored epochs: a run may score its validation split every few epochs.
    scored = [r for r in history if math.isfinite(float(r["val_acc"]))]
    if scored:
        scored_epochs = [int(r["epoch"]) for r in scored]
        left.plot(scored_epochs, [float(r["val_loss"]) for r in scored], "-s", markersize=3,
                  label="validation")
        right.plot(scored_epochs, [100 * float(r["val_acc"]) for r in scored], "-s", markersize=3,
                   label="validation")
    left.set_ylabel("cross-entropy loss")
    right.set_ylabel("accuracy (%)")
    left.legend(fontsize=8)
    finish_epoch_axes((left, right), 8)
    fig.suptitle(literal(title), fontsize=10)
    fig.tight_layout()
    return save(fig, path)

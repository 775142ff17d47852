"""Step of workflow/rules/evaluate.smk: the test images a trained model got wrong most
confidently, from the predictions its train job wrote. Imports neither torch nor scipy, so the
job starts in a fraction of the time of one that does."""

from __future__ import annotations

from pathlib import Path

from cnnlab import datasets
from cnnlab.io import read_json
from cnnlab.plotting import evaluation as figures
from cnnlab.predictions import load_predictions, most_confident_errors


def plot_misclassified_images(
    *,
    dataset: str,
    arch: str,
    npz_path: Path | str,
    record_path: Path | str,
    train_record_path: Path | str,
    predictions_path: Path | str,
    misclassified_path: Path | str,
    misclassified: int,
) -> list[int]:
    """Draw the ``misclassified`` most confidently misclassified test images of a run, each
    with its true and predicted class and the confidence; return their test-split indices."""
    data = datasets.load_prepared(npz_path, record_path)
    predictions = load_predictions(predictions_path)
    labels, predicted, confidence = (predictions["labels"], predictions["predicted"],
                                     predictions["confidence"])
    errors = int((labels != predicted).sum())
    worst = most_confident_errors(labels, predicted, confidence, misclassified)
    captions = [f"true {data.classes[labels[i]]}\npred {data.classes[predicted[i]]}"
                f" ({100 * confidence[i]:.0f}%)" for i in worst]
    seed = read_json(train_record_path)["seed"]
    figures.plot_misclassified(
        data.test.images[worst], captions,
        f"{arch} on {dataset}, seed {seed}: the {len(worst)} most confident of {errors} "
        "misclassified test images", misclassified_path,
        errors=errors, requested=misclassified,
    )
    return worst.tolist()

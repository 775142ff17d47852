"""Steps of workflow/rules/units.smk for the representations: what a model's last hidden layer
makes of the images (PCA, t-SNE, k-NN accuracy, silhouette), and the models side by side."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from cnnlab import datasets
from cnnlab.analysis import embedding
from cnnlab.device import select_device, to_device, use_threads
from cnnlab.inference import load_trained_model
from cnnlab.io import atomic_target, read_json, write_csv, write_json
from cnnlab.models import model_spec
from cnnlab.plotting import units as figures

log = logging.getLogger("cnnlab")


def embed_representations(*, dataset: str, arch: str, threads: int, seed: int, images: int,
                          knn_images: int, neighbours: int, batch_size: int,
                          npz_path: Path | str, record_path: Path | str,
                          model_path: Path | str, embedding_path: Path | str,
                          json_path: Path | str,
                          device_preference: str = "auto") -> dict[str, Any]:
    """The penultimate representation of a sample of ``images`` test images, projected by PCA
    and t-SNE, with its k-NN accuracy (fitted on ``knn_images`` training images) and
    silhouette score; samples drawn with ``seed``."""
    use_threads(threads)
    device = select_device(device_preference)
    data = datasets.load_prepared(npz_path, record_path)
    model = load_trained_model(arch, model_path, len(data.classes), device).float()
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    test_sample = datasets.seeded_sample(len(data.test.labels), images, rng)
    train_sample = datasets.seeded_sample(len(data.train.labels), knn_images, rng)
    features = {}
    for name, split, sample in (("test", data.test, test_sample), ("train", data.train, train_sample)):
        x, _ = to_device(datasets.Split(split.images[sample], split.labels[sample]),
                         data.mean, data.std, device)
        features[name] = embedding.penultimate(model, x, batch_size)
    labels = data.test.labels[test_sample]
    scores = embedding.separation(features["train"], data.train.labels[train_sample],
                                  features["test"], labels, neighbours)
    pca, tsne, explained = embedding.project(features["test"], seed)
    layer, _ = embedding.last_linear(model)
    record = {"dataset": dataset, "arch": arch, "layer": f"input of {layer}",
              "features": int(features["test"].shape[1]), "test_images": len(test_sample),
              "knn_images": len(train_sample), "neighbours": neighbours,
              "perplexity": embedding.perplexity(len(test_sample)),
              "knn_accuracy": scores.knn_accuracy, "silhouette": scores.silhouette,
              "pca_explained": explained, "seconds": time.perf_counter() - started}
    record["knn_standard_error"] = float(np.sqrt(scores.knn_accuracy * (1 - scores.knn_accuracy)
                                                 / len(test_sample)))
    with atomic_target(embedding_path) as temporary, open(temporary, "wb") as handle:
        # A handle, not a name: numpy would add ".npz" to the temporary file's name.
        np.savez_compressed(handle, pca=pca, tsne=tsne, labels=labels, indices=test_sample)
    write_json(json_path, record)
    log.info("%s: %d features, k-NN accuracy %.4f, silhouette %.3f", arch, record["features"],
             scores.knn_accuracy, scores.silhouette)
    return record


EMBEDDING_COLUMNS = ["arch", "convolutional", "features", "knn_accuracy", "silhouette",
                     "pca_explained_1", "pca_explained_2", "test_images", "knn_images",
                     "neighbours", "perplexity", "knn_standard_error"]


def compare_embeddings(*, dataset: str, archs: list[str], embedding_paths: list[Path | str],
                       json_paths: list[Path | str], classes: list[str], csv_path: Path | str,
                       png_path: Path | str) -> list[dict[str, Any]]:
    """The models' representations side by side: a table of their separation scores and a
    figure of their PCA and t-SNE projections."""
    records = [read_json(path) for path in json_paths]
    rows = [{"arch": arch, "convolutional": model_spec(arch).is_convolutional,
             "features": r["features"], "knn_accuracy": r["knn_accuracy"],
             "silhouette": r["silhouette"], "pca_explained_1": r["pca_explained"][0],
             "pca_explained_2": r["pca_explained"][1], "test_images": r["test_images"],
             "knn_images": r["knn_images"], "neighbours": r["neighbours"],
             "perplexity": r["perplexity"], "knn_standard_error": r["knn_standard_error"]}
            for arch, r in zip(archs, records, strict=True)]
    write_csv(csv_path, rows, EMBEDDING_COLUMNS)
    projections = [dict(np.load(path)) for path in embedding_paths]
    figures.plot_embeddings(
        rows, projections, classes,
        f"{dataset}: each model's penultimate representation of {records[0]['test_images']:,} "
        f"test images", png_path)
    return rows

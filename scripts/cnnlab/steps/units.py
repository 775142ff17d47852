"""Steps of workflow/rules/units.smk: what the units of a model respond to (its convolutions'
fields, top images and optimal inputs) and what its last hidden layer makes of the images."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnnlab import datasets
from cnnlab.analysis import effective_field, embedding, receptive_field, top_images, weights
from cnnlab.analysis import optimal_inputs as optimal
from cnnlab.analysis.receptive_field import ReceptiveFieldError
from cnnlab.artifacts import TOP_IMAGES
from cnnlab.device import select_device, to_device, use_threads
from cnnlab.inference import initial_model, load_trained_model
from cnnlab.io import atomic_target, read_json, read_npz, write_csv, write_json
from cnnlab.kept_runs import RETRAIN_VARIABLE
from cnnlab.models import model_spec
from cnnlab.plotting import units as figures
from cnnlab.plotting import weights as weight_figures

log = logging.getLogger("cnnlab")

def seeded_sample(total: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` of ``total`` indices drawn without replacement (all where there are fewer),
    in ascending order."""
    return np.sort(rng.permutation(total)[:count])


ERF_COLUMNS = ["layer", "state", "images", "receptive_field", "sigma_rows", "sigma_cols", "fit_sigma_rows",
               "fit_sigma_cols", "fit_r_squared", "mass_share", "outside_mass", "box_top",
               "box_bottom", "box_left", "box_right"]


def effective_receptive_fields(*, dataset: str, arch: str, threads: int, seed: int,
                               training_seed: int, images: int, npz_path: Path | str,
                               record_path: Path | str, model_path: Path | str,
                               csv_path: Path | str, png_path: Path | str,
                               device_preference: str = "auto") -> list[dict[str, Any]]:
    """The ERF of every convolution's centre unit, at initialisation (the weights the trainer
    started from, drawn again from ``training_seed``) and trained, over a sample of ``images``
    test images drawn with ``seed``."""
    use_threads(threads)
    device = select_device(device_preference)
    data = datasets.load_prepared(npz_path, record_path)
    sample = seeded_sample(len(data.test.labels), images, np.random.default_rng(seed))
    x, _ = to_device(datasets.Split(data.test.images[sample], data.test.labels[sample]),
                     data.mean, data.std, device)
    trained = load_trained_model(arch, model_path, len(data.classes), device).float()
    initial = initial_model(arch, len(data.classes), training_seed).to(device)
    results = [*effective_field.measure(initial, x, "init"),
               *effective_field.measure(trained, x, "trained")]
    leaking = [f"{r['layer']} ({r['state']})" for r in results
               if r["outside_mass"] > effective_field.OUTSIDE_TOLERANCE]
    if leaking:
        raise ReceptiveFieldError(
            f"{arch}: the effective field reaches outside the analytic one at {', '.join(leaking)}")
    rows = [{**{k: v for k, v in r.items() if k not in ("field", "box")}, "images": len(sample),
             **dict(zip(("box_top", "box_bottom", "box_left", "box_right"), r["box"], strict=True))}
            for r in results]
    write_csv(csv_path, rows, ERF_COLUMNS)
    deepest = max(reversed(results), key=lambda r: r["receptive_field"])["layer"]
    log.info("%s: deepest convolution %s, ERF sigma %s px", arch, deepest,
             {r["state"]: round((r["sigma_rows"] + r["sigma_cols"]) / 2, 3)
              for r in results if r["layer"] == deepest})
    figures.plot_effective_fields(
        results, f"{arch} on {dataset}: effective receptive field of each convolution's centre "
        f"unit (mean |input gradient| over {len(sample)} test images)", png_path)
    return rows


def top_activating_images(*, dataset: str, arch: str, threads: int, channels: int,
                          batch_size: int, npz_path: Path | str, record_path: Path | str,
                          model_path: Path | str, folder: Path | str,
                          device_preference: str = "auto") -> dict[str, Any]:
    """For every channel of every convolution, the test images that excite it most over the
    whole test split, with the patch under the peak unit's receptive field; one figure per
    convolution (its first ``channels`` channels) and an index of all of them."""
    use_threads(threads)
    device = select_device(device_preference)
    data = datasets.load_prepared(npz_path, record_path)
    x, _ = to_device(data.test, data.mean, data.std, device)
    model = load_trained_model(arch, model_path, len(data.classes), device).float().eval()
    size = x.shape[-1]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    convolutions = receptive_field.convolution_rows(model, size)
    names = [row.layer for row in convolutions]
    peaks_of = top_images.channel_peaks(model, names, x, batch_size,
                                        top_images.batch_norm_signs(model, names))
    layers = []
    for number, row in enumerate(convolutions):
        peaks = peaks_of[row.layer]
        top = top_images.top_images(peaks)
        entries = [[{"image": int(i), "value": float(peaks.values[i, c]),
                     "box": top_images.patch(row, int(peaks.rows[i, c]), int(peaks.cols[i, c]),
                                             size).corners()}
                    for i in top[c]] for c in range(len(top))]
        shown = list(range(min(channels, len(top))))
        name = f"{number:02d}_{row.layer.replace('.', '_')}.png"
        figures.plot_top_images(
            data.test.images[top[shown]], [[e["box"] for e in entries[c]] for c in shown],
            np.array([[e["value"] for e in entries[c]] for c in shown]), shown,
            f"{arch} {row.layer}: the {top_images.TOP} test images that excite each channel most "
            f"(of {len(x):,}), the patch under the peak unit outlined", folder / name)
        layers.append({"layer": row.layer, "file": name, "channels": len(top),
                       "shown": len(shown), "receptive_field": row.receptive_field,
                       "top": entries})
    index = {"dataset": dataset, "arch": arch, "test_size": len(x), "layers": layers}
    write_json(folder / TOP_IMAGES.index, index)
    log.info("%s: top images of %d convolutions", arch, len(layers))
    return index


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
    test_sample = seeded_sample(len(data.test.labels), images, rng)
    train_sample = seeded_sample(len(data.train.labels), knn_images, rng)
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


def optimal_inputs(*, dataset: str, arch: str, threads: int, seed: int, steps: int,
                   total_variation: float, npz_path: Path | str, record_path: Path | str,
                   model_path: Path | str, json_path: Path | str, png_path: Path | str,
                   device_preference: str = "auto") -> dict[str, Any]:
    """The input that maximises the centre unit of each channel of the first two convolutions,
    inside an L2 ball the size of a typical test image (the median norm of the normalised test
    images). The first convolution is linear in its input, so its optimum is found without a
    regulariser and checked against its kernels; the second uses total variation."""
    use_threads(threads)
    device = select_device(device_preference)
    data = datasets.load_prepared(npz_path, record_path)
    x, _ = to_device(data.test, data.mean, data.std, device)
    radius = float(x.flatten(1).norm(dim=1).median())
    model = load_trained_model(arch, model_path, len(data.classes), device).float().eval()
    graph = receptive_field.trace(model)
    size = x.shape[-1]
    convolutions = receptive_field.convolution_rows(model, size, graph)[:2]
    layers, panels = [], []
    for number, row in enumerate(convolutions):
        convolution = model.get_submodule(row.layer)
        ascent = optimal.Ascent(steps=steps, radius=radius, seed=seed,
                                total_variation=0.0 if number == 0 else total_variation)
        optima, activation = optimal.maximise(receptive_field.truncate(graph, row.layer),
                                              convolution.out_channels, tuple(x.shape[1:]), ascent)
        box = effective_field.centre_box(row, size)
        entry = {"layer": row.layer, "channels": convolution.out_channels,
                 "receptive_field": row.receptive_field, "total_variation": ascent.total_variation,
                 "activation": activation.tolist(), "box": box.corners()}
        note = f"{row.receptive_field}-pixel field"
        if number == 0 and convolution.kernel_size[0] == row.receptive_field:
            cosine = optimal.cosine_to_kernels(optima, convolution, tuple(box.corners()))
            entry["cosine_to_kernel"] = cosine.tolist()
            note += f", no regulariser; cosine to its kernel {cosine.min():.4f} at the least"
        else:
            note += f", total variation weight {ascent.total_variation:g}"
        layers.append(entry)
        crop = box.grown(max(1, row.receptive_field // 4), size)
        panels.append({"name": row.layer, "note": note, "images": optima.sum(1)[
            :, crop.top:crop.bottom + 1, crop.left:crop.right + 1].cpu().numpy()})
    record = {"dataset": dataset, "arch": arch, "radius": radius, "steps": steps, "layers": layers}
    write_json(json_path, record)
    figures.plot_optimal_inputs(
        panels, f"{arch} on {dataset}: the input that drives each channel's centre unit highest "
        f"(L2 norm {radius:.1f}, a typical test image's), around the unit's field", png_path)
    log.info("%s: optimal inputs of %s", arch, ", ".join(entry["layer"] for entry in layers))
    return record


WEIGHT_COLUMNS = ["layer", "type", "weights", "norm_init", "norm_trained", "relative_change",
                  "std_init", "std_trained"]
EVOLUTION_COLUMNS = ["epoch", "layer", "relative_change"]


def weight_changes(*, dataset: str, arch: str, training_seed: int, record_path: Path | str,
                   model_path: Path | str, trajectory_path: Path | str, csv_path: Path | str,
                   png_path: Path | str, evolution_csv_path: Path | str,
                   evolution_png_path: Path | str) -> list[dict[str, Any]]:
    """How far training moved each learned layer's weights from the ones it started from
    (drawn again from ``training_seed``, as the trainer drew them), and epoch by epoch from the
    trajectory the trainer saved, which must agree with both ends."""
    classes = len(read_json(record_path)["classes"])
    cpu = torch.device("cpu")
    trained = load_trained_model(arch, model_path, classes, cpu)
    initial = initial_model(arch, classes, training_seed)
    rows = weights.weight_changes(initial, trained)
    trajectory = weights.trajectory_fields(read_npz(trajectory_path))
    _check_trajectory(trajectory, rows, weights.learned_weights(initial), trajectory_path)
    write_csv(csv_path, rows, WEIGHT_COLUMNS)
    write_csv(evolution_csv_path, [
        {"epoch": int(epoch), "layer": layer, "relative_change": float(change)}
        for epoch, changes in zip(trajectory["epochs"], trajectory["relative_change"], strict=True)
        for layer, change in zip(trajectory["layers"], changes, strict=True)], EVOLUTION_COLUMNS)
    before, after = weights.learned_weights(initial), weights.learned_weights(trained)
    layers = []
    for row in rows:
        counts_init, counts_trained, edges = weights.histogram_pair(before[row["layer"]],
                                                                    after[row["layer"]])
        layers.append({"name": row["layer"], "edges": edges, "init": counts_init,
                       "trained": counts_trained, "change": row["relative_change"]})
    weight_figures.plot_weight_changes(
        layers, f"{arch} on {dataset}: each learned layer's weights at initialisation and "
        f"trained (seed {training_seed})", png_path)
    weight_figures.plot_weight_evolution(
        trajectory, f"{arch} on {dataset}: the weights epoch by epoch (seed {training_seed})",
        evolution_png_path)
    most = max(rows, key=lambda r: r["relative_change"])
    log.info("%s: largest relative weight change %.3f at %s", arch, most["relative_change"],
             most["layer"])
    return rows


def _check_trajectory(trajectory: dict[str, Any], rows: list[dict[str, Any]],
                      initial: dict[str, torch.Tensor], path: Path | str) -> None:
    """Refuse a trajectory that does not start at the seed's initial weights or end at the
    trained ones: it would belong to another run."""
    problem = ""
    if trajectory["layers"] != [row["layer"] for row in rows]:
        problem = "its layers are not the model's"
    elif trajectory["epochs"][0] != 0:
        problem = "it does not start at epoch 0"
    elif trajectory["kernels"] is not None and not np.array_equal(
            trajectory["kernels"][0], initial[trajectory["kernel_layer"]].numpy()):
        problem = "its first kernels are not the ones drawn from the training seed"
    elif not np.allclose(trajectory["relative_change"][-1],
                         [row["relative_change"] for row in rows], rtol=1e-4, atol=1e-6):
        problem = "its last epoch is not the trained model"
    if problem:
        raise ValueError(f"the weight trajectory {path} does not belong to this model's run: "
                         f"{problem}. Train again: {RETRAIN_VARIABLE}=1 snakemake --forcerun {path}")

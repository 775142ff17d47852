"""Steps of workflow/rules/inspect.smk: filters, feature maps, sparsity, receptive fields and
the layer table of one model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnnlab import datasets
from cnnlab.analysis import activations, filters, layers
from cnnlab.analysis import receptive_field as rfmod
from cnnlab.artifacts import FEATURE_MAPS
from cnnlab.device import select_device, to_device, use_threads
from cnnlab.inference import initial_model, load_trained_model
from cnnlab.io import read_json, write_csv, write_json
from cnnlab.models import create_model, model_spec
from cnnlab.plotting import inspection as figures

log = logging.getLogger("cnnlab")


def _num_classes(record_path: Path | str) -> int:
    return len(read_json(record_path)["classes"])


def extract_filters(*, dataset: str, arch: str, seed: int, model_path: Path | str,
                    record_path: Path | str, filters_path: Path | str, signed_path: Path | str,
                    similarity_csv: Path | str, similarity_png: Path | str,
                    deeper_path: Path | str) -> dict[str, float]:
    """First-layer kernels (min-max and signed grids), their similarity to classic operators
    (trained and at initialisation) and the kernel norms of the deeper convolutions."""
    device = torch.device("cpu")
    num_classes = _num_classes(record_path)
    trained = load_trained_model(arch, model_path, num_classes, device)
    initial = initial_model(arch, num_classes, seed)
    name, conv = filters.first_conv(trained)
    _, conv_init = filters.first_conv(initial)
    shape = "x".join(map(str, conv.weight.shape[1:]))
    for signed, path in ((False, filters_path), (True, signed_path)):
        figures.plot_kernels(
            filters.kernel_grid(conv.weight, signed=signed),
            f"{arch} on {dataset}: the {conv.out_channels} first-layer kernels ({name}, {shape}), "
            + ("signed: red positive, blue negative" if signed else "each scaled to [0, 1]"),
            path, signed=signed,
        )
    rows_trained = filters.similarity_table(conv.weight, "trained")
    rows_init = filters.similarity_table(conv_init.weight, "init")
    columns = list(rows_trained[0])
    write_csv(similarity_csv, rows_trained + rows_init, columns)
    summary = {
        "trained_mean_best": float(np.mean([r["best_similarity"] for r in rows_trained])),
        "init_mean_best": float(np.mean([r["best_similarity"] for r in rows_init])),
    }
    figures.plot_similarity(
        rows_trained, rows_init,
        f"{arch}: first-layer kernels vs classic operators (mean best cosine: trained "
        f"{summary['trained_mean_best']:.2f}, initialisation {summary['init_mean_best']:.2f})",
        similarity_png,
    )
    deeper = [(n, filters.channel_norms(c)) for n, c in filters.conv_layers(trained)[1:]]
    figures.plot_channel_norms(deeper, f"{arch}: kernel norms of the deeper convolutions", deeper_path)
    log.info("%s first layer: mean best similarity trained %.3f, init %.3f", arch,
             summary["trained_mean_best"], summary["init_mean_best"])
    return summary


def _sample(data: datasets.PreparedData, seed: int) -> np.ndarray:
    return activations.one_per_class(data.test.labels, len(data.classes), seed)


def extract_feature_maps(*, dataset: str, arch: str, seed: int, channels: int,
                         npz_path: Path | str, record_path: Path | str, model_path: Path | str,
                         out_dir: Path | str) -> list[dict[str, Any]]:
    """One figure per convolution / block: the maps of one seeded test image per class."""
    data = datasets.load_prepared(npz_path, record_path)
    device = torch.device("cpu")
    model = load_trained_model(arch, model_path, len(data.classes), device)
    picks = _sample(data, seed)
    x, _ = to_device(datasets.Split(data.test.images[picks], data.test.labels[picks]),
                     data.mean, data.std, device)
    map_layers = activations.feature_map_layers(model)
    maps = activations.capture_maps(model, x, map_layers)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    index = []
    labels = [data.classes[data.test.labels[i]] for i in picks]
    for number, layer in enumerate(map_layers):
        values = maps[layer.name]
        file_name = f"{number:02d}_{layer.name.replace('.', '_')}.png"
        figures.plot_feature_maps(
            data.test.images[picks], values, labels,
            f"{arch}: {layer.label}, {'x'.join(map(str, values.shape[1:]))}; first "
            f"{min(channels, values.shape[1])} channels, each map on its own colour scale",
            out / file_name, channels,
        )
        index.append({"file": file_name, "layer": layer.name, "label": layer.label,
                      "shape": list(values.shape[1:])})
    write_json(out / FEATURE_MAPS.index,
               {"arch": arch, "dataset": dataset, "test_indices": picks.tolist(), "layers": index})
    return index


SPARSITY_COLUMNS = ["layer", "follows", "shape", "zero_fraction", "units", "dead_units",
                    "dead_fraction"]


def measure_sparsity(*, dataset: str, arch: str, threads: int, batch_size: int,
                     npz_path: Path | str, record_path: Path | str, model_path: Path | str,
                     csv_path: Path | str, png_path: Path | str) -> list[dict[str, Any]]:
    """Share of exactly-zero ReLU outputs and dead channels over the whole test split."""
    use_threads(threads)
    data = datasets.load_prepared(npz_path, record_path)
    device = select_device()
    model = load_trained_model(arch, model_path, len(data.classes), device)
    x, _ = to_device(data.test, data.mean, data.std, device)
    rows = activations.sparsity_table(model, x, batch_size)
    write_csv(csv_path, rows, SPARSITY_COLUMNS)
    figures.plot_sparsity(rows, f"{arch} on {dataset}: ReLU sparsity over "
                           f"{len(x):,} test images", png_path)
    return rows


RF_COLUMNS = ["layer", "type", "kernel", "stride", "padding", "dilation", "input_size",
              "output_size", "jump", "receptive_field", "receptive_field_empirical", "start",
              "effective_padding"]


def receptive_fields(*, dataset: str, arch: str, seed: int, npz_path: Path | str,
                     record_path: Path | str, csv_path: Path | str,
                     png_path: Path | str) -> list[dict[str, Any]]:
    """The receptive-field table (analytic and measured) and its figure over a test image."""
    data = datasets.load_prepared(npz_path, record_path)
    spec = model_spec(arch)
    rows = rfmod.receptive_field_table(create_model(arch, num_classes=len(data.classes)),
                                       spec.input_shape)
    mismatched = [r.layer for r in rows if r.receptive_field != r.receptive_field_empirical]
    if mismatched:
        raise rfmod.ReceptiveFieldError(
            f"{arch}: analytic and measured receptive fields disagree at {', '.join(mismatched)}")
    dicts = rfmod.rows_as_dicts(rows)
    write_csv(csv_path, dicts, RF_COLUMNS)
    image = data.test.images[_sample(data, seed)[0]]
    boxes = [(f"{r.layer} ({r.type})", r.start + (r.output_size // 2) * r.jump, r.receptive_field)
             for r in rows]
    figures.plot_receptive_fields(
        image, boxes, f"{arch}: receptive field of the central unit of each layer", png_path)
    return dicts


PARAM_COLUMNS = ["index", "name", "type", "output_shape", "weight_params", "bias_params",
                 "params", "trainable", "buffers", "share", "mult_adds"]


def param_breakdown(*, dataset: str, arch: str, record_path: Path | str, csv_path: Path | str,
                    png_path: Path | str, flow_path: Path | str) -> list[dict[str, Any]]:
    """Per-layer shapes, parameters and mult-adds, a bar chart and a shape-flow figure."""
    spec = model_spec(arch)
    model = create_model(arch, num_classes=_num_classes(record_path))
    rows = layers.rows_as_dicts(layers.layer_table(model, spec.input_shape))
    total = sum(p.numel() for p in model.parameters())
    if sum(r["params"] for r in rows) != total:
        raise AssertionError(f"{arch}: per-layer parameters do not add up to {total}")
    write_csv(csv_path, rows, PARAM_COLUMNS)
    mult_adds = sum(r["mult_adds"] for r in rows)
    figures.plot_parameters(rows, f"{arch}: {total:,} parameters, {mult_adds:,} mult-adds per image",
                             png_path)
    figures.plot_shape_flow(layers.shape_flow(model, spec.input_shape),
                             f"{arch}: tensor shape through the network", flow_path)
    return rows

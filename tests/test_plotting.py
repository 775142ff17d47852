"""Figures with nothing to draw still write a readable PNG (the report links every figure)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from cnnlab.plotting import evaluation, inspection


def test_empty_cases_write_a_png(tmp_path: Path) -> None:
    evaluation.plot_misclassified(np.zeros((0, 1, 28, 28), np.uint8), [], "none", tmp_path / "a.png",
                                  errors=0, requested=9)
    inspection.plot_channel_norms([], "none", tmp_path / "b.png")
    inspection.plot_sparsity([], "none", tmp_path / "c.png")
    for name in ("a.png", "b.png", "c.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_feature_map_mosaic_scales_small_maps_up(tmp_path: Path) -> None:
    images = np.zeros((2, 1, 28, 28), np.uint8)
    maps = np.random.default_rng(0).random((2, 5, 7, 7)).astype(np.float32)
    inspection.plot_feature_maps(images, maps, ["a", "b"], "t", tmp_path / "m.png", channels=3)
    assert (tmp_path / "m.png").stat().st_size > 1000

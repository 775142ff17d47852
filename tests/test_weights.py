"""Relative weight changes and weight histograms against values worked out by hand."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from cnnlab.analysis import weights
from cnnlab.models import create_model


def test_relative_change_is_the_norm_of_the_difference_over_the_initial_norm() -> None:
    torch.manual_seed(0)
    initial = create_model("digitcnn", num_classes=10)
    trained = copy.deepcopy(initial)
    with torch.no_grad():
        trained.features[0].weight.mul_(1.5)  # a change of half its norm
        trained.classifier[4].weight.add_(1.0)  # every weight + 1
    rows = {r["layer"]: r for r in weights.weight_changes(initial, trained)}
    assert list(rows) == ["features.0", "features.3", "classifier.1", "classifier.4"]
    assert rows["features.0"]["relative_change"] == pytest.approx(0.5, rel=1e-6)
    assert rows["features.3"]["relative_change"] == 0.0
    last = initial.classifier[4].weight.detach()
    assert rows["classifier.4"]["relative_change"] == pytest.approx(
        float(np.sqrt(last.numel()) / last.norm()), rel=1e-6)
    assert rows["features.0"]["norm_trained"] == pytest.approx(1.5 * rows["features.0"]["norm_init"])
    assert (rows["classifier.1"]["weights"], rows["classifier.1"]["type"]) == (1568 * 128, "Linear")
    with pytest.raises(ValueError, match="same learned layers"):
        weights.weight_changes(initial, create_model("mlp", num_classes=10))


def test_histograms_share_bins_that_span_both() -> None:
    start = torch.tensor([0.0, 0.1, 0.2, 0.3])
    end = torch.tensor([-1.0, 0.5, 2.0])
    counts_start, counts_end, edges = weights.histogram_pair(start, end, bins=6)
    assert edges[0] == -1.0 and edges[-1] == 2.0 and len(edges) == 7
    assert counts_start.sum() == 4 and counts_end.sum() == 3
    assert counts_start.tolist() == [0, 0, 4, 0, 0, 0]  # 0 to 0.3 all in [0, 0.5)
    assert len(weights.histogram_pair(torch.zeros(144), torch.ones(144))[2]) == 12 + 1
    assert len(weights.histogram_pair(torch.zeros(9), torch.ones(9))[2]) == 10 + 1

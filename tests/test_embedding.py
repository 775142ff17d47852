"""Penultimate representations and how well they separate classes, against hand-worked values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cnnlab.analysis import embedding
from cnnlab.models import create_model


def test_the_penultimate_representation_is_the_last_linear_layers_input() -> None:
    torch.manual_seed(0)
    model = create_model("digitcnn", num_classes=10)  # in train mode: dropout must be off
    images = torch.randn(7, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    features = embedding.penultimate(model, images, batch_size=3)
    with torch.no_grad():
        flat = model.features(images).flatten(1)
        expected = torch.relu(model.classifier[1](flat))
    assert features.shape == (7, 128)
    assert np.allclose(features, expected.numpy(), rtol=0, atol=1e-6)
    assert embedding.last_linear(model)[0] == "classifier.4"
    assert embedding.penultimate(create_model("logreg", num_classes=10), images).shape == (7, 784)


def test_separation_scores_match_a_hand_worked_example() -> None:
    """Two clusters on a line, {0, 1} and {10, 11}. Silhouette of 0: a = 1, b = 10.5, so
    1 - 1/10.5; of 1: a = 1, b = 9.5, so 1 - 1/9.5; the others mirror them."""
    features = np.array([[0.0], [1.0], [10.0], [11.0]])
    labels = np.array([0, 0, 1, 1])
    scores = embedding.separation(np.array([[0.5], [10.5]]), np.array([0, 1]), features, labels,
                                  neighbours=1)
    assert scores.knn_accuracy == 1.0
    assert scores.silhouette == pytest.approx(((1 - 1 / 10.5) + (1 - 1 / 9.5)) / 2, abs=1e-12)
    swapped = embedding.separation(np.array([[0.5], [10.5]]), np.array([1, 0]), features, labels,
                                   neighbours=1)
    assert swapped.knn_accuracy == 0.0


def test_projections_are_seeded_and_perplexity_fits_small_samples() -> None:
    features = np.random.default_rng(0).normal(size=(40, 5))
    pca, tsne, explained = embedding.project(features, seed=3)
    again = embedding.project(features, seed=3)
    assert pca.shape == tsne.shape == (40, 2)
    assert np.array_equal(tsne, again[1]) and np.allclose(pca, again[0])
    assert 0 < explained[1] <= explained[0] and sum(explained) <= 1
    assert embedding.perplexity(2000) == 30.0 and embedding.perplexity(40) == 13.0

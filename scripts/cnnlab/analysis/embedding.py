"""The representation a classifier's last layer reads: the penultimate activations, projected
to two dimensions (PCA, t-SNE) and scored by how well they separate the classes (the accuracy
of a k-nearest-neighbour classifier in that space, and the silhouette score)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.fx as fx
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score
from sklearn.neighbors import KNeighborsClassifier
from torch import nn


def last_linear(model: nn.Module) -> tuple[str, nn.Linear]:
    """The ``nn.Linear`` the model calls last (read from its ``torch.fx`` graph, not from the
    order the modules are declared in): the classifier whose input is the penultimate
    representation."""
    modules = dict(model.named_modules())
    called = [str(node.target) for node in fx.symbolic_trace(model).graph.nodes
              if node.op == "call_module" and isinstance(modules[str(node.target)], nn.Linear)]
    if not called:
        raise ValueError(f"{type(model).__name__} has no linear classifier")
    return called[-1], modules[called[-1]]


@torch.no_grad()
def penultimate(model: nn.Module, images: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    """The input of the model's last linear layer for each image (N, features), in eval mode
    (so dropout before it is off)."""
    model.eval()
    _, classifier = last_linear(model)
    captured: list[torch.Tensor] = []
    hook = classifier.register_forward_pre_hook(
        lambda module, inputs: captured.append(inputs[0].detach().float().flatten(1).cpu()))
    try:
        for start in range(0, len(images), batch_size):
            model(images[start:start + batch_size])
    finally:
        hook.remove()
    return torch.cat(captured).numpy()


@dataclass(frozen=True)
class Separation:
    """How well the classes separate in a representation."""

    knn_accuracy: float  # of k-NN fitted on training images' features, scored on test images
    silhouette: float  # of the test images' features, by their true class (Euclidean)


def separation(train_features: np.ndarray, train_labels: np.ndarray, features: np.ndarray,
               labels: np.ndarray, neighbours: int) -> Separation:
    """k-nearest-neighbour accuracy (Euclidean) and silhouette score of ``features``."""
    knn = KNeighborsClassifier(n_neighbors=neighbours).fit(train_features, train_labels)
    accuracy = float((knn.predict(features) == labels).mean())
    return Separation(accuracy, float(silhouette_score(features, labels)))


PERPLEXITY = 30.0


def perplexity(count: int) -> float:
    """t-SNE's perplexity: the usual 30, or less for a sample too small for it (it must stay
    below the number of points; a third of them keeps every neighbourhood meaningful)."""
    return min(PERPLEXITY, (count - 1) / 3)


def project(features: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Two-dimensional PCA and t-SNE (PCA initialisation, seeded) of the features, and the
    share of variance each principal component explains."""
    pca = PCA(n_components=2, random_state=seed).fit(features)
    tsne = TSNE(n_components=2, perplexity=perplexity(len(features)), init="pca",
                learning_rate="auto", random_state=seed).fit_transform(features)
    return pca.transform(features), tsne, [float(v) for v in pca.explained_variance_ratio_]

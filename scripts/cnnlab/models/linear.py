"""Fully connected baselines: logistic regression and the 784-512-256-10 MLP.

The MLP is the one cnn-theory-and-mnist.txt compares its CNN with.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.models.registry import register_model

MNIST_PIXELS = 28 * 28


class LogisticRegression(nn.Module):
    """A single linear map from pixels to class scores (softmax lives in the loss)."""

    def __init__(self, in_features: int = MNIST_PIXELS, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Flatten()
        self.classifier = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class MLP(nn.Module):
    """Pixels -> hidden layers with ReLU and dropout -> class scores."""

    def __init__(
        self,
        in_features: int = MNIST_PIXELS,
        hidden: tuple[int, ...] = (512, 256),
        num_classes: int = 10,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.features = nn.Flatten()
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.classifier = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_model
def logreg(num_classes: int = 10) -> nn.Module:
    return LogisticRegression(MNIST_PIXELS, num_classes)


@register_model
def mlp(num_classes: int = 10) -> nn.Module:
    return MLP(MNIST_PIXELS, (512, 256), num_classes, dropout=0.5)

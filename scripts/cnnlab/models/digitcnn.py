"""DigitCNN from building-a-cnn-from-scratch.txt, and its global-average-pooling variant."""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.models.registry import register_model


def digit_trunk() -> nn.Sequential:
    """conv3x3(1->16)-ReLU-pool2, conv3x3(16->32)-ReLU-pool2: 1x28x28 -> 32x7x7."""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),
    )


class DigitCNN(nn.Module):
    """The article's network: trunk, flatten, FC 1568->128, ReLU, dropout 0.25, FC 128->10."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = digit_trunk()
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 128),
            nn.ReLU(),
            nn.Dropout(0.25),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class DigitCNNGAP(nn.Module):
    """The same trunk, with global average pooling replacing flatten + FC1 (Lin et al. 2013)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = digit_trunk()
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(32, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_model
def digitcnn(num_classes: int = 10) -> nn.Module:
    return DigitCNN(num_classes)


@register_model
def digitcnn_gap(num_classes: int = 10) -> nn.Module:
    return DigitCNNGAP(num_classes)

"""SimpleCNN with batch normalisation for MNIST, from cnn-theory-and-mnist.txt."""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.models.registry import register_model


def conv_bn_relu_pool(in_channels: int, out_channels: int) -> list[nn.Module]:
    """One Conv3x3-BN-ReLU-MaxPool2 block, as a list so callers can flatten blocks together."""
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.MaxPool2d(2),
    ]


class SimpleCNNBN(nn.Module):
    """[Conv-BN-ReLU-Pool] x2 (32, 64 channels) -> FC 3136->128 -> dropout 0.5 -> FC 128->10."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(*conv_bn_relu_pool(1, 32), *conv_bn_relu_pool(32, 64))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_model
def simplecnn_bn(num_classes: int = 10) -> nn.Module:
    return SimpleCNNBN(num_classes)

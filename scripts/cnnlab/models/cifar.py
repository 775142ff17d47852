"""The CIFAR-10 networks of cnns-for-image-classification.txt: SimpleCNN and CIFAR10CNN (VGG)."""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.models.registry import register_model
from cnnlab.models.simplecnn import conv_bn_relu_pool


def vgg_block(in_channels: int, out_channels: int) -> list[nn.Module]:
    """Two Conv3x3-BN-ReLU then MaxPool2: the 'double conv' block of the article's CIFAR10CNN."""
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2, 2),
    ]


class CifarSimpleCNN(nn.Module):
    """[Conv-BN-ReLU-Pool] x3 (32, 64, 128 channels) -> FC 2048->256 -> dropout 0.5 -> FC."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn_relu_pool(3, 32), *conv_bn_relu_pool(32, 64), *conv_bn_relu_pool(64, 128)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(128 * 4 * 4, 256),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(256, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class CifarVGG(nn.Module):
    """Three double-conv blocks (64, 128, 256) -> FC 4096->512 -> dropout 0.5 -> FC."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(*vgg_block(3, 64), *vgg_block(64, 128), *vgg_block(128, 256))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(256 * 4 * 4, 512),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_model
def cifar_simplecnn(num_classes: int = 10) -> nn.Module:
    return CifarSimpleCNN(num_classes)


@register_model
def cifar_vgg(num_classes: int = 10) -> nn.Module:
    return CifarVGG(num_classes)

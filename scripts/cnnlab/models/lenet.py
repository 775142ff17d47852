"""LeNet-5 (LeCun et al. 1998) adapted to 28x28 inputs.

The first convolution is padded by 2 so that a 28x28 digit sees the same geometry as the
original 32x32 input; the rest keeps the paper's tanh units and average-pool subsampling.
The paper's trainable subsampling coefficients and partial C3 connections are replaced by plain
average pooling and a full 6->16 convolution, the form in which LeNet-5 is usually quoted
(61,706 parameters).
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.models.registry import register_model


class LeNet5(nn.Module):
    """C1 6@5x5 - S2 - C3 16@5x5 - S4 - F5 120 - F6 84 - output."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2),
            nn.Tanh(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5),
            nn.Tanh(),
            nn.AvgPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            nn.Tanh(),
            nn.Linear(120, 84),
            nn.Tanh(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_model
def lenet5(num_classes: int = 10) -> nn.Module:
    return LeNet5(num_classes)

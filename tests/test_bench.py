"""make bench's floor: the FLOP of a training epoch from textbook counts, and the rate it
divides by."""

from __future__ import annotations

import pytest
import torch
from cnnlab import bench


def test_training_flop_per_epoch_counts_digitcnn_by_hand() -> None:
    # Mult-adds per image: each output value of a layer costs its fan-in.
    forward = (16 * 28 * 28 * (1 * 3 * 3)  # features.0: 16 channels over 28x28, 3x3 on 1 channel
               + 32 * 14 * 14 * (16 * 3 * 3)  # features.3 after the first 2x2 pool
               + 128 * 32 * 7 * 7 + 10 * 128)  # the two linear layers
    assert bench.training_flop_per_epoch("digitcnn", 1000, (1, 28, 28)) == 3 * 2 * forward * 1000


def test_the_floor_divides_by_a_measured_matmul_rate() -> None:
    cpu = torch.device("cpu")
    assert bench.matmul_gflops(cpu, size=64, repeats=5) > 0.01
    floor = bench.floor("logreg", 600, (1, 28, 28), cpu)
    assert floor["tflop_per_epoch"] == pytest.approx(3 * 2 * 784 * 10 * 600 / 1e12)
    assert floor["seconds_per_epoch"] == pytest.approx(
        floor["tflop_per_epoch"] * 1e3 / floor["matmul_gflops"])

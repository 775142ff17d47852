"""make bench's floor: the FLOP of a training epoch from textbook counts, and the rate it
divides by; and its breakdown of where a trainer step goes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from cnnlab import bench, step_profile
from cnnlab.analysis.layers import layer_table
from cnnlab.models import create_model
from test_training import tiny_data


def test_training_flop_per_epoch_counts_digitcnn_by_hand() -> None:
    # Mult-adds per image: each output value of a layer costs its fan-in.
    forward = (16 * 28 * 28 * (1 * 3 * 3)  # features.0: 16 channels over 28x28, 3x3 on 1 channel
               + 32 * 14 * 14 * (16 * 3 * 3)  # features.3 after the first 2x2 pool
               + 128 * 32 * 7 * 7 + 10 * 128)  # the two linear layers
    assert bench.training_flop_per_epoch("digitcnn", 1000, (1, 28, 28)) == 3 * 2 * forward * 1000


def test_the_floor_divides_by_a_measured_matmul_rate() -> None:
    cpu = torch.device("cpu")
    assert bench.matmul_gflops(cpu, size=64, repeats=5, trials=2) > 0.01
    floor = bench.floor("logreg", 600, (1, 28, 28), cpu)
    assert floor["tflop_per_epoch"] == pytest.approx(3 * 2 * 784 * 10 * 600 / 1e12)
    assert floor["seconds_per_epoch"] == pytest.approx(
        floor["tflop_per_epoch"] * 1e3 / floor["matmul_gflops"])


@pytest.mark.parametrize("name, kind", [
    ("aten::mkldnn_convolution", "convolutions"),
    ("aten::convolution_backward", "convolutions"),
    ("aten::mm", "matrix products"),
    ("aten::addmm", "matrix products"),
    ("aten::max_pool2d_with_indices_backward", "pooling"),
    ("aten::avg_pool2d", "pooling"),
    ("aten::clamp_min", "activations"),
    ("aten::threshold_backward", "activations"),
    ("aten::tanh_backward", "activations"),
    ("aten::native_batch_norm_backward", "batch norm"),
    ("aten::_fused_adam_", "optimiser"),
    ("Optimizer.step#Adam.step", "optimiser"),
    ("aten::copy_", "other"),
    ("aten::nll_loss_forward", "other"),
    ("aten::mmap_probe", "other"),  # only the exact names of the matrix products count
])
def test_each_operator_is_filed_under_its_kind(name: str, kind: str) -> None:
    assert step_profile.op_kind(name) == kind


def profiled(key: str, cpu_us: float, device_us: float) -> SimpleNamespace:
    return SimpleNamespace(key=key, self_cpu_time_total=cpu_us, self_device_time_total=device_us)


# As torch.profiler averages an eager GPU step: operators with the device time of the kernels
# they launched, the kernels' own rows, and the optimiser's annotation spanning its kernel again.
GPU_STEP_EVENTS = [
    profiled("aten::cudnn_convolution", 40.0, 12.0),
    profiled("aten::convolution_backward", 80.0, 100.0),
    profiled("sm90_xmma_wgrad_implicit_gemm_bf16", 0.0, 70.0),
    profiled("aten::_fused_adam_", 30.0, 42.0),
    profiled("Optimizer.step#Adam.step", 20.0, 89.0),
    profiled("aten::max_pool2d_with_indices", 25.0, 8.0),
    profiled("cudaLaunchKernel", 300.0, 0.0),
]


def test_a_gpu_step_counts_each_kernel_once_under_the_operator_that_launched_it() -> None:
    gpu = step_profile.milliseconds_by_kind(GPU_STEP_EVENTS, "cuda", steps=2)
    assert gpu["convolutions"] == pytest.approx((12 + 100) / 1e3 / 2)
    assert gpu["optimiser"] == pytest.approx(42 / 1e3 / 2)  # the annotation's 89 us are the same kernel
    assert gpu["pooling"] == pytest.approx(8 / 1e3 / 2)
    assert gpu["other"] == 0  # neither the kernel rows nor the host's launch calls
    # On the CPU every row's own host time counts, the optimiser's Python loop included.
    cpu = step_profile.milliseconds_by_kind(GPU_STEP_EVENTS, "cpu", steps=2)
    assert cpu["convolutions"] == pytest.approx(120 / 1e3 / 2)
    assert cpu["optimiser"] == pytest.approx(50 / 1e3 / 2)
    assert cpu["other"] == pytest.approx(300 / 1e3 / 2)


def test_a_training_step_flop_by_layer_type_counts_digitcnn_by_hand() -> None:
    rows = layer_table(create_model("digitcnn"), (1, 28, 28))
    flop = step_profile.training_flop_by_layer_type(rows, batch_size=64)
    # The first convolution's input is the images: no input gradient, two passes, not three.
    assert flop["Conv2d"] == 64 * 2 * (2 * 16 * 28 * 28 * 9 + 3 * 32 * 14 * 14 * 16 * 9)
    assert flop["Linear"] == 64 * 2 * 3 * (128 * 32 * 7 * 7 + 10 * 128)


def test_the_step_breakdown_profiles_the_trainer_and_files_every_kind() -> None:
    breakdown = step_profile.step_breakdown("digitcnn", tiny_data(), torch.device("cpu"),
                                            steps=4, batch_size=32)
    assert breakdown["steps"] == 4
    assert sum(breakdown["share"].values()) == pytest.approx(1.0)
    for kind in ("convolutions", "matrix products", "pooling", "activations", "optimiser"):
        assert breakdown["milliseconds"][kind] > 0, kind
    assert breakdown["milliseconds"]["batch norm"] == 0  # DigitCNN has none
    assert set(breakdown["gflops"]) == {"convolutions", "matrix products"}
    assert all(rate > 0 for rate in breakdown["gflops"].values())
    assert breakdown["step_milliseconds"] > 0

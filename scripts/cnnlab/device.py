"""How torch meets the hardware: device, threads, bfloat16, determinism, seeding, the upload of
a split to the device, and the runtime facts a run records."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import sys
from typing import Any

import numpy as np
import torch

from cnnlab import hardware
from cnnlab.datasets import Split


def select_device(preference: str = "auto") -> torch.device:
    """CUDA when present (or asked for), else the CPU."""
    if preference == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if preference == "cuda":
        raise RuntimeError("a CUDA device was asked for but torch sees none")
    return torch.device("cpu")


def use_threads(requested: int) -> int:
    """Give torch ``requested`` threads, but never more than the machine has cores; and keep
    freed memory for reuse (:func:`keep_freed_memory`).

    More threads than cores makes PyTorch's OpenMP workers wait on each other: on a 2-core
    machine an epoch ran six times slower with two 2-thread jobs side by side.
    """
    threads = max(1, min(requested, os.cpu_count() or 1))
    torch.set_num_threads(threads)
    keep_freed_memory()
    return threads


# glibc's mallopt parameters (malloc.h) and the values set: the largest mmap threshold glibc
# accepts on 64-bit, and a trim threshold above any step's working set.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES = 32 << 20
TRIM_THRESHOLD_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed buffers of up to 32 MB for the next allocation instead of
    handing them back to the kernel; True where it applied (glibc), False elsewhere.

    A CPU training step allocates and frees the same activation and gradient buffers (a few MB
    each) every step. By default glibc maps the large ones afresh and trims freed memory back,
    so every step paid the kernel's page faults and zero-filling again: DigitCNN at batch 64 on
    one thread took 490,000 minor page faults in 300 steps and 170,000 with this, 12% faster.
    """
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (macOS, Windows)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes in bfloat16 natively (else autocast would emulate it slowly)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return hardware.cpu_has_native_bf16()


def use_bf16(setting: bool | str, device: torch.device) -> bool:
    """Resolve the ``bf16`` setting: ``auto`` means on where the hardware supports it natively."""
    return native_bf16(device) if setting == "auto" else bool(setting)


def autocast(device: torch.device, enabled: bool, cache: bool = True) -> Any:
    """bf16 autocast on ``device`` when enabled (AVX512-BF16/AMX on CPU, tensor cores on GPU);
    ``cache``: keep each weight's bf16 copy for the rest of the block (not inside a CUDA graph)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled,
                          cache_enabled=cache)


def configure_determinism(deterministic: bool, device: torch.device) -> None:
    """Deterministic kernels (repeatable runs) or, when not asked for, cuDNN's autotuner."""
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    # Deterministic mode also fills every new tensor with NaN to expose reads of uninitialised
    # memory: a debugging aid that adds a pass per allocation; the kernels stay deterministic
    # without it.
    torch.utils.deterministic.fill_uninitialized_memory = False
    if device.type == "cuda":
        if deterministic:
            # cuBLAS is repeatable only with a fixed workspace; read when its handle is made,
            # so this must come before the run's first matrix product.
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cudnn.deterministic = deterministic


def seed_everything(seed: int) -> None:
    """Seed torch's global generators (CPU and CUDA) and numpy."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def to_device(split: Split, mean: list[float], std: list[float], device: torch.device,
              memory_format: torch.memory_format = torch.contiguous_format,
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """A uint8 split as normalised float32 images and int64 labels on ``device``, once.

    The layout is set explicitly: with one channel, the strides a tensor inherits from numpy
    can make it count as channels-last or not, and oneDNN then picks different (differently
    fast, differently rounding) convolution kernels for the same data.
    """
    images = torch.from_numpy(split.images)
    if device.type == "cuda":  # one upload from pinned memory, not one per batch
        images = images.pin_memory()
    images = images.to(device, non_blocking=True)
    m = torch.tensor(mean, device=device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=device).view(1, -1, 1, 1)
    x = (images.float().div_(255.0) - m) / s
    laid_out = torch.empty_like(x, memory_format=memory_format).copy_(x)
    return laid_out, torch.from_numpy(split.labels).to(device)


def runtime_info(device: torch.device) -> dict[str, Any]:
    """Versions, hardware and thread count, for provenance."""
    import torchvision

    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": hardware.cpu_name(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info

"""What the machine has, read without importing torch (Snakemake's parse step uses it too)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


def cpu_name() -> str:
    """The CPU model name (Linux), else what :mod:`platform` knows."""
    try:
        for line in CPUINFO.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> set[str]:
    """The CPU's feature flags (empty off Linux)."""
    try:
        return set(CPUINFO.read_text().split())
    except OSError:
        return set()


def cpu_has_native_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX)."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def nvidia_gpu_count() -> int:
    """GPUs the NVIDIA driver shows and ``CUDA_VISIBLE_DEVICES`` leaves visible.

    Read from the driver's /proc entries, so that deciding a job's ``gpu`` resource does not
    import torch; an empty or ``-1`` ``CUDA_VISIBLE_DEVICES`` hides every GPU, as CUDA does.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return 0
    try:
        found = len([p for p in NVIDIA_GPUS.iterdir() if p.is_dir()])
    except OSError:
        found = len(list(Path("/dev").glob("nvidia[0-9]*")))
    if visible is not None:
        found = min(found, len([v for v in visible.split(",") if v.strip()]))
    return found

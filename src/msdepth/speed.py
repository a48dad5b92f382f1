"""Speed settings that change how training runs, never what it computes (beyond rounding).

Each is one config switch (see `msdepth.config.TrainConfig`) and one function here:

- ``train.precision = "auto"``: bf16 autocast where the hardware runs bf16 natively (CPUs with
  AVX512-BF16 or AMX, CUDA GPUs with bf16), fp32 elsewhere (`resolve_precision`);
- ``train.flush_denormal``: subnormal floats become zero (`flushing_denormals`);
- ``train.reuse_memory``: glibc keeps freed memory for the next step instead of handing it back
  to the kernel (`msdepth.allocator.reusing_freed_memory`);
- ``train.fused_sgd``: one fused kernel per SGD step (`msdepth.train.optim.make_optimizer`);
- ``train.channels_last``: NHWC layout, produced by the loader (`msdepth.data.loader`);
- ``train.workers = -1``: loader processes only for cores the compute threads leave idle
  (`resolve_workers`);
- on CUDA, cuDNN's benchmark mode: it times the convolution algorithms once for the fixed input
  size and keeps the fastest (`tune_device`; off under ``train.deterministic``).

The measured effect of each is in BENCHMARKS.md.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import torch

Precision = Literal["fp32", "bf16"]
NATIVE_BF16_CPU_FLAGS = {"avx512_bf16", "amx_bf16"}


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bf16 convolutions and matrix products in hardware."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    # the kernels PyTorch and oneDNN may use can be capped below what the CPU has
    # (ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2): then bf16 would be emulated
    if torch.backends.cpu.get_cpu_capability() != "AVX512":
        return False
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper()
    if isa != "ALL" and "BF16" not in isa and "AMX" not in isa:
        return False
    return bool(NATIVE_BF16_CPU_FLAGS & cpu_flags())


def resolve_precision(precision: str, device: torch.device | str) -> Precision:
    """``"auto"`` -> ``"bf16"`` where `native_bf16`, else ``"fp32"``; others pass through."""
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be auto, fp32 or bf16, got {precision!r}")
    return precision  # type: ignore[return-value]


def resolve_workers(workers: int, device: torch.device | str) -> int:
    """Loader processes for ``workers = -1`` (auto); other values pass through.

    On CPU the compute threads already use every core they are given; a loader process only
    pays where cores are left over, else it preempts a compute thread and the whole step waits
    for it (on 2 cores, augmenting between steps in the main process is faster). On CUDA the
    CPU is free for loading: up to 4 processes.
    """
    if workers >= 0:
        return workers
    cores = os.cpu_count() or 1
    if torch.device(device).type == "cuda":
        return max(1, min(4, cores - 1))
    return max(0, min(4, cores - torch.get_num_threads()))


def tune_device(device: torch.device | str, deterministic: bool = False) -> None:
    """Per-device settings that only make training faster: cuDNN benchmark mode on CUDA (every
    training input has one size, so the first step's search pays for the whole run)."""
    if torch.device(device).type == "cuda":
        torch.backends.cudnn.benchmark = not deterministic


@contextmanager
def flushing_denormals(enabled: bool = True) -> Iterator[None]:
    """Subnormal floats flushed to zero (x86 FTZ/DAZ) for the duration of a block.

    AdamW's first moment decays by beta1 = 0.9 on every step a weight gets no gradient (a dead
    ReLU unit, a dropped fc input): after ~650 steps it is below 1.2e-38, where each operation on
    it takes a microcode assist. In the quick recipe's coarse stage 17% of the optimiser's state
    was subnormal by step 800, and training fell from 22-25 to 10 images/s there (BENCHMARKS.md);
    values that small change no weight. A no-op where the CPU has no such mode.
    """
    if not enabled or not torch.set_flush_denormal(True):
        yield
        return
    try:
        yield
    finally:
        torch.set_flush_denormal(False)

"""Which device a command runs on: ``auto`` finds the GPU by itself.

``auto`` (the default of every command that runs the network) is CUDA where PyTorch sees a GPU
(under ``torchrun`` the GPU of ``LOCAL_RANK``), else the CPU. An explicit ``cpu``, ``cuda`` or
``cuda:N`` is checked here so that a missing GPU is one clear line, not a CUDA traceback.
"""

from __future__ import annotations

import os

import torch

from msdepth.errors import ConfigError

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """``auto`` -> ``cuda:LOCAL_RANK`` when CUDA is available, else ``cpu``; others checked."""
    if name is None or str(name) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise ConfigError(f"device {name!r} is not a device name; use {DEVICE_CHOICES}") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {str(name)!r} is not available: this PyTorch sees no CUDA GPU; "
                "use --device cpu (or auto)"
            )
        if device.index is None:
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        if device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s)"
            )
        return device
    if device.type == "mps" and torch.backends.mps.is_available():
        return device
    raise ConfigError(f"device {name!r} is not available on this machine; use {DEVICE_CHOICES}")


def describe_device(device: torch.device) -> str:
    """``cpu (AVX512, 2 threads)`` or ``cuda:0 (NVIDIA H200)``: what a command prints."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        capability = torch.backends.cpu.get_cpu_capability()
        return f"cpu ({capability}, {torch.get_num_threads()} threads)"
    return str(device)

"""One process or many: torchrun detection, process group, and the few collectives we need.

Under ``torchrun`` (``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` set) each process trains on its
shard of the data in a `DistributedDataParallel` model; gloo on CPU, nccl on CUDA. Rank 0 alone
writes logs, panels and checkpoints; the others wait for it at barriers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from msdepth.devices import resolve_device


@dataclass
class Distributed:
    """Where this process stands: rank, world size and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    started_group: bool = False  # this object initialised the process group (and ends it)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_mean(self, values: torch.Tensor) -> torch.Tensor:
        """Mean of a float tensor over the ranks (the tensor itself when alone)."""
        if not self.enabled:
            return values
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values / self.world_size

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on at least one."""
        if not self.enabled:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def gather_cpu(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's copy of a CPU tensor of the same shape on every rank (rank order)."""
        if not self.enabled:
            return [tensor]
        parts: list = [None] * self.world_size
        dist.all_gather_object(parts, tensor.cpu())
        return parts

    def close(self) -> None:
        if self.started_group and dist.is_initialized():
            dist.destroy_process_group()
            self.started_group = False


def setup_distributed(device: str) -> Distributed:
    """Read torchrun's environment; start the process group when there are several processes.

    ``device`` is ``auto`` (CUDA where PyTorch sees it, else CPU), ``cpu`` or ``cuda``; with
    CUDA each process takes GPU ``LOCAL_RANK``. A CUDA request on a machine without CUDA is a
    `ConfigError` (`msdepth.devices.resolve_device`).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device)
    cuda = dev.type == "cuda"
    if cuda:
        torch.cuda.set_device(dev)
    ctx = Distributed(rank, world_size, local_rank, dev)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if cuda else "gloo"
        kwargs = {"device_id": dev} if cuda else {}
        dist.init_process_group(backend=backend, **kwargs)
        ctx.started_group = True
    return ctx

"""The in-memory loader: a prepared split held in memory, batches augmented on the training device.

What feeds a GPU. The worker loader (`msdepth.data.loader`) reads memory-mapped arrays and warps
every batch on the CPU, about 500 samples per CPU-second (BENCHMARKS.md): a few thousand images/s
on a whole machine, far below what one GPU trains. Here the split's uint8 frames and float16
depth are read once into memory (`InMemoryFrames`: on the GPU itself when they fit in part of its
free memory, else in host memory), and each step

1. takes the sample indices and batch key of the worker loader's `StepBatchSampler`: step k of
   the same endless stream, so resume and per-rank shards are unchanged;
2. draws the batch's augmentation from the same key-seeded CPU generator and builds its affine
   matrices on the CPU (`augment.draw_params`, `augment.affine_theta`: ten numbers per sample,
   sent to the device in one pinned, non-blocking copy);
3. gathers the batch's frames (on the device when the split lives there; otherwise in host
   memory, into pinned buffers that a background thread fills ahead), multiplies each sample's
   depth by its ``depth_factors`` entry when given (the canonical camera,
   `msdepth.train.targets.focal_factors`, as the worker loader does) and warps them with
   `augment.warp` on the training device.

On the CPU a batch is exactly the worker loader's (the same inputs through the same operations;
tested); on CUDA it differs by interpolation rounding. Nothing is read back from the device, so
the training loop never waits for it here.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from msdepth.config import AugmentConfig
from msdepth.data.augment import Batch, affine_theta, draw_params, warp
from msdepth.data.loader import StepBatchSampler, batch_generator, make_train_loader
from msdepth.data.prepared import PreparedDataset
from msdepth.errors import DataError

LoaderKind = Literal["workers", "memory"]
Store = Literal["auto", "device", "host"]
# Shares of free memory the split may take: the rest is for the network, its activations and
# (on the host) the other processes of a torchrun node, each with its own copy.
DEVICE_SHARE = 0.5
HOST_SHARE = 0.5
LOAD_CHUNK_ROWS = 256  # frames per copy while loading: memory stays flat for any split size
PREFETCH_BATCHES = 2  # host-gathered batches the background thread keeps ready


def split_nbytes(dataset: PreparedDataset) -> int:
    """Bytes the split's frames and depth take in memory (as stored: uint8 and float16/32)."""
    return int(dataset.rgb.nbytes + dataset.depth.nbytes)


def host_memory_available() -> int:
    """``MemAvailable`` of /proc/meminfo in bytes (free pages elsewhere)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # pragma: no cover - not POSIX
        return 0


def local_processes() -> int:
    """Training processes on this machine (torchrun's ``LOCAL_WORLD_SIZE``; 1 alone)."""
    return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


def choose_store(
    dataset: PreparedDataset, device: torch.device, store: Store = "auto"
) -> torch.device | None:
    """Where the split's frames live: the CUDA device when they fit in `DEVICE_SHARE` of its
    free memory, else host memory when every local process's copy fits in `HOST_SHARE` of
    what is available; None when neither (``store`` forces one of the two)."""
    need = split_nbytes(dataset)
    if device.type == "cuda" and store in ("auto", "device"):
        free, _ = torch.cuda.mem_get_info(device)
        if store == "device" or need <= DEVICE_SHARE * free:
            return device
    if store == "device":
        raise DataError(f"frames can be stored on the training device only on CUDA, not {device}")
    if store == "host" or need * local_processes() <= HOST_SHARE * host_memory_available():
        return torch.device("cpu")
    return None


def resolve_loader(
    kind: str, dataset: PreparedDataset, device: torch.device
) -> tuple[LoaderKind, torch.device | None]:
    """``train.loader`` -> ("workers" | "memory", where the frames live for "memory").

    ``auto`` is the in-memory loader on CUDA when the split fits in memory, and the worker
    loader on the CPU (where both augment on the same cores; BENCHMARKS.md measures them).
    """
    if kind == "workers":
        return "workers", None
    if kind not in ("auto", "memory"):
        raise DataError(f"train.loader must be auto, workers or memory, got {kind!r}")
    if kind == "auto" and device.type != "cuda":
        return "workers", None
    where = choose_store(dataset, device)
    if where is not None:
        return "memory", where
    if kind == "auto":
        return "workers", None
    gib = split_nbytes(dataset) / 2**30
    raise DataError(
        f"{dataset.folder}: {gib:.1f} GiB of frames do not fit in memory "
        f"({host_memory_available() / 2**30:.1f} GiB available, {local_processes()} process(es) "
        "here); use --set train.loader=workers"
    )


@dataclass
class InMemoryFrames:
    """One split's frames and depth, whole, on one device."""

    rgb: torch.Tensor  # (N, H, W, 3) uint8
    depth: torch.Tensor  # (N, H, W) float16 or float32 metres, 0 = invalid

    @classmethod
    def load(cls, dataset: PreparedDataset, device: torch.device | str) -> InMemoryFrames:
        """Copy ``dataset``'s arrays to ``device`` in chunks (no second whole copy on the way)."""
        device = torch.device(device)
        src_rgb, src_depth = dataset.rgb, dataset.depth
        depth_dtype = torch.float16 if src_depth.dtype == np.float16 else torch.float32
        rgb = torch.empty(src_rgb.shape, dtype=torch.uint8, device=device)
        depth = torch.empty(src_depth.shape, dtype=depth_dtype, device=device)
        for start in range(0, len(dataset), LOAD_CHUNK_ROWS):
            stop = min(start + LOAD_CHUNK_ROWS, len(dataset))
            rgb[start:stop].copy_(torch.from_numpy(np.array(src_rgb[start:stop])))
            depth[start:stop].copy_(
                torch.from_numpy(np.array(src_depth[start:stop], dtype=src_depth.dtype))
            )
        return cls(rgb, depth)

    def __len__(self) -> int:
        return len(self.rgb)

    @property
    def device(self) -> torch.device:
        return self.rgb.device

    @property
    def nbytes(self) -> int:
        return self.rgb.nbytes + self.depth.nbytes


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device`` without waiting: through pinned memory to a CUDA device."""
    if tensor.device == device:
        return tensor
    if device.type == "cuda" and tensor.device.type == "cpu" and not tensor.is_pinned():
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


def _gather_into_pinned(source: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows ``index`` of a host tensor, written straight into pinned memory."""
    out = torch.empty((len(index), *source.shape[1:]), dtype=source.dtype, pin_memory=True)
    return torch.index_select(source, 0, index, out=out)


class _End:
    pass


@dataclass
class _Failed:
    error: BaseException


def ahead(source: Iterator, depth: int = PREFETCH_BATCHES) -> Iterator:
    """``source``'s items, produced ``depth`` ahead by a background thread.

    The thread holds no reference to this generator: when the consumer drops or closes it, the
    thread sees the stop flag within 50 ms and ends (and frees what it held).
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not put(item):
                    return
            put(_End())
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failed(exc))

    thread = threading.Thread(target=produce, name="msdepth-in-memory-loader", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if isinstance(item, _End):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()


class InMemoryLoader:
    """The worker loader's training stream (`msdepth.data.loader.make_train_loader`), gathered
    from `InMemoryFrames` and augmented on ``device``; iterating yields `Batch` es there."""

    def __init__(
        self,
        frames: InMemoryFrames,
        batch_size: int,
        augment: AugmentConfig,
        input_hw: tuple[int, int],
        output_hw: tuple[int, int],
        device: torch.device | str,
        seed: int = 0,
        start_step: int = 0,
        num_steps: int | None = None,
        rank: int = 0,
        world_size: int = 1,
        channels_last: bool = False,
        prefetch: bool | None = None,
        depth_factors: np.ndarray | None = None,
    ):
        self.frames = frames
        self.depth_factors = (
            None if depth_factors is None else torch.as_tensor(depth_factors, dtype=torch.float32)
        )
        self.sampler = StepBatchSampler(
            len(frames), batch_size, seed, start_step, num_steps, rank, world_size
        )
        self.augment = augment
        self.input_hw = input_hw
        self.output_hw = output_hw
        self.device = torch.device(device)
        self.channels_last = channels_last
        # A thread gathers ahead when the frames are in host memory and the GPU computes; on
        # a CPU the gather would only take cores from the compute threads.
        host_to_gpu = frames.device.type == "cpu" and self.device.type == "cuda"
        self.prefetch = host_to_gpu if prefetch is None else prefetch

    def __len__(self) -> int:
        return len(self.sampler)

    def _gathered(
        self,
    ) -> Iterator[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        """(batch key, rgb rows, depth rows, the rows' depth factors or None) of each step,
        where the frames live (host rows in pinned memory when bound for a GPU)."""
        frames = self.frames
        pinned = frames.device.type == "cpu" and self.device.type == "cuda"
        for chunk in self.sampler:
            key = chunk[0][0]
            index = torch.tensor([i for _, i in chunk], dtype=torch.long)
            factors = None if self.depth_factors is None else self.depth_factors[index]
            if pinned:
                rgb = _gather_into_pinned(frames.rgb, index)
                yield key, rgb, _gather_into_pinned(frames.depth, index), factors
                continue
            index = to_device(index, frames.device)
            rgb, depth = frames.rgb.index_select(0, index), frames.depth.index_select(0, index)
            yield key, rgb, depth, factors

    def augment_batch(
        self,
        key: int,
        rgb: torch.Tensor,
        depth: torch.Tensor,
        depth_factors: torch.Tensor | None = None,
    ) -> Batch:
        """The paper's augmentation of one gathered batch, drawn from its key, on ``device``;
        each sample's depth times its ``depth_factors`` entry first, when given."""
        n, h, w, _ = rgb.shape
        params = draw_params(n, self.augment, batch_generator(key), train=True)
        theta = affine_theta(params, (w, h), (self.input_hw[1], self.input_hw[0]))
        parts = [theta.reshape(n, 6), params.color, params.scale.unsqueeze(1)]
        packed = torch.cat(parts + ([] if params.tone is None else [params.tone]), dim=1)
        packed = to_device(packed, self.device)  # one small copy for all the parameters
        depth = to_device(depth, self.device)
        if depth_factors is not None:  # in float32, as the worker loader multiplies
            depth = depth.float() * to_device(depth_factors, self.device)[:, None, None]
        batch = warp(
            to_device(rgb, self.device),
            depth,
            packed[:, :6].reshape(n, 2, 3).contiguous(),
            packed[:, 6:9].contiguous(),
            packed[:, 9].contiguous(),
            self.input_hw,
            self.output_hw,
            tone=None if params.tone is None else packed[:, 10:13].contiguous(),
        )
        if self.channels_last:
            batch = batch._replace(image=batch.image.contiguous(memory_format=torch.channels_last))
        return batch

    def __iter__(self) -> Iterator[Batch]:
        source = self._gathered()
        if self.prefetch:
            source = ahead(source)
        try:
            for key, rgb, depth, factors in source:
                yield self.augment_batch(key, rgb, depth, factors)
        finally:
            source.close()  # stops the prefetch thread, also when the consumer stops early


def make_memory_loader(
    dataset: PreparedDataset | InMemoryFrames,
    batch_size: int,
    augment: AugmentConfig,
    input_hw: tuple[int, int],
    output_hw: tuple[int, int],
    device: torch.device | str = "cpu",
    seed: int = 0,
    start_step: int = 0,
    num_steps: int | None = None,
    rank: int = 0,
    world_size: int = 1,
    channels_last: bool = False,
    store: Store | torch.device = "auto",
    depth_factors: np.ndarray | None = None,
) -> InMemoryLoader:
    """`make_train_loader`'s stream from memory, augmented on ``device``.

    ``store`` says where the frames live: ``auto`` (the device when they fit, else the host),
    ``device``, ``host``, or a device; `InMemoryFrames` already loaded are used as they are.
    ``depth_factors``: per-sample depth factors, as `make_train_loader`'s.
    """
    device = torch.device(device)
    if isinstance(dataset, InMemoryFrames):
        frames = dataset
    else:
        where = store if isinstance(store, torch.device) else choose_store(dataset, device, store)
        if where is None:
            gib = split_nbytes(dataset) / 2**30
            raise DataError(
                f"{dataset.folder}: {gib:.1f} GiB of frames do not fit in memory; "
                "use the worker loader (--set train.loader=workers)"
            )
        frames = InMemoryFrames.load(dataset, where)
    return InMemoryLoader(
        frames,
        batch_size,
        augment,
        input_hw,
        output_hw,
        device,
        seed=seed,
        start_step=start_step,
        num_steps=num_steps,
        rank=rank,
        world_size=world_size,
        channels_last=channels_last,
        depth_factors=depth_factors,
    )


def make_training_stream(
    loader: str,
    dataset: PreparedDataset,
    batch_size: int,
    augment: AugmentConfig,
    input_hw: tuple[int, int],
    output_hw: tuple[int, int],
    device: torch.device | str = "cpu",
    seed: int = 0,
    start_step: int = 0,
    num_steps: int | None = None,
    workers: int = 0,
    rank: int = 0,
    world_size: int = 1,
    channels_last: bool = False,
    depth_factors: np.ndarray | None = None,
) -> Iterable[Batch]:
    """The training stream from the loader ``train.loader`` names (`resolve_loader`): the same
    batches either way (the in-memory one hands them over on ``device``), each sample's depth
    times ``depth_factors`` when given (`msdepth.train.targets.focal_factors`)."""
    device = torch.device(device)
    kind, where = resolve_loader(loader, dataset, device)
    shape = (batch_size, augment, input_hw, output_hw)
    stream = dict(
        seed=seed,
        start_step=start_step,
        num_steps=num_steps,
        rank=rank,
        world_size=world_size,
        channels_last=channels_last,
        depth_factors=depth_factors,
    )
    if kind == "memory":
        assert where is not None
        return make_memory_loader(dataset, *shape, device=device, store=where, **stream)
    pin = device.type == "cuda"
    return make_train_loader(dataset, *shape, workers=workers, pin_memory=pin, **stream)

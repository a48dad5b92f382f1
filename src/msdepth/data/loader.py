"""DataLoaders over prepared datasets: deterministic, resumable, DDP-sharded, augmenting in workers.

Training data is an endless stream indexed by step: step k reads batch k % B of epoch k // B,
where each epoch is a `DistributedSampler` permutation (seeded by the run's seed and the epoch)
of this rank's shard. The augmentation of each batch is seeded by (seed, step, rank), so the
stream is the same whatever the number of workers, and resuming at step k continues it exactly.
``depth_factors`` (one per sample, `msdepth.train.targets.focal_factors`) take each sample's depth
to the canonical camera as it is read, so datasets of several cameras train together.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from msdepth.config import AugmentConfig
from msdepth.data.augment import Batch, augment_batch
from msdepth.data.prepared import PreparedDataset
from msdepth.errors import DataError


class _Keyed(Dataset):
    """Wraps a dataset so each index carries the key of its batch: ``(key, i) -> (key, sample)``;
    depth is multiplied by ``depth_factors[i]`` when given (the canonical camera)."""

    def __init__(self, dataset: PreparedDataset, depth_factors: np.ndarray | None = None):
        self.dataset = dataset
        self.depth_factors = depth_factors

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, int]):
        key, index = item
        rgb = self.dataset.rgb[index]
        depth = np.asarray(self.dataset.depth[index], dtype=np.float32)
        if self.depth_factors is not None:
            depth = depth * self.depth_factors[index]
        return key, np.asarray(rgb), depth

    def __getitems__(
        self, items: list[tuple[int, int]]
    ) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """A whole batch in one read per array (sorted indices: sequential on disk)."""
        indices = np.array([i for _, i in items])
        order = np.argsort(indices, kind="stable")
        rgb = np.empty((len(items), *self.dataset.rgb.shape[1:]), np.uint8)
        depth = np.empty((len(items), *self.dataset.depth.shape[1:]), np.float32)
        rgb[order] = self.dataset.rgb[indices[order]]
        depth[order] = self.dataset.depth[indices[order]]
        if self.depth_factors is not None:
            depth *= self.depth_factors[indices][:, None, None]
        return [(key, rgb[j], depth[j]) for j, (key, _) in enumerate(items)]


class StepBatchSampler(Sampler[list[tuple[int, int]]]):
    """Endless batches from ``start_step``; each element is ``(batch_key, sample_index)``."""

    def __init__(
        self,
        dataset_len: int,
        batch_size: int,
        seed: int,
        start_step: int = 0,
        num_steps: int | None = None,
        rank: int = 0,
        world_size: int = 1,
    ):
        shard = dataset_len // world_size
        if shard < batch_size:
            raise DataError(
                f"{dataset_len} samples over {world_size} process(es) is fewer than one batch of "
                f"{batch_size}; lower --batch-size or add data"
            )
        self.batch_size = batch_size
        self.seed = seed
        self.start_step = start_step
        self.num_steps = num_steps
        self.rank = rank
        self.world_size = world_size
        self.dataset_len = dataset_len
        self.batches_per_epoch = shard // batch_size

    def _epoch_indices(self, epoch: int) -> list[int]:
        sampler = DistributedSampler(
            range(self.dataset_len),  # type: ignore[arg-type]
            num_replicas=self.world_size,
            rank=self.rank,
            shuffle=True,
            seed=self.seed,
            drop_last=True,
        )
        sampler.set_epoch(epoch)
        return list(sampler)

    def batch_key(self, step: int) -> int:
        return (self.seed * 1_000_003 + step) * 64 + self.rank

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step
        epoch, indices = -1, []
        while self.num_steps is None or step < self.start_step + self.num_steps:
            e, b = divmod(step, self.batches_per_epoch)
            if e != epoch:
                epoch, indices = e, self._epoch_indices(e)
            key = self.batch_key(step)
            chunk = indices[b * self.batch_size : (b + 1) * self.batch_size]
            yield [(key, i) for i in chunk]
            step += 1

    def __len__(self) -> int:
        if self.num_steps is None:
            raise TypeError("an endless sampler has no length")
        return self.num_steps


def batch_generator(key: int) -> torch.Generator:
    """The CPU generator that draws a batch's augmentation: seeded by its key alone, so the
    stream is the same whatever process or device augments it."""
    return torch.Generator().manual_seed(int(key) & 0x7FFF_FFFF_FFFF_FFFF)


class AugmentCollate:
    """Stacks samples and augments the whole batch (runs inside the worker processes)."""

    def __init__(
        self,
        cfg: AugmentConfig,
        input_hw: tuple[int, int],
        output_hw: tuple[int, int],
        train: bool,
        channels_last: bool = False,
    ):
        self.cfg = cfg
        self.input_hw = input_hw
        self.output_hw = output_hw
        self.train = train
        self.channels_last = channels_last  # the NHWC copy happens here, not in the train step

    def __call__(self, items: Sequence[tuple[int, np.ndarray, np.ndarray]]) -> Batch:
        key = items[0][0]
        rgb = torch.from_numpy(np.stack([it[1] for it in items]))
        depth = torch.from_numpy(np.stack([it[2] for it in items]))
        gen = batch_generator(key)
        batch = augment_batch(rgb, depth, self.cfg, self.input_hw, self.output_hw, gen, self.train)
        if self.channels_last:
            batch = batch._replace(image=batch.image.contiguous(memory_format=torch.channels_last))
        return batch


def make_train_loader(
    dataset: PreparedDataset,
    batch_size: int,
    augment: AugmentConfig,
    input_hw: tuple[int, int],
    output_hw: tuple[int, int],
    seed: int = 0,
    start_step: int = 0,
    num_steps: int | None = None,
    workers: int = 2,
    rank: int = 0,
    world_size: int = 1,
    pin_memory: bool = False,
    channels_last: bool = False,
    depth_factors: np.ndarray | None = None,
) -> DataLoader:
    """Endless (or ``num_steps``-long) augmented batches starting at ``start_step``; images in
    NHWC memory layout with ``channels_last``; depth times ``depth_factors`` per sample."""
    sampler = StepBatchSampler(
        len(dataset), batch_size, seed, start_step, num_steps, rank, world_size
    )
    return DataLoader(
        _Keyed(dataset, depth_factors),
        batch_sampler=sampler,
        collate_fn=AugmentCollate(augment, input_hw, output_hw, True, channels_last),
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=False,
        prefetch_factor=4 if workers > 0 else None,
    )


class _OrderedBatches(Sampler[list[tuple[int, int]]]):
    def __init__(self, indices: Sequence[int], batch_size: int):
        self.indices = list(indices)
        self.batch_size = batch_size

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for start in range(0, len(self.indices), self.batch_size):
            yield [(0, i) for i in self.indices[start : start + self.batch_size]]

    def __len__(self) -> int:
        return (len(self.indices) + self.batch_size - 1) // self.batch_size


def make_eval_loader(
    dataset: PreparedDataset,
    batch_size: int,
    input_hw: tuple[int, int],
    output_hw: tuple[int, int],
    workers: int = 0,
    rank: int = 0,
    world_size: int = 1,
    depth_factors: np.ndarray | None = None,
    count: int | None = None,
) -> DataLoader:
    """In-order centre-cropped batches (this rank's share of them, of the first ``count``
    samples when given), no augmentation."""
    end = len(dataset) if not count else min(count, len(dataset))
    indices = range(rank, end, world_size)
    return DataLoader(
        _Keyed(dataset, depth_factors),
        batch_sampler=_OrderedBatches(indices, batch_size),
        collate_fn=AugmentCollate(AugmentConfig(enabled=False), input_hw, output_hw, train=False),
        num_workers=workers,
    )

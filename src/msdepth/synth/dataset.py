"""`synthesize_dataset`: render train and test frames into a prepared dataset, in parallel.

Frames are rendered in chunks by a process pool and written in index order, so the result is
the same bit for bit for any ``workers``; each frame depends only on (seed, split, index).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from msdepth.data.prepared import DatasetWriter, store_sample
from msdepth.errors import ConfigError
from msdepth.synth.render import render_sample
from msdepth.synth.scene import nyu_intrinsics

CHUNK = 16  # frames per task: amortises inter-process transfer without hurting the progress bar
MIN_SIZE = (32, 24)


def _render_chunk(
    seed: int, split: str, start: int, stop: int, size: tuple[int, int], sensor: bool
) -> list[tuple[np.ndarray, np.ndarray]]:
    return [render_sample(seed, split, i, size, sensor) for i in range(start, stop)]


def _render_chunk_into(
    seed: int,
    split: str,
    start: int,
    stop: int,
    size: tuple[int, int],
    sensor: bool,
    files: tuple[Path, Path],
) -> list[tuple[int, float, float]]:
    """Render frames start..stop-1 straight into the split's memory-mapped arrays (rows =
    frame indices); return each frame's depth statistics for `SplitWriter.count_written`.
    Half a megabyte per frame then never goes through a pipe, nor gets copied by the parent.
    The maps share the page cache with the parent's, which flushes the files when it closes
    them (no flush here: a synchronous write-back per chunk)."""
    rgb_rows, depth_rows = (np.load(f, mmap_mode="r+") for f in files)
    return [
        store_sample(rgb_rows, depth_rows, i, *render_sample(seed, split, i, size, sensor))
        for i in range(start, stop)
    ]


def _in_order(pool: ProcessPoolExecutor, fn, tasks: list[tuple], workers: int) -> Iterator:
    """Results of ``fn(*task)`` in task order, with a bounded window of tasks in flight."""
    pending: deque = deque()
    todo = iter(tasks)
    for args in todo:
        pending.append(pool.submit(fn, *args))
        if len(pending) >= 2 * workers:
            break
    while pending:
        result = pending.popleft().result()
        for args in todo:
            pending.append(pool.submit(fn, *args))
            break
        yield result


def render_frames(
    seed: int,
    split: str,
    count: int,
    size: tuple[int, int] = (320, 240),
    *,
    workers: int = 1,
    sensor: bool = True,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Frames 0..count-1 of ``split`` as (rgb, depth), in order, rendered by ``workers``."""
    chunks = [(seed, split, s, min(s + CHUNK, count), size, sensor) for s in range(0, count, CHUNK)]
    if workers <= 1 or len(chunks) <= 1:
        for args in chunks:
            yield from _render_chunk(*args)
        return
    workers = min(workers, len(chunks))
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
        # A bounded window of chunks in flight keeps memory flat for any dataset size.
        for frames in _in_order(pool, _render_chunk, chunks, workers):
            yield from frames


def _pool_context() -> multiprocessing.context.BaseContext:
    """fork on Linux: workers start at once and need not re-import ``__main__`` (which, for
    ``python -m msdepth``, would run the command again); the platform default elsewhere."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def default_workers() -> int:
    """All cores this process may use (the renderer is single-threaded NumPy per worker)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def synthesize_dataset(
    out: str | Path,
    train: int,
    test: int,
    seed: int = 0,
    size: tuple[int, int] = (320, 240),
    *,
    overwrite: bool = False,
    workers: int | None = None,
    sensor: bool = True,
    progress: bool = True,
    val: int = 0,
) -> Path:
    """Write ``train`` + ``val`` + ``test`` synthetic rooms to a prepared dataset at ``out``.

    ``size`` is (W, H); intrinsics in ``meta.json`` are the NYU Kinect's scaled to it.
    ``sensor=False`` stores exact depth (range limits only) instead of Kinect-like depth.
    """
    if min(train, test, val) < 0:
        raise ConfigError(f"image counts must be >= 0, got train={train} val={val} test={test}")
    if train + test + val == 0:
        raise ConfigError("nothing to render: give --train and/or --test a positive count")
    w, h = size
    if w < MIN_SIZE[0] or h < MIN_SIZE[1]:
        raise ConfigError(f"image size {w}x{h} is too small; use at least 32x24 (default 320x240)")
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    from tqdm import tqdm

    source = {
        "kind": "synthetic",
        "generator": "msdepth.synth",
        "seed": int(seed),
        "depth": "kinect-like (noise, missing)" if sensor else "exact",
    }
    bar = tqdm(total=train + val + test, unit="img", desc="synth", disable=not progress)
    with DatasetWriter(
        out, image_size=(w, h), source=source, intrinsics=nyu_intrinsics(size), overwrite=overwrite
    ) as writer:
        for split, count in (("train", train), ("val", val), ("test", test)):
            if count == 0:
                continue
            sw = writer.split(split, count)
            chunks = [
                (seed, split, s, min(s + CHUNK, count), size, sensor)
                for s in range(0, count, CHUNK)
            ]
            n = min(workers, len(chunks))
            if n <= 1:
                frames = render_frames(seed, split, count, size, workers=1, sensor=sensor)
                for i, (rgb, depth) in enumerate(frames):
                    sw.append(rgb, depth, f"synth-s{seed}-{split}-{i:06d}")
                    bar.update(1)
                continue
            # Workers write their frames into the split's files themselves; the parent only
            # counts them, in order (see `_render_chunk_into`).
            tasks = [(*c, sw.files) for c in chunks]
            with ProcessPoolExecutor(max_workers=n, mp_context=_pool_context()) as pool:
                for (_, _, start, _, _, _), stats in zip(
                    chunks, _in_order(pool, _render_chunk_into, tasks, n), strict=True
                ):
                    for i, st in enumerate(stats, start):
                        sw.count_written(f"synth-s{seed}-{split}-{i:06d}", *st)
                        bar.update(1)
    bar.close()
    return Path(out)

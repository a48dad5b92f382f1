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
from msdepth.synth.render import FovSpec, frame_fov, render_sample
from msdepth.synth.scene import fov_intrinsics, nyu_intrinsics

CHUNK = 16  # frames per task: amortises inter-process transfer without hurting the progress bar
MIN_SIZE = (32, 24)


def _render_chunk(
    seed: int,
    split: str,
    start: int,
    stop: int,
    size: tuple[int, int],
    sensor: bool,
    fov: FovSpec = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    return [render_sample(seed, split, i, size, sensor, fov) for i in range(start, stop)]


def _render_chunk_into(
    seed: int,
    split: str,
    start: int,
    stop: int,
    size: tuple[int, int],
    sensor: bool,
    fov: FovSpec,
    files: tuple[Path, Path],
) -> list[tuple[int, float, float]]:
    """Render frames start..stop-1 straight into the split's memory-mapped arrays (rows =
    frame indices); return each frame's depth statistics for `SplitWriter.count_written`.
    Half a megabyte per frame then never goes through a pipe, nor gets copied by the parent.
    The maps share the page cache with the parent's, which flushes the files when it closes
    them (no flush here: a synchronous write-back per chunk)."""
    rgb_rows, depth_rows = (np.load(f, mmap_mode="r+") for f in files)
    return [
        store_sample(rgb_rows, depth_rows, i, *render_sample(seed, split, i, size, sensor, fov))
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
    fov: FovSpec = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Frames 0..count-1 of ``split`` as (rgb, depth), in order, rendered by ``workers``."""
    chunks = [
        (seed, split, s, min(s + CHUNK, count), size, sensor, fov) for s in range(0, count, CHUNK)
    ]
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


def check_fov(fov: FovSpec) -> FovSpec:
    """``fov`` if it is a field of view (or range of them) strictly between 0 and 180 degrees
    with lo <= hi, else a one-line `ConfigError`."""
    if fov is None:
        return None
    values = list(fov) if isinstance(fov, (tuple, list)) else [fov]
    if len(values) not in (1, 2) or not all(
        isinstance(v, (int, float)) and 0 < v < 180 for v in values
    ):
        raise ConfigError(
            f"--fov {fov!r}: a horizontal field of view is degrees strictly between 0 and 180, "
            "e.g. --fov 63 or --fov 45:80"
        )
    if len(values) == 2:
        lo, hi = float(values[0]), float(values[1])
        if lo > hi:
            raise ConfigError(f"--fov {lo:g}:{hi:g}: write the smaller angle first ({hi:g}:{lo:g})")
        return (lo, hi)
    return float(values[0])


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
    fov: FovSpec = None,
) -> Path:
    """Write ``train`` + ``val`` + ``test`` synthetic rooms to a prepared dataset at ``out``.

    ``size`` is (W, H); intrinsics in ``meta.json`` are the NYU Kinect's scaled to it, or with
    ``fov`` (horizontal degrees) those of that field of view; ``fov=(lo, hi)`` draws one per
    frame (uniform) and stores each frame's intrinsics (``<split>/intrinsics.npy``).
    ``sensor=False`` stores exact depth (range limits only) instead of Kinect-like depth.
    """
    if min(train, test, val) < 0:
        raise ConfigError(f"image counts must be >= 0, got train={train} val={val} test={test}")
    if train + test + val == 0:
        raise ConfigError("nothing to render: give --train and/or --test a positive count")
    w, h = size
    if w < MIN_SIZE[0] or h < MIN_SIZE[1]:
        raise ConfigError(f"image size {w}x{h} is too small; use at least 32x24 (default 320x240)")
    fov = check_fov(fov)
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    from tqdm import tqdm

    source = {
        "kind": "synthetic",
        "generator": "msdepth.synth",
        "seed": int(seed),
        "depth": "kinect-like (noise, missing)" if sensor else "exact",
        "fov_deg": list(fov) if isinstance(fov, tuple) else fov,  # None: NYU's Kinect
    }
    per_frame = isinstance(fov, tuple)
    camera = (
        None if per_frame else nyu_intrinsics(size) if fov is None else fov_intrinsics(size, fov)
    )

    def intrinsics_of(split: str, i: int) -> dict[str, float] | None:
        return fov_intrinsics(size, frame_fov(seed, split, i, fov)) if per_frame else None  # type: ignore[arg-type]

    bar = tqdm(total=train + val + test, unit="img", desc="synth", disable=not progress)
    with DatasetWriter(
        out,
        image_size=(w, h),
        source=source,
        intrinsics=camera,
        overwrite=overwrite,
        per_frame_intrinsics=per_frame,
    ) as writer:
        for split, count in (("train", train), ("val", val), ("test", test)):
            if count == 0:
                continue
            sw = writer.split(split, count)
            chunks = [
                (seed, split, s, min(s + CHUNK, count), size, sensor, fov)
                for s in range(0, count, CHUNK)
            ]
            n = min(workers, len(chunks))
            if n <= 1:
                frames = render_frames(seed, split, count, size, workers=1, sensor=sensor, fov=fov)
                for i, (rgb, depth) in enumerate(frames):
                    name = f"synth-s{seed}-{split}-{i:06d}"
                    sw.append(rgb, depth, name, intrinsics=intrinsics_of(split, i))
                    bar.update(1)
                continue
            # Workers write their frames into the split's files themselves; the parent only
            # counts them, in order (see `_render_chunk_into`).
            tasks = [(*c, sw.files) for c in chunks]
            with ProcessPoolExecutor(max_workers=n, mp_context=_pool_context()) as pool:
                for chunk, stats in zip(
                    chunks, _in_order(pool, _render_chunk_into, tasks, n), strict=True
                ):
                    for i, st in enumerate(stats, chunk[2]):
                        name = f"synth-s{seed}-{split}-{i:06d}"
                        sw.count_written(name, *st, intrinsics=intrinsics_of(split, i))
                        bar.update(1)
    bar.close()
    return Path(out)

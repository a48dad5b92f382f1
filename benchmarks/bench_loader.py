"""Loader throughput: augmented 304x228 batches per second from a prepared dataset.

Plain Python, prints one JSON object. By default it writes a synthetic 320x240 dataset to a
temporary folder (``--dataset`` uses an existing one) and times ``make_train_loader`` with the
paper's augmentation for each ``--workers`` value, after a warm-up of a few batches. It also
reports the CPU time per batch on one thread in this process, which other jobs on the machine
distort much less than wall-clock throughput, and the 1-minute load average at the end.

    python benchmarks/bench_loader.py [--workers 0 1 2] [--batch-size 32] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import emit, load_average, synthetic_dataset
from msdepth.config import AugmentConfig
from msdepth.data import make_train_loader, open_dataset


def measure(dataset, workers: int, batch_size: int, batches: int, warmup: int) -> float:
    loader = make_train_loader(
        dataset,
        batch_size=batch_size,
        augment=AugmentConfig(),
        input_hw=(228, 304),
        output_hw=(55, 74),
        workers=workers,
        num_steps=warmup + batches,
    )
    it = iter(loader)
    for _ in range(warmup):
        next(it)
    start = time.perf_counter()
    n = 0
    for batch in it:
        n += batch.image.shape[0]
    return n / (time.perf_counter() - start)


def cpu_cost(dataset, batch_size: int, batches: int, warmup: int) -> float:
    """CPU milliseconds per batch in this process on one thread: robust to other loads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        loader = make_train_loader(
            dataset,
            batch_size=batch_size,
            augment=AugmentConfig(),
            input_hw=(228, 304),
            output_hw=(55, 74),
            workers=0,
            num_steps=warmup + batches,
        )
        it = iter(loader)
        for _ in range(warmup):
            next(it)
        start = time.process_time()
        for _ in it:
            pass
        return (time.process_time() - start) / batches * 1000
    finally:
        torch.set_num_threads(threads)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", type=Path, help="a prepared dataset (default: synthetic)")
    p.add_argument("--split", default="train")
    p.add_argument("--samples", type=int, default=256, help="synthetic dataset size")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--batches", type=int, default=24, help="timed batches per setting")
    p.add_argument("--warmup", type=int, default=4)
    p.add_argument("--json", help="also write the result here")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.dataset or synthetic_dataset(Path(tmp) / "ds", args.samples)
        ds = open_dataset(path, args.split)
        results = {
            str(w): round(measure(ds, w, args.batch_size, args.batches, args.warmup), 1)
            for w in args.workers
        }
        cpu_ms = cpu_cost(ds, args.batch_size, args.batches, args.warmup)
    emit(
        "loader",
        {
            "unit": "augmented samples/s (304x228 RGB + 74x55 depth)",
            "batch_size": args.batch_size,
            "samples_per_s_by_workers": results,
            "cpu_ms_per_batch_one_thread": round(cpu_ms, 1),
            "samples_per_cpu_second": round(args.batch_size / cpu_ms * 1000, 1),
            "load_average_1min": load_average(),
            "dataset": str(args.dataset) if args.dataset else f"synthetic {args.samples}",
        },
        args.json,
    )


if __name__ == "__main__":
    main()

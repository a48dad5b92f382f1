"""GPU training speed: what one GPU trains per second, what feeds it, and the paper's schedule.

One script of at most about 5 minutes on one GPU (``--budget-s``), one JSON document on stdout
like the other benchmarks (``--json PATH`` saves it), then a short summary:

- **train**: coarse and fine training images/s at batch 32, 128 and 256: the trainer's own step
  (`Trainer._train_step`) on ``msdepth train``'s defaults for the device (on CUDA: the in-memory
  loader augmenting on the GPU, bf16 autocast, channels_last, fused SGD, cuDNN benchmark mode),
  timed after warm-up steps between two device synchronisations. The data path is inside the
  timed steps, so these rates include it;
- **compile**: eager against ``torch.compile`` (mode ``default``) and ``reduce-overhead``
  (CUDA graphs) at coarse batch 256 (CUDA only, while the budget lasts; ``--no-compile``);
- **loader**: augmented samples/s of the loaders alone: in-memory with the frames on the device,
  in-memory from pinned host memory, and the worker loader;
- **feed**: the in-memory loader's rate over the training rate at coarse's largest batch,
  measured in alternating rounds in one process (``--rounds``), so that other jobs on a shared
  machine slow both alike;
- **gpu_busy_share**: union of the GPU's kernel and copy intervals over the wall time of coarse
  batch-256 steps, under the profiler (CUDA only);
- **host_syncs_per_step**: synchronising CUDA calls in the timed steps, counted by
  ``torch.cuda.set_sync_debug_mode("warn")`` (0 expected);
- **matmul_bf16**: an 8192^3 bf16 matrix product measured in the same run, beside the achieved
  TFLOP/s of training (FLOPs counted by ``torch.utils.flop_counter``, as in bench_train.py);
- **paper_schedule**: the projected time of the paper's 2M coarse + 1.5M fine samples at the
  fastest measured setting of each stage.

    python3 benchmarks/bench_gpu.py --json $OUT/bench_gpu.json      # on a GPU machine
    python benchmarks/bench_gpu.py --device cpu --steps 2           # smoke test (make test runs it)

On ``--device cpu`` the defaults are small (batch 2, a 32-frame dataset) so that the smoke test
is quick; give ``--batch-sizes 32`` and more ``--steps`` for CPU figures.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch

from bench_train import base_config, train_flops_per_image
from harness import emit, load_average, synthetic_dataset
from msdepth.checkpoint import save_model
from msdepth.config import AugmentConfig, Config
from msdepth.data import make_train_loader, open_dataset
from msdepth.data.in_memory import InMemoryFrames, InMemoryLoader, choose_store
from msdepth.speed import resolve_precision
from msdepth.train.distributed import setup_distributed
from msdepth.train.trainer import Trainer, build_model

PAPER_SAMPLES = {"coarse": 2_000_000, "fine": 1_500_000}  # paper, "Training"
TARGETS = {"coarse_images_per_s_at_256": 15_000, "paper_schedule_minutes": 10}  # issue 14


def sig(x: float, digits: int = 4) -> float:
    """``x`` to ``digits`` significant digits (rates span 0.1 on a busy CPU to 1e5 on a GPU)."""
    return float(f"{x:.{digits}g}")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StagePath:
    """One stage of the trainer at one setting: its own model, optimiser and loader."""

    def __init__(self, config: Config, stage: str, data: Path, run: Path, init: Path | None):
        run.mkdir(parents=True, exist_ok=True)
        self.device = torch.device(config.train.device)
        self.trainer = Trainer(config, data, run, setup_distributed(config.train.device), False)
        self.s = self.trainer._start_stage(stage, None, None, init)  # type: ignore[arg-type]

    def steps(self, n: int) -> None:
        for _ in range(n):
            self.trainer._train_step(self.s)
            self.s.step += 1

    def timed(self, warmup: int, steps: int) -> tuple[float, float]:
        """Wall-clock and CPU seconds of ``steps`` steps after ``warmup`` untimed ones, device
        work included (CPU time: robust to other jobs on a shared CPU)."""
        self.steps(warmup)
        synchronize(self.device)
        start, cpu = time.perf_counter(), time.process_time()
        self.steps(steps)
        synchronize(self.device)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        report = self.s.losses.read()
        if report is not None and report.bad_step is not None:
            raise RuntimeError(f"training diverged at step {report.bad_step}")
        return elapsed, cpu

    def close(self) -> None:
        self.s.batches = iter(())
        self.trainer.observer.end_stage()
        del self.s, self.trainer
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def config_for(args: argparse.Namespace, stage: str, batch: int, **over: Any) -> Config:
    """bench_train's config without periodic work, on the device, with the in-memory loader."""
    values = {"train.device": args.device, "train.loader": "memory", "train.workers": 0}
    return base_config(stage, batch).with_overrides({**values, **over})


def union_length(intervals: list[tuple[float, float]]) -> float:
    """Total length covered by possibly overlapping ``(start, end)`` intervals."""
    total, end = 0.0, -math.inf
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def device_intervals(prof: Any) -> list[tuple[float, float]]:
    """(start, end) in microseconds of every GPU-side event (kernels, copies) of a profile;
    annotations (ranges that only mark the timeline) left out."""
    from torch.autograd import DeviceType

    return [
        (e.time_range.start, e.time_range.end)
        for e in prof.events()
        if e.device_type == DeviceType.CUDA and not getattr(e, "is_user_annotation", False)
    ]


def gpu_busy(path: StagePath, steps: int) -> dict[str, Any]:
    """Share of wall time the GPU runs kernels or copies during ``steps`` training steps."""
    from torch.profiler import ProfilerActivity, profile

    synchronize(path.device)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        start = time.perf_counter()
        path.steps(steps)
        synchronize(path.device)
        wall_us = (time.perf_counter() - start) * 1e6
    path.s.losses.read()
    busy = union_length(device_intervals(prof))
    return {"share": round(busy / wall_us, 3), "steps": steps, "note": "under the profiler"}


def count_syncs(path: StagePath, steps: int) -> float:
    """Synchronising CUDA calls per training step (the loss readback excluded)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            path.steps(steps)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    path.s.losses.read()
    syncs = [w for w in caught if "synchroniz" in str(w.message).lower()]
    return len(syncs) / steps


def matmul_tflops(device: torch.device, n: int, repeats: int = 10) -> float:
    """bf16 (n x n) @ (n x n) products per second, in TFLOP/s (random inputs)."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e12


def loader_rate(batches, count: int, device: torch.device, warmup: int = 2) -> dict[str, float]:
    """Augmented samples per wall-clock second of ``count`` batches of a loader (after
    ``warmup``), and per CPU second of this process (worker processes not counted)."""
    it = iter(batches)
    for _ in range(warmup):
        next(it)
    synchronize(device)
    start, cpu = time.perf_counter(), time.process_time()
    n = sum(next(it).image.shape[0] for _ in range(count))
    synchronize(device)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"samples_per_s": sig(n / wall), "samples_per_cpu_s": sig(n / cpu)}


def bench_loaders(args: argparse.Namespace, data: Path, batch: int) -> dict[str, Any]:
    device = torch.device(args.device)
    ds = open_dataset(data, "train")
    shape = dict(batch_size=batch, augment=AugmentConfig(), input_hw=(228, 304))
    shape["output_hw"] = (55, 74)
    out: dict[str, Any] = {"batch": batch, "unit": "augmented samples/s"}
    count = args.loader_batches
    stores = {"memory_on_device": device} if device.type == "cuda" else {}
    stores["memory_on_host"] = torch.device("cpu")
    for name, where in stores.items():
        frames = InMemoryFrames.load(ds, where)
        loader = InMemoryLoader(frames, device=device, channels_last=True, **shape)
        out[name] = loader_rate(loader, count, device)
        del frames, loader
    workers = args.loader_workers
    stream = make_train_loader(ds, workers=workers, pin_memory=device.type == "cuda", **shape)
    out[f"worker_loader_{workers}_workers"] = loader_rate(stream, max(2, count // 4), device)
    return out


def feed_ratio(args: argparse.Namespace, data: Path, tmp: Path, batch: int) -> dict[str, Any]:
    """How many times the training rate the in-memory loader delivers: coarse training steps
    and loader batches (the trainer's own loader settings) timed in alternating rounds."""
    device = torch.device(args.device)
    path = StagePath(config_for(args, "coarse", batch), "coarse", data, tmp / "feed", None)
    try:
        ds = open_dataset(data, "train")
        frames = InMemoryFrames.load(ds, choose_store(ds, device) or torch.device("cpu"))
        shape = dict(batch_size=batch, augment=AugmentConfig(), input_hw=(228, 304))
        feed = InMemoryLoader(
            frames, device=device, channels_last=True, output_hw=(55, 74), **shape
        )
        batches = iter(feed)  # as the trainer's: same store, same device, same layout
        next(batches)
        path.steps(args.warmup)
        rounds = []
        for _ in range(args.rounds):
            train_s, _ = path.timed(0, args.steps)
            train = args.steps * batch / train_s
            load = loader_rate(batches, args.steps, device, warmup=0)["samples_per_s"]
            rounds.append({"train_images_per_s": sig(train), "loader_samples_per_s": load})
    finally:
        path.close()
    ratios = [r["loader_samples_per_s"] / r["train_images_per_s"] for r in rounds]
    return {
        "stage": "coarse",
        "batch": batch,
        "median_ratio": round(statistics.median(ratios), 2),
        "rounds": rounds,
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    device = torch.device(args.device)
    left = lambda: args.budget_s - (time.perf_counter() - t0)  # noqa: E731
    results: dict[str, Any] = {
        "device": args.device,
        "precision": resolve_precision("auto", device),
        "geometry": "304x228 -> 74x55",
        "steps": args.steps,
        "warmup": args.warmup,
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data = args.dataset or synthetic_dataset(tmp / "data", args.samples)
        results["dataset"] = str(args.dataset) if args.dataset else f"synthetic {args.samples}"
        coarse_init = save_model(
            tmp / "coarse.safetensors",
            build_model(base_config("coarse", 2), "coarse"),
            base_config("coarse", 2),
            "coarse",
            0,
        )
        inits = {"coarse": None, "fine": coarse_init}
        gflop = {s: train_flops_per_image(base_config(s, 2), s) / 1e9 for s in ("coarse", "fine")}
        results["gflop_per_image"] = {s: round(g, 3) for s, g in gflop.items()}

        matmul = matmul_tflops(device, args.matmul_n)
        results["matmul_bf16"] = {"n": args.matmul_n, "tflop_per_s": sig(matmul)}

        train = [
            guarded_row(bench_row, args, data, tmp, stage, batch, inits[stage], gflop, matmul)
            for stage in ("coarse", "fine")
            for batch in args.batch_sizes
        ]
        results["train"] = train

        results["loader"] = bench_loaders(args, data, max(args.batch_sizes))
        results["feed"] = guarded(feed_ratio, args, data, tmp, max(args.batch_sizes))

        compiled: dict[str, Any] = {}
        if args.compile and device.type == "cuda":
            batch = max(args.batch_sizes)
            for mode in ("default", "reduce-overhead"):
                if left() < args.compile_reserve_s:
                    compiled[mode] = f"skipped: {left():.0f} s of the budget left"
                    continue
                compiled[mode] = guarded(bench_compiled, args, data, tmp, batch, mode)
        results["compile"] = compiled or "CUDA only (--compile)"

    results["paper_schedule"] = projection(train, compiled)
    results["targets"] = targets(train, results["paper_schedule"], max(args.batch_sizes))
    results["seconds"] = round(time.perf_counter() - t0, 1)
    results["load_average_1min"] = load_average()
    return results


def bench_row(
    args: argparse.Namespace,
    data: Path,
    tmp: Path,
    stage: str,
    batch: int,
    init: Path | None,
    gflop: dict[str, float],
    matmul: float,
) -> dict[str, Any]:
    """Training images/s of one stage at one batch size (and, at coarse's largest batch on
    CUDA, host syncs and GPU busy share)."""
    device = torch.device(args.device)
    path = StagePath(config_for(args, stage, batch), stage, data, tmp / f"{stage}-{batch}", init)
    try:
        secs, cpu = path.timed(args.warmup, args.steps)
        ips = args.steps * batch / secs
        row: dict[str, Any] = {
            "stage": stage,
            "batch": batch,
            "images_per_s": sig(ips),
            "images_per_cpu_s": sig(args.steps * batch / cpu),
            "ms_per_step": round(1000 * secs / args.steps, 2),
            "tflop_per_s": sig(ips * gflop[stage] / 1e3),
            "share_of_matmul": sig(ips * gflop[stage] / 1e3 / matmul),
        }
        if device.type == "cuda":
            row["peak_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
            torch.cuda.reset_peak_memory_stats(device)
            if stage == "coarse" and batch == max(args.batch_sizes):
                n = max(2, args.steps // 4)
                row["host_syncs_per_step"] = guarded(count_syncs, path, n)
                row["gpu_busy"] = guarded(gpu_busy, path, n)
    finally:
        path.close()
    return row


def guarded_row(fn, *args: Any) -> dict[str, Any]:
    """A row of the training table, or the row's stage, batch and error."""
    result = guarded(fn, *args)
    if isinstance(result, dict):
        return result
    return {"stage": args[3], "batch": args[4], "error": result}


def guarded(fn, *args: Any) -> Any:
    """``fn(*args)``, or the error as a string: one failing part must not lose the run."""
    try:
        return fn(*args)
    except Exception as exc:
        return f"failed: {type(exc).__name__}: {exc}"[:500]


def bench_compiled(
    args: argparse.Namespace, data: Path, tmp: Path, batch: int, mode: str
) -> dict[str, Any]:
    """Coarse training images/s with ``torch.compile(mode=mode)``, and the compile time."""
    device = torch.device(args.device)
    cfg = config_for(args, "coarse", batch, **{"train.compile": True, "train.compile_mode": mode})
    start = time.perf_counter()
    path = StagePath(cfg, "coarse", data, tmp / f"compiled-{mode}", None)
    try:
        path.steps(3)  # compilation (and the graphs' capture) happens here
        synchronize(device)
        compile_s = time.perf_counter() - start
        secs, _ = path.timed(args.warmup, args.steps)
    finally:
        path.close()
    return {"images_per_s": sig(args.steps * batch / secs), "compile_s": round(compile_s, 1)}


def projection(train: list[dict[str, Any]], compiled: dict[str, Any]) -> dict[str, Any]:
    """Minutes for the paper's samples at each stage's fastest measured setting."""
    out: dict[str, Any] = {"samples": PAPER_SAMPLES}
    minutes = 0.0
    for stage, samples in PAPER_SAMPLES.items():
        rows = [r for r in train if r["stage"] == stage and "images_per_s" in r]
        if not rows:
            out[stage] = "no measurement"
            return out
        best = max(rows, key=lambda r: r["images_per_s"])
        rate, how = best["images_per_s"], f"eager, batch {best['batch']}"
        if stage == "coarse":
            for mode, result in compiled.items():
                if isinstance(result, dict) and result["images_per_s"] > rate:
                    rate, how = result["images_per_s"], f"compile {mode}"
        out[stage] = {
            "images_per_s": rate,
            "setting": how,
            "minutes": sig(samples / rate / 60),
        }
        minutes += samples / rate / 60
    out["minutes"] = sig(minutes)
    return out


def targets(train: list[dict[str, Any]], schedule: dict[str, Any], batch: int) -> dict[str, Any]:
    coarse = [r for r in train if r["stage"] == "coarse" and r["batch"] == batch]
    rate = coarse[0].get("images_per_s") if coarse else None
    return {
        "coarse_images_per_s_at_256": {
            "target": TARGETS["coarse_images_per_s_at_256"],
            "measured_at_batch": batch,
            "measured": rate,
        },
        "paper_schedule_minutes": {
            "target": TARGETS["paper_schedule_minutes"],
            "measured": schedule.get("minutes"),
        },
    }


def summary(doc: dict[str, Any]) -> str:
    """A few lines for a terminal (the JSON above has everything)."""
    r = doc["results"]
    lines = [f"machine: {doc['machine'].get('gpu', doc['machine']['cpu'])}, {r['precision']}"]
    for row in r["train"]:
        if "error" in row:
            lines.append(f"{row['stage']:>6} batch {row['batch']:>4}: {row['error']}")
            continue
        lines.append(
            f"{row['stage']:>6} batch {row['batch']:>4}: {row['images_per_s']:>10.1f} img/s "
            f"{row['tflop_per_s']:>8.2f} TFLOP/s ({100 * row['share_of_matmul']:.1f}% of matmul)"
        )
    lines.append(f"bf16 matmul: {r['matmul_bf16']['tflop_per_s']} TFLOP/s")
    lines.append(f"loader: {r['loader']}")
    lines.append(f"compile: {r['compile']}")
    lines.append(f"paper schedule: {r['paper_schedule'].get('minutes')} min")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch-sizes", type=int, nargs="+")
    p.add_argument("--steps", type=int, help="timed steps per setting")
    p.add_argument("--warmup", type=int, help="untimed steps before them")
    p.add_argument("--samples", type=int, help="synthetic 320x240 dataset size")
    p.add_argument("--dataset", type=Path, help="a prepared dataset instead of synthetic frames")
    p.add_argument("--matmul-n", type=int)
    p.add_argument("--loader-batches", type=int)
    p.add_argument("--loader-workers", type=int, help="worker-loader processes to compare")
    p.add_argument("--rounds", type=int, help="alternating train/loader rounds of the feed ratio")
    p.add_argument("--no-compile", dest="compile", action="store_false")
    p.add_argument("--budget-s", type=float, default=270.0, help="stop optional parts after it")
    p.add_argument("--compile-reserve-s", type=float, default=75.0)
    p.add_argument("--json", help="also write the result here")
    args = p.parse_args()
    gpu = torch.device(args.device).type == "cuda"
    defaults = {
        "batch_sizes": [32, 128, 256] if gpu else [2],
        "steps": 40 if gpu else 2,
        "warmup": 10 if gpu else 1,
        "samples": 2048 if gpu else 32,
        "matmul_n": 8192 if gpu else 256,
        "loader_batches": 20 if gpu else 2,
        "rounds": 3 if gpu else 1,
        "loader_workers": min(8, max(1, (os.cpu_count() or 2) - 2)) if gpu else 0,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    doc = emit("gpu", bench(args), args.json)
    print(summary(doc), file=sys.stderr)


if __name__ == "__main__":
    main()

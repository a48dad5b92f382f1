"""Training throughput: the fast path beside the naive baseline, interleaved in one process.

- **fast**: what ``msdepth train`` runs with its default config, step for step (the trainer's
  own `_train_step`): the real data path (a prepared dataset on disk, the paper's augmentation in
  the loader's worker processes), bf16 autocast where native, channels_last, fused SGD, glibc
  memory reuse.
- **naive**: the same network in eager fp32 NCHW, plain ``torch.optim.SGD`` (per-tensor loop)
  with the same per-layer groups, and in-memory tensors (no loading at all).

Rounds alternate fast, naive, fast, naive, ... (each path a few steps per turn, after an untimed
first step) so that other jobs on the machine slow both alike; every path keeps its stage, model
and loader across the rounds, as training does. The report gives median images/s, achieved GFLOP/s (FLOPs
of a training step counted with ``torch.utils.flop_counter``), their ratio, and the peak RSS
of each path measured in a child process of its own (``--no-rss`` skips it).

    python benchmarks/bench_train.py                       # coarse + fine, batch 8 and 32
    python benchmarks/bench_train.py --variants            # each speed switch turned off alone
    python benchmarks/bench_train.py --compile --batch-sizes 32 --no-rss   # + torch.compile
    python benchmarks/bench_train.py --stages coarse --batch-sizes 32 --rounds 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from torch.utils.flop_counter import FlopCounterMode

from harness import emit, load_average, peak_rss_gib, synthetic_dataset
from msdepth.allocator import reuse_freed_memory
from msdepth.checkpoint import save_model
from msdepth.config import Config
from msdepth.data import make_train_loader, open_dataset
from msdepth.losses import scale_invariant_loss
from msdepth.speed import resolve_precision
from msdepth.train.distributed import setup_distributed
from msdepth.train.optim import param_groups
from msdepth.train.targets import log_depth_targets
from msdepth.train.trainer import Trainer, build_model

# The naive baseline's switches: the plain network as a first PyTorch version would run it.
NAIVE = {
    "train.precision": "fp32",
    "train.channels_last": False,
    "train.fused_sgd": False,
    "train.reuse_memory": False,
    "train.workers": 0,
}
# --variants: the fast path with one switch turned off (or changed) at a time.
VARIANTS = {
    "fp32": {"train.precision": "fp32"},
    "nchw": {"train.channels_last": False},
    "foreach_sgd": {"train.fused_sgd": False},
    "no_memory_reuse": {"train.reuse_memory": False},
    "workers1": {"train.workers": 1},
    "workers2": {"train.workers": 2},
}
NEVER = 10**9  # periodic work (logs to disk, panels, validation, checkpoints) stays out


def base_config(stage: str, batch: int) -> Config:
    """The default config (the fast path) at a batch size, with no periodic work."""
    steps = {"train.coarse_steps": NEVER, "train.fine_steps": NEVER}
    never = {f"train.{k}_every": NEVER for k in ("log", "panel", "val", "checkpoint")}
    return Config().with_overrides(
        {"train.batch_size": batch, "train.tensorboard": False, **steps, **never}
    )


def train_flops_per_image(config: Config, stage: str) -> float:
    """FLOPs of one training step per image: forward and backward of the layers that run."""
    model = build_model(config, stage)  # type: ignore[arg-type]
    model.train()
    h, w = model.geometry.input_hw
    with FlopCounterMode(display=False) as counter:
        model(torch.rand(2, 3, h, w)).float().square().mean().backward()
    return counter.get_total_flops() / 2


class FastPath:
    """The trainer's own step (`Trainer._train_step`) on the real data path."""

    def __init__(self, config: Config, stage: str, data: Path, run: Path, init: Path | None):
        self.config = config
        run.mkdir(parents=True, exist_ok=True)
        self.trainer = Trainer(config, data, run, setup_distributed("cpu"), progress=False)
        reuse_freed_memory(config.train.reuse_memory)
        self.s = self.trainer._start_stage(stage, None, None, init)  # type: ignore[arg-type]

    def round(self, warmup: int, steps: int) -> float:
        """Seconds for ``steps`` steps after ``warmup`` untimed ones."""
        reuse_freed_memory(self.config.train.reuse_memory)  # the naive path turns it off
        for _ in range(warmup):
            self.step()
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        elapsed = time.perf_counter() - start
        loss = self.s.losses.read()
        if loss is not None and loss.bad_step is not None:
            raise RuntimeError(f"the fast path diverged at step {loss.bad_step}")
        return elapsed

    def step(self) -> None:
        self.trainer._train_step(self.s)
        self.s.step += 1

    def close(self) -> None:
        self.s.batches = iter(())  # stops the loader's workers
        self.trainer.observer.end_stage()


class NaivePath:
    """Eager fp32 NCHW, plain SGD, a few augmented batches held in memory."""

    def __init__(self, config: Config, stage: str, data: Path, init: Path | None):
        cfg = config.with_overrides(NAIVE)
        self.cfg = cfg
        self.model = build_model(cfg, stage)  # type: ignore[arg-type]
        if init is not None:
            from safetensors.torch import load_file

            self.model.load_state_dict(load_file(str(init)), strict=False)
        self.model.set_stage(stage)  # type: ignore[arg-type]
        self.model.train()
        self.optimizer = torch.optim.SGD(
            param_groups(self.model, cfg.optim, stage),  # type: ignore[arg-type]
            lr=cfg.optim.coarse_conv_lr,
            momentum=cfg.optim.momentum,
            foreach=False,
        )
        loader = make_train_loader(
            open_dataset(data, "train"),
            cfg.train.batch_size,
            cfg.augment,
            self.model.geometry.input_hw,
            self.model.output_hw,
            num_steps=2,
            workers=0,
        )
        self.batches = [(b.image, *log_depth_targets(b.depth, b.mask)) for b in loader]
        self.k = 0

    def step(self) -> None:
        image, target, mask = self.batches[self.k % len(self.batches)]
        self.k += 1
        pred = self.model(image)
        loss = scale_invariant_loss(pred, target, mask, self.cfg.train.loss_lambda)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def round(self, warmup: int, steps: int) -> float:
        reuse_freed_memory(False)  # glibc's defaults, as a plain script has them
        for _ in range(warmup):
            self.step()
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        return time.perf_counter() - start


def interleave(paths: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Seconds per round of each path, the paths taking turns within every round."""
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, run in paths.items():
            times[name].append(run())
    return times


def rss_child(path: str, stage: str, batch: int, data: Path, init: str, overrides: str) -> None:
    """Run a few steps of one path; print this process's peak RSS and its loader workers' (a
    worker's figure counts the pages it shares with the main process, e.g. the weights)."""
    import resource

    config = base_config(stage, batch).with_overrides(json.loads(overrides))
    init_path = Path(init) if init else None
    with tempfile.TemporaryDirectory() as tmp:
        if path == "naive":
            NaivePath(config, stage, data, init_path).round(1, 3)
        else:
            fast = FastPath(config, stage, data, Path(tmp) / "run", init_path)
            fast.round(1, 3)
            fast.close()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    print(json.dumps({"peak_rss_gib": round(peak_rss_gib(), 3), "worker_gib": round(children, 3)}))


def measure_rss(path: str, stage: str, batch: int, data: Path, init: Path | None, over=None):
    cmd = [sys.executable, __file__, "--rss-child", path, stage, str(batch), str(data)]
    cmd += [str(init or ""), json.dumps(over or {})]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench(args: argparse.Namespace, data: Path, tmp: Path, stage: str, batch: int) -> dict:
    config = base_config(stage, batch)
    init = None
    if stage == "fine":  # the fine stage trains on a (here untrained) frozen coarse network
        init = save_model(
            tmp / "coarse.safetensors", build_model(config, "coarse"), config, "coarse", 0
        )
    gflop = train_flops_per_image(config, stage) / 1e9
    variants = {"fast": {}, **(VARIANTS if args.variants else {})}
    if args.compile:
        variants["compiled"] = {"train.compile": True}
    fast = {
        name: FastPath(config.with_overrides(over), stage, data, tmp / f"{name}-{stage}", init)
        for name, over in variants.items()
    }
    naive = NaivePath(config, stage, data, init)
    naive_steps = max(1, args.steps // 3)  # ~3x slower: keeps the turns similar in length
    for path in fast.values():  # first steps: oneDNN primitives, allocator, compilation
        path.round(args.warmup, 0)
    naive.round(1, 0)
    paths: dict[str, Callable[[], float]] = {
        name: (lambda p=p: p.round(1, args.steps)) for name, p in fast.items()
    }
    paths["naive"] = lambda: naive.round(0, naive_steps)
    times = interleave(paths, args.rounds)
    for path in fast.values():
        path.close()
    result: dict = {"stage": stage, "batch": batch, "gflop_per_image": round(gflop, 3)}
    for name, secs in times.items():
        steps = naive_steps if name == "naive" else args.steps
        rates = [steps * batch / t for t in secs]
        ips = statistics.median(rates)
        result[name] = {
            "images_per_s": round(ips, 1),
            "gflop_per_s": round(ips * gflop, 1),
            "rounds": [round(r, 1) for r in rates],
        }
    for name in paths:
        if name != "naive":
            ratio = result[name]["images_per_s"] / result["naive"]["images_per_s"]
            result[name]["vs_naive"] = round(ratio, 2)
    if args.rss:
        result["fast"]["rss"] = measure_rss("fast", stage, batch, data, init)
        result["naive"]["rss"] = measure_rss("naive", stage, batch, data, init)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stages", nargs="+", default=["coarse", "fine"])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32])
    p.add_argument("--rounds", type=int, default=6, help="fast/naive alternations")
    p.add_argument("--steps", type=int, default=6, help="timed fast steps per round")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before the rounds")
    p.add_argument("--samples", type=int, default=256, help="synthetic 320x240 dataset size")
    p.add_argument("--variants", action="store_true", help="also each switch off alone")
    p.add_argument("--compile", action="store_true", help="also the fast path compiled")
    p.add_argument("--no-rss", dest="rss", action="store_false", help="skip peak RSS")
    p.add_argument("--json", help="also write the result here")
    p.add_argument("--rss-child", nargs=6, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rss_child:
        path, stage, batch, data, init, over = args.rss_child
        rss_child(path, stage, int(batch), Path(data), init, over)
        return
    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data = synthetic_dataset(tmp / "data", args.samples)
        runs = [
            bench(args, data, tmp, stage, batch)
            for stage in args.stages
            for batch in args.batch_sizes
        ]
    emit(
        "train",
        {
            "geometry": "304x228 -> 74x55",
            "fast_precision": resolve_precision("auto", "cpu"),
            "naive": "eager fp32 NCHW, plain SGD, in-memory tensors",
            "fast": "msdepth train defaults, prepared dataset + augmentation in loader workers",
            "runs": runs,
            "load_average_1min": {"before": load_before, "after": load_average()},
        },
        args.json,
    )


if __name__ == "__main__":
    main()

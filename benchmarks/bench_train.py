"""Training throughput (images/s) of one SGD step, per stage and speed setting.

Times exactly what `msdepth train` does per step (forward under optional bf16 autocast, the
scale-invariant loss in fp32, backward, per-layer SGD with foreach kernels) on a fixed random
batch, so data loading is left out; ``--loop`` instead runs `msdepth.train.train` on a small
generated dataset and reports the loop's own img/s (data, logging and all).

    python benchmarks/bench_train.py --stage coarse --batch-size 32 --precision fp32 bf16
    python benchmarks/bench_train.py --loop --steps 20
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

import torch

from harness import emit, peak_rss_gib, summary, time_calls

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from msdepth.config import Config
from msdepth.losses import scale_invariant_loss
from msdepth.train.optim import make_optimizer
from msdepth.train.trainer import build_model


def step_benchmark(
    config: Config, stage: str, batch: int, precision: str, channels_last: bool, compile_: bool
) -> dict:
    model = build_model(config, stage)  # type: ignore[arg-type]
    model.train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config.optim, stage)  # type: ignore[arg-type]
    net = torch.compile(model) if compile_ else model
    h, w = model.geometry.input_hw
    image = torch.rand(batch, 3, h, w)
    if channels_last:
        image = image.contiguous(memory_format=torch.channels_last)
    target = torch.rand(batch, 1, *model.output_hw).add(0.5).log()
    mask = torch.ones_like(target, dtype=torch.bool)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")

    def step() -> None:
        with autocast:
            pred = net(image)
        loss = scale_invariant_loss(pred.float(), target, mask, 0.5)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    times = time_calls(step, repeats=args.repeats, warmup=3 if compile_ else 2)
    stats = summary(times)
    return {
        "stage": stage,
        "batch": batch,
        "precision": precision,
        "channels_last": channels_last,
        "compile": compile_,
        "images_per_s": round(batch / (stats["p50_ms"] / 1000), 1),
        **{k: round(v, 1) for k, v in stats.items()},
    }


def loop_benchmark(config: Config, steps: int, batch: int, precision: str) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import write_tiny_dataset
    from msdepth.train import train

    with tempfile.TemporaryDirectory() as tmp:
        data = write_tiny_dataset(Path(tmp) / "data", n_train=max(2 * batch, 16), n_test=8)
        cfg = config.with_overrides(
            {
                "train.batch_size": batch,
                "train.coarse_steps": steps,
                "train.fine_steps": steps,
                "train.precision": precision,
                "train.val_every": 10**9,
                "train.checkpoint_every": 10**9,
                "train.panel_every": 10**9,
                "train.tensorboard": False,
            }
        )
        result = train(cfg, data, Path(tmp) / "run", progress=False)
    return {
        stage: {"images_per_s": round(r.images_per_second, 1), "steps": r.steps}
        for stage, r in result.stages.items()
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", nargs="+", default=["coarse", "fine"])
    parser.add_argument("--batch-size", type=int, nargs="+", default=[32])
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--channels-last", action="store_true", help="also time NHWC")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--width", type=int, default=304)
    parser.add_argument("--height", type=int, default=228)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--loop", action="store_true", help="time the whole training loop")
    parser.add_argument("--steps", type=int, default=20, help="steps per stage with --loop")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()
    config = Config().with_overrides(
        {"model.input_width": args.width, "model.input_height": args.height, "train.workers": 0}
    )
    if args.loop:
        results = {
            f"{p}-b{b}": loop_benchmark(config, args.steps, b, p)
            for b, p in itertools.product(args.batch_size, args.precision)
        }
    else:
        layouts = [False, True] if args.channels_last else [False]
        compiles = [False, True] if args.compile else [False]
        results = [
            step_benchmark(config, s, b, p, cl, c)
            for s, b, p, cl, c in itertools.product(
                args.stage, args.batch_size, args.precision, layouts, compiles
            )
        ]
    emit(
        "train",
        {
            "geometry": f"{args.width}x{args.height}",
            "runs": results,
            "peak_rss_gib": peak_rss_gib(),
        },
        args.json,
    )

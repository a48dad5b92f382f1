"""Where a training step's time goes: `torch.profiler` table of the fast path's step.

Runs the trainer's own step (default config: bf16 where native, channels_last, fused SGD,
memory reuse, the real loader) for a few warm-up steps, then profiles ``--steps`` steps and
prints the operators sorted by their own CPU time, per input shape with ``--shapes``.

    python benchmarks/profile_step.py --stage coarse --batch-size 32 [--shapes] [--rows 25]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from torch.profiler import ProfilerActivity, profile

from bench_train import FastPath, base_config
from harness import synthetic_dataset
from msdepth.checkpoint import save_model
from msdepth.train.trainer import build_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage", default="coarse", choices=["coarse", "fine"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rows", type=int, default=25)
    p.add_argument("--shapes", action="store_true", help="one row per operator and shape")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    args = p.parse_args()
    config = base_config(args.stage, args.batch_size).with_overrides(args.set)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data = synthetic_dataset(tmp / "data", max(4 * args.batch_size, 64))
        init = None
        if args.stage == "fine":
            coarse = build_model(config, "coarse")
            init = save_model(tmp / "coarse.safetensors", coarse, config, "coarse", 0)
        fast = FastPath(config, args.stage, data, tmp / "run", init)
        fast.round(3, 0)
        with profile(activities=[ProfilerActivity.CPU], record_shapes=args.shapes) as prof:
            seconds = fast.round(0, args.steps)
        fast.close()
    table = prof.key_averages(group_by_input_shape=args.shapes)
    print(table.table(sort_by="self_cpu_time_total", row_limit=args.rows))
    per_step = seconds / args.steps
    print(f"{args.stage} batch {args.batch_size}: {per_step * 1000:.0f} ms per step under the")
    print(f"profiler ({args.batch_size / per_step:.1f} images/s; the profiler adds a little)")


if __name__ == "__main__":
    main()

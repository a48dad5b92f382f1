"""`msdepth train`: the paper's two-stage training on a prepared dataset (docs/training.md)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from msdepth.cli.common import add_common_flags, emit, json_target, status
from msdepth.presets import PRESETS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the network (coarse, then fine on a frozen coarse)",
        description="Train on a prepared dataset into a run folder. Settings come from the "
        "paper's defaults, then --config, then --set, then the flags below. Under torchrun the "
        "same command trains with DistributedDataParallel.",
    )
    p.add_argument("--data", required=True, type=Path, help="prepared dataset folder")
    p.add_argument("--out", required=True, type=Path, help="run folder (created)")
    p.add_argument("--stage", choices=["coarse", "fine", "both"], default="both")
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="a named recipe applied before --config and --set: paper (the default) or quick "
        "(AdamW + cosine, for training from scratch in minutes; docs/training.md)",
    )
    p.add_argument("--config", type=Path, help="TOML file with [model] [augment] [optim] [train]")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config value, e.g. --set optim.grad_clip=1.0 (repeatable)",
    )
    p.add_argument("--steps", type=int, help="steps per stage (train.coarse_steps/fine_steps)")
    p.add_argument("--batch-size", type=int, help="images per step per process")
    p.add_argument("--lr-scale", type=float, help="global factor on every learning rate")
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        help="bf16 autocast on CPU or CUDA; auto (default): bf16 where the hardware has it",
    )
    p.add_argument(
        "--workers",
        type=int,
        help="data loader processes (0 = in the main process; default -1 = auto)",
    )
    p.add_argument(
        "--channels-last",
        action="store_true",
        default=None,
        help="NHWC memory layout (the default)",
    )
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    p.add_argument("--minutes", type=float, help="wall-clock budget per stage (train.max_minutes)")
    p.add_argument("--init", type=Path, help="coarse checkpoint or run folder for --stage fine")
    p.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        metavar="CKPT",
        help="continue the run in --out from its newest checkpoint (or CKPT) exactly",
    )
    p.add_argument(
        "--detect-anomaly",
        action="store_true",
        default=None,
        help="debugging: find the operation whose gradient first becomes NaN (slow)",
    )
    p.add_argument("--no-progress", action="store_true", help=argparse.SUPPRESS)  # = --quiet
    add_common_flags(p)
    p.set_defaults(func=run)


def _flag_overrides(args: argparse.Namespace) -> dict[str, object]:
    flags = {
        "optim.lr_scale": args.lr_scale,
        "train.batch_size": args.batch_size,
        "train.seed": args.seed,
        "train.device": args.device,
        "train.precision": args.precision,
        "train.workers": args.workers,
        "train.channels_last": args.channels_last,
        "train.compile": args.compile,
        "train.max_minutes": args.minutes,
        "train.detect_anomaly": args.detect_anomaly,
    }
    if args.steps is not None:
        flags["train.coarse_steps"] = flags["train.fine_steps"] = args.steps
    return {key: value for key, value in flags.items() if value is not None}


def _toml_pairs(path: Path) -> dict[str, object]:
    """A TOML config file as dotted overrides, so it refines a preset key by key."""
    from msdepth.config import Config

    data = Config.from_toml(path).to_dict()  # validates the file (unknown keys, types)
    raw = Config.read_toml_dict(path)
    return {f"{s}.{k}": data[s][k] for s, values in raw.items() for k in values}


def run(args: argparse.Namespace) -> int:
    from msdepth.errors import DataError
    from msdepth.presets import preset_config
    from msdepth.train import train
    from msdepth.train.trainer import resume_config

    if not (args.data / "meta.json").is_file():
        raise DataError(
            f"--data {args.data} is not a prepared dataset (no meta.json); "
            "run msdepth prepare or msdepth synth first"
        )
    if args.resume and args.config is None and args.preset is None:
        config = resume_config(args.out)  # a resumed run keeps its own settings
    else:
        config = preset_config(args.preset or "paper")
        if args.config is not None:
            config = config.with_overrides(_toml_pairs(args.config), source=str(args.config))
    config = config.with_overrides(args.set, source="--set")
    config = config.with_overrides(_flag_overrides(args), source="command line")
    resume = args.resume if args.resume is True or not args.resume else Path(args.resume)
    json_target(args)
    quiet = args.quiet or args.no_progress
    if os.environ.get("RANK", "0") == "0":
        from msdepth.devices import describe_device, resolve_device

        status(args, f"device: {describe_device(resolve_device(config.train.device))}")
    result = train(
        config,
        args.data,
        args.out,
        stages=args.stage,
        init=args.init,
        resume=resume,
        progress=not quiet and args.json != "-",
    )
    if os.environ.get("RANK", "0") != "0":
        return 0  # under torchrun only rank 0 reports
    lines = []
    for stage in result.stages.values():
        if stage.skipped:
            lines.append(f"{stage.stage}: already finished in {result.run}")
            continue
        loss = f"{stage.loss_history[-1][1]:.4f}" if stage.loss_history else "n/a"
        metrics = stage.final_metrics
        val = (
            f"  val abs_rel {metrics['abs_rel']:.3f} rmse {metrics['rmse']:.3f} "
            f"delta1 {metrics['delta1']:.3f}"
            if metrics
            else ""
        )
        budget = " (time budget)" if stage.stopped_by_budget else ""
        lines.append(
            f"{stage.stage}: {stage.steps}/{stage.total_steps} steps{budget}, loss {loss},"
            f" {stage.images_per_second:.1f} img/s{val}"
        )
    if result.model_path is not None:
        lines.append(f"model: {result.model_path}")
    emit(args, result.to_dict(), "\n".join(lines))
    return 0

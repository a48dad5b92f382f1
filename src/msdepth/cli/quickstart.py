"""`msdepth quickstart`: synthesise, train both stages, evaluate, predict, report (make demo)."""

from __future__ import annotations

import argparse
from pathlib import Path

from msdepth.cli.common import add_common_flags, emit, json_target, status


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "quickstart",
        help="the whole walk on built-in synthetic rooms in about 10 minutes",
        description="Synthesise rooms, train coarse then fine within --minutes, evaluate on the "
        "held-out split against a constant baseline, write panels and a report.",
    )
    p.add_argument(
        "--out", type=Path, default=Path("demo-out"), help="output folder (default demo-out)"
    )
    p.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget (default 10)")
    p.add_argument(
        "--train-images", type=int, default=4000, help="synthetic training rooms (one image each)"
    )
    p.add_argument(
        "--val-images", type=int, default=100, help="synthetic validation images (default 100)"
    )
    p.add_argument("--test-images", type=int, default=200, help="synthetic held-out images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--real", type=Path, help="folder/CSV of real RGB-D pairs to also report (zero-shot)"
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="config override, e.g. --set train.batch_size=32 (repeatable)",
    )
    add_common_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from msdepth.devices import describe_device, resolve_device
    from msdepth.quickstart import QuickstartSettings, format_report, run_quickstart

    json_target(args)
    status(args, f"device: {describe_device(resolve_device(args.device))}")
    report = run_quickstart(
        QuickstartSettings(
            out=args.out,
            minutes=args.minutes,
            train_images=args.train_images,
            val_images=args.val_images,
            test_images=args.test_images,
            seed=args.seed,
            real=args.real,
            overrides=args.overrides,
            progress=not args.quiet and args.json != "-",
            device=args.device,
        )
    )
    emit(args, report.to_dict(), format_report(report))
    return 0

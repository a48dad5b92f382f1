"""`msdepth synth`: render synthetic indoor rooms into a prepared dataset (no download needed)."""

from __future__ import annotations

import argparse
import math
import re

from msdepth.cli.common import add_common_flags, emit, json_target
from msdepth.errors import ConfigError


def parse_size(text: str, flag: str = "--size") -> tuple[int, int]:
    """'320x240' -> (320, 240); anything else is a one-line ConfigError."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise ConfigError(f"{flag} {text!r} is not WIDTHxHEIGHT; write e.g. {flag} 320x240")
    return int(m.group(1)), int(m.group(2))


def parse_fov(text: str) -> float | tuple[float, float]:
    """'63' -> 63.0, '45:80' -> (45.0, 80.0); range checks in `synth.dataset.check_fov`."""
    parts = text.split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(math.isfinite(v) for v in values):
        raise ConfigError(f"--fov {text!r} is not DEGREES or MIN:MAX; write e.g. --fov 63 or 45:80")
    return values[0] if len(values) == 1 else (values[0], values[1])


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="render synthetic indoor RGB-D scenes into a prepared dataset",
        description="Render procedural rooms with exact metric depth and Kinect-like sensor "
        "effects into a prepared dataset (same format as `msdepth prepare`).",
    )
    p.add_argument("--out", required=True, help="dataset folder to create")
    p.add_argument("--train", type=int, default=None, help="training images (default 1000)")
    p.add_argument("--val", type=int, default=None, help="validation images (default 0)")
    p.add_argument("--test", type=int, default=None, help="test images (default 100)")
    p.add_argument(
        "--sequence",
        type=int,
        default=None,
        metavar="N",
        help="instead: N frames of a hand-held camera walking through one room (split test, "
        "poses, frames.mp4)",
    )
    p.add_argument("--fps", type=int, default=30, help="--sequence: frames per second (30)")
    p.add_argument("--seed", type=int, default=0, help="same seed, same data, bit for bit")
    p.add_argument("--size", default="320x240", help="image WIDTHxHEIGHT (default 320x240)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    p.add_argument(
        "--clean-depth",
        action="store_true",
        help="store exact depth instead of Kinect-like depth (noise and holes)",
    )
    p.add_argument(
        "--contact-sheet", metavar="PNG", help="also save 16 test (or train) samples as a PNG"
    )
    p.add_argument(
        "--fov",
        default=None,
        metavar="DEG|MIN:MAX",
        help="horizontal field of view in degrees, fixed or drawn per frame from MIN:MAX "
        "(intrinsics stored per frame; --sequence: one angle for the clip); default NYU's "
        "Kinect (63.3 degrees)",
    )
    add_common_flags(p, device=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from msdepth.synth import synthesize_dataset

    size = parse_size(args.size)
    json_target(args)
    fov = parse_fov(args.fov) if args.fov is not None else None
    if args.sequence is not None:
        return _sequence(args, size, fov)
    train = 1000 if args.train is None else args.train
    test = 100 if args.test is None else args.test
    val = 0 if args.val is None else args.val
    out = synthesize_dataset(
        args.out,
        train=train,
        test=test,
        seed=args.seed,
        size=size,
        overwrite=args.overwrite,
        workers=args.workers,
        sensor=not args.clean_depth,
        progress=not args.quiet and args.json != "-",
        val=val,
        fov=fov,
    )
    vals = f" + {val} val" if val else ""
    lines = [f"wrote {out} ({train} train{vals} + {test} test, {size[0]}x{size[1]})"]
    result = {
        "dataset": str(out),
        "train": train,
        "val": val,
        "test": test,
        "size": list(size),
        "fov_deg": list(fov) if isinstance(fov, tuple) else fov,
    }
    if args.contact_sheet:
        from msdepth.data.contact_sheet import save_contact_sheet

        split = "test" if test > 0 else "train"
        sheet = save_contact_sheet(args.contact_sheet, out, split=split)
        lines.append(f"wrote {sheet}")
        result["contact_sheet"] = str(sheet)
    emit(args, result, "\n".join(lines))
    return 0


def _sequence(
    args: argparse.Namespace, size: tuple[int, int], fov: float | tuple[float, float] | None
) -> int:
    """``--sequence N``: one room, a hand-held walk through it (`msdepth.synth.sequence`)."""
    from msdepth.synth.sequence import synthesize_sequence

    if args.train is not None or args.test is not None or args.val is not None:
        raise ConfigError("--sequence renders one clip (split test); drop --train/--val/--test")
    if isinstance(fov, tuple):
        raise ConfigError(
            f"--fov {args.fov}: a --sequence clip has one camera; give one angle, e.g. --fov 63"
        )
    w, h = size
    if w < 32 or h < 24:
        raise ConfigError(f"image size {w}x{h} is too small; use at least 32x24 (default 320x240)")
    out = synthesize_sequence(
        args.out,
        frames=args.sequence,
        seed=args.seed,
        size=size,
        fps=args.fps,
        sensor=not args.clean_depth,
        overwrite=args.overwrite,
        progress=not args.quiet and args.json != "-",
        fov=fov,
    )
    lines = [
        f"wrote {out} ({args.sequence} frames of one room at {args.fps} fps, {w}x{h}; "
        f"poses in test/poses.npy, video {out / 'frames.mp4'})"
    ]
    result = {
        "dataset": str(out),
        "sequence": args.sequence,
        "fps": args.fps,
        "size": list(size),
        "fov_deg": fov,
        "video": str(out / "frames.mp4"),
    }
    if args.contact_sheet:
        from msdepth.data.contact_sheet import save_contact_sheet

        sheet = save_contact_sheet(args.contact_sheet, out, split="test")
        lines.append(f"wrote {sheet}")
        result["contact_sheet"] = str(sheet)
    emit(args, result, "\n".join(lines))
    return 0

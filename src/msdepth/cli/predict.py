"""`msdepth predict`: depth maps, pictures and point clouds for your own images and videos."""

from __future__ import annotations

import argparse
from pathlib import Path

from msdepth.cli.common import add_common_flags, emit, json_target, status
from msdepth.errors import ConfigError

OUTPUT_KINDS = ("color", "png16", "npy", "panel", "ply")


def _kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    bad = [k for k in kinds if k not in OUTPUT_KINDS]
    if bad:
        raise argparse.ArgumentTypeError(
            f"unknown output {bad[0]!r}; choose from {', '.join(OUTPUT_KINDS)}"
        )
    return kinds


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="predict depth for images, folders, globs or videos",
        description="Writes NAME.<ext> per input into --out; depth at each input's full size.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image, folder, 'glob*', or video")
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", help="checkpoint file or run folder")
    model.add_argument("--onnx", help="ONNX model from `msdepth export` (runs on ONNX Runtime)")
    p.add_argument("--out", type=Path, required=True, help="output folder (created)")
    p.add_argument(
        "--save",
        type=_kinds,
        action="append",
        default=None,
        help="comma-separated outputs: color, png16, npy, panel, ply (default color,npy)",
    )
    p.add_argument(
        "--colorbar", action="store_true", help="add a colour bar in metres to color/panel"
    )
    p.add_argument(
        "--vmin", type=float, default=None, help="colour range start (m; default 2nd pct)"
    )
    p.add_argument(
        "--vmax", type=float, default=None, help="colour range end (m; default 98th pct)"
    )
    p.add_argument("--ply-ascii", action="store_true", help="ASCII PLY instead of binary")
    p.add_argument("--max-depth", type=float, default=None, help="leave farther points out of PLY")
    p.add_argument("--fx", type=float, default=None, help="focal length x in pixels (PLY)")
    p.add_argument("--fy", type=float, default=None, help="focal length y in pixels (PLY)")
    p.add_argument("--cx", type=float, default=None, help="principal point x in pixels (PLY)")
    p.add_argument("--cy", type=float, default=None, help="principal point y in pixels (PLY)")
    p.add_argument(
        "--fov", type=float, default=None, help="horizontal field of view, degrees (PLY)"
    )
    p.add_argument("--every", type=int, default=1, help="videos: every N-th frame (default 1)")
    p.add_argument("--flip-tta", action="store_true", help="average with the mirrored image")
    p.add_argument("--batch-size", type=int, default=8, help="images per network call (default 8)")
    add_common_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from msdepth.fileio import ensure_folder
    from msdepth.inference import load
    from msdepth.inference.inputs import expand_paths, is_video, iter_frames
    from msdepth.inference.outputs import OutputOptions, write_outputs

    kinds = tuple(dict.fromkeys(k for group in (args.save or [["color", "npy"]]) for k in group))
    if args.every < 1:
        raise ConfigError(f"--every must be at least 1, got {args.every}")
    options = OutputOptions(
        kinds=kinds,
        colorbar=args.colorbar,
        vmin=args.vmin,
        vmax=args.vmax,
        ply_ascii=args.ply_ascii,
        max_depth=args.max_depth,
        fx=args.fx,
        fy=args.fy,
        cx=args.cx,
        cy=args.cy,
        fov=args.fov,
    )
    json_target(args)
    ensure_folder(args.out, "--out folder")
    paths = expand_paths(args.inputs)
    inputs = {p.resolve() for p in paths}
    predictor = load(args.onnx or args.checkpoint, device=args.device, batch_size=args.batch_size)
    status(args, f"device: {predictor.device} ({predictor.backend.name})")
    total = None if any(is_video(p) for p in paths) else len(paths)
    frames = iter_frames([str(p) for p in paths], every=args.every)
    count = 0
    bar = tqdm(total=total, desc="predict", unit="img", disable=args.quiet or args.json == "-")
    files: list[str] = []
    for (frame, rgb), depth in predictor.predict_stream(
        frames, rgb_of=lambda item: item[1], flip_tta=args.flip_tta
    ):
        files += map(str, write_outputs(args.out, frame.name, rgb, depth, options, protect=inputs))
        count += 1
        bar.update(1)
    bar.close()
    result = {"images": count, "out": str(args.out), "device": predictor.device, "files": files}
    emit(args, result, f"wrote {', '.join(kinds)} for {count} image(s) to {args.out}")
    return 0

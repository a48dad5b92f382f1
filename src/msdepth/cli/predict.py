"""`msdepth predict`: depth maps, pictures and point clouds for your own images and videos."""

from __future__ import annotations

import argparse
from pathlib import Path

from msdepth.cli.common import add_common_flags, emit, json_target, status
from msdepth.errors import ConfigError

OUTPUT_KINDS = ("color", "png16", "npy", "panel", "ply", "video")


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
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image, folder, 'glob*', or video")
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", help="checkpoint file or run folder")
    model.add_argument("--onnx", help="ONNX model from `msdepth export` (runs on ONNX Runtime)")
    p.add_argument("--out", type=Path, required=True, help="output folder (created)")
    p.add_argument(
        "--save",
        type=_kinds,
        action="append",
        default=None,
        help="comma-separated outputs: color, png16, npy, panel, ply, video (videos: "
        "NAME.depth.mp4) (default color,npy)",
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
    p.add_argument(
        "--stabilize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="videos and --camera: remove scale drift and flicker over time (default on; "
        "--no-stabilize for independent frames)",
    )
    p.add_argument(
        "--panel", action="store_true", help="--save video: the input and the depth side by side"
    )
    p.add_argument(
        "--camera",
        type=int,
        default=None,
        metavar="INDEX",
        help="live input from camera INDEX (Linux /dev/videoINDEX) instead of files",
    )
    p.add_argument(
        "--frames", type=int, default=None, help="--camera: stop after N frames (default Ctrl-C)"
    )
    p.add_argument("--flip-tta", action="store_true", help="average with the mirrored image")
    p.add_argument("--batch-size", type=int, default=8, help="images per network call (default 8)")
    add_common_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from msdepth.fileio import ensure_folder
    from msdepth.inference import load
    from msdepth.inference.inputs import expand_paths, is_video, unique_names
    from msdepth.inference.outputs import OutputOptions

    kinds = tuple(dict.fromkeys(k for group in (args.save or [["color", "npy"]]) for k in group))
    if args.every < 1:
        raise ConfigError(f"--every must be at least 1, got {args.every}")
    if args.camera is None and not args.inputs:
        raise ConfigError("give at least one INPUT (image, folder, glob or video) or --camera")
    if args.camera is not None and args.inputs:
        raise ConfigError("--camera reads the camera only; drop the INPUT files or --camera")
    if args.frames is not None and args.frames < 1:
        raise ConfigError(f"--frames must be at least 1, got {args.frames}")
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
    paths = [] if args.camera is not None else expand_paths(args.inputs)
    named = list(zip(paths, unique_names([p.stem for p in paths]), strict=True))
    if "video" in kinds and args.camera is None and not any(is_video(p) for p in paths):
        raise ConfigError(
            "--save video writes NAME.depth.mp4 for video inputs or --camera; no input is a video"
        )
    inputs = {p.resolve() for p in paths}
    predictor = load(args.onnx or args.checkpoint, device=args.device, batch_size=args.batch_size)
    status(args, f"device: {predictor.device} ({predictor.backend.name})")
    total = None if args.camera is not None or any(is_video(p) for p in paths) else len(paths)
    bar = tqdm(total=total, desc="predict", unit="img", disable=args.quiet or args.json == "-")
    files: list[str] = []
    images = [(p, n) for p, n in named if not is_video(p)]
    count = _predict_images(args, predictor, images, options, inputs, bar, files)
    clips = [(p, n) for p, n in named if is_video(p)]
    if args.camera is not None:
        clips.append((None, f"camera{args.camera}"))
    lines, videos = [], []
    for path, name in clips:
        clip = _predict_clip(args, predictor, path, name, options, inputs, bar)
        files += clip.files
        videos.append(clip.to_dict())
        lines.append(_describe(clip, args.out))
    bar.close()
    if images or not clips:
        frame_kinds = ", ".join(k for k in kinds if k != "video")
        lines.insert(0, f"wrote {frame_kinds} for {count} image(s) to {args.out}")
    result = {"images": count, "out": str(args.out), "device": predictor.device, "files": files,
              "videos": videos}  # fmt: skip
    emit(args, result, "\n".join(lines))
    return 0


def _predict_images(args, predictor, named, options, inputs, bar, files: list[str]) -> int:
    """Image files: batched through the network, each file's outputs written as it comes."""
    from msdepth.data.images import read_rgb
    from msdepth.inference.outputs import write_outputs

    count = 0
    items = ((name, read_rgb(path)) for path, name in named)
    for (name, rgb), depth in predictor.predict_stream(
        items, rgb_of=lambda item: item[1], flip_tta=args.flip_tta
    ):
        files += map(str, write_outputs(args.out, name, rgb, depth, options, protect=inputs))
        count += 1
        bar.update(1)
    return count


def _predict_clip(args, predictor, path, name, options, inputs, bar):
    """A video file (two passes, one colour range) or the live camera (`inference.video`)."""
    from msdepth.inference.video import FrameLayout, predict_camera, predict_video

    layout = FrameLayout(panel=args.panel, colorbar=args.colorbar)
    common = dict(
        video="video" in options.kinds,
        layout=layout,
        stabilize=args.stabilize,
        flip_tta=args.flip_tta,
        progress=bar.update,
    )
    if path is None:
        return predict_camera(predictor, args.camera, args.out, name, options,
                              max_frames=args.frames, **common)  # fmt: skip
    return predict_video(predictor, path, args.out, name, options, every=args.every,
                         protect=inputs, **common)  # fmt: skip


def _describe(clip, out: Path) -> str:
    w, h = clip.size
    wrote = [str(clip.video)] if clip.video else []
    if clip.files:
        wrote.append(f"{len(clip.files)} per-frame file(s) in {out}")
    return (
        f"{clip.source}: {clip.frames} frames at {float(clip.rate):.4g} fps, {w}x{h}"
        f"{', stabilized' if clip.stabilizer else ''}; colours {clip.depth_range.vmin:.3g} m "
        f"(bright) to {clip.depth_range.vmax:.3g} m (dark); wrote {' and '.join(wrote)}"
    )

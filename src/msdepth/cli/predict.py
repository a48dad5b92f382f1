"""`msdepth predict`: depth maps, pictures and point clouds for your own images and videos."""

from __future__ import annotations

import argparse
from pathlib import Path

from msdepth.cli.common import add_common_flags, emit, json_target, status
from msdepth.errors import ConfigError, DataError

OUTPUT_KINDS = ("color", "png16", "npy", "json", "npz", "panel", "ply", "mesh", "glb", "video")
ALIGN_SUFFIXES = (".csv", ".txt", ".png", ".npy", ".pgm", ".tif", ".tiff")


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
        description="Writes NAME.<ext> per input into --out; depth at each input's full size, "
        "in metres for the input's camera (--focal/--fov, else EXIF, else the training camera).",
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
        help="comma-separated outputs: color, png16, npy, json, npz, panel, ply, mesh, glb, "
        "video (videos: NAME.depth.mp4) (default color,npy,json)",
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
    p.add_argument(
        "--max-depth", type=float, default=None, help="leave farther points out of PLY/mesh"
    )
    p.add_argument(
        "--keep-edges",
        action="store_true",
        help="keep flying pixels at depth discontinuities in PLY (and faces across them in meshes)",
    )
    cam = p.add_argument_group("camera (sets the metres and the point cloud's K)")
    cam.add_argument(
        "--focal",
        default=None,
        metavar="PX|exif",
        help="horizontal focal length in pixels of the input image, or 'exif' to require it "
        "from the EXIF; default: EXIF when usable, else the training camera",
    )
    cam.add_argument("--fov", type=float, default=None, help="horizontal field of view, degrees")
    cam.add_argument(
        "--narrow",
        choices=("rule", "canonical"),
        default="rule",
        help="a camera narrower than the training camera: 'rule' multiplies depth by f_input / f_train (default), 'canonical' shrinks the image to the training camera's scale first (docs/inference.md)",
    )
    cam.add_argument("--fx", type=float, default=None, help="same as --focal PX")
    cam.add_argument("--fy", type=float, default=None, help="vertical focal in pixels (K only)")
    cam.add_argument("--cx", type=float, default=None, help="principal point x in pixels")
    cam.add_argument("--cy", type=float, default=None, help="principal point y in pixels")
    align = p.add_argument_group("alignment to known distances")
    align.add_argument(
        "--align",
        type=Path,
        default=None,
        metavar="POINTS",
        help="CSV of u,v,depth_m or a sparse depth image (one input), or a folder of "
        "NAME.csv / NAME.png per input",
    )
    align.add_argument(
        "--align-mode",
        default="scale",
        help="scale (default; median of ratios) or scale-shift (inverse depth, outliers out)",
    )
    align.add_argument(
        "--depth-format", default="nyu", help="encoding of a sparse depth image (default nyu)"
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


def camera_spec(args: argparse.Namespace):
    """The `CameraSpec` of the camera flags (checked: one line per bad value)."""
    from msdepth.inference.camera import CameraSpec

    if args.focal is not None and args.fx is not None:
        raise ConfigError("--focal and --fx say the same thing; give one of them")
    focal = args.focal if args.focal is not None else args.fx
    return CameraSpec(
        focal=focal, fov=args.fov, fy=args.fy, cx=args.cx, cy=args.cy, narrow=args.narrow
    )


def _align_source(align: Path | None, paths: list[Path]):
    """``name -> points file`` for the inputs, from a file (one image) or a folder."""
    from msdepth.inference.inputs import is_video

    if align is None:
        return None
    if align.is_dir():

        def lookup(name: str) -> Path:
            for suffix in ALIGN_SUFFIXES:
                if (align / f"{name}{suffix}").is_file():
                    return align / f"{name}{suffix}"
            raise DataError(
                f"--align folder {align} has no points for {name} "
                f"({name}.csv, {name}.png, ...); add them or drop that input"
            )

        return lookup
    if not align.is_file():
        raise DataError(
            f"--align points {align} does not exist (a CSV of u,v,depth_m, a depth image or a folder)"
        )
    if len(paths) != 1 or is_video(paths[0]):
        raise ConfigError(
            f"--align {align} fits one image; for several inputs give a folder of NAME.csv files"
        )
    return lambda name: align


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from msdepth.fileio import ensure_folder
    from msdepth.inference import load
    from msdepth.inference.align import check_mode
    from msdepth.inference.inputs import expand_paths, is_video, unique_names
    from msdepth.inference.outputs import DEFAULT_KINDS, OutputOptions

    kinds = tuple(dict.fromkeys(k for group in (args.save or [DEFAULT_KINDS]) for k in group))
    if args.every < 1:
        raise ConfigError(f"--every must be at least 1, got {args.every}")
    if args.camera is None and not args.inputs:
        raise ConfigError("give at least one INPUT (image, folder, glob or video) or --camera")
    if args.camera is not None and args.inputs:
        raise ConfigError("--camera reads the camera only; drop the INPUT files or --camera")
    if args.frames is not None and args.frames < 1:
        raise ConfigError(f"--frames must be at least 1, got {args.frames}")
    spec = camera_spec(args)
    check_mode(args.align_mode)
    json_target(args)
    options = OutputOptions(
        kinds=kinds,
        colorbar=args.colorbar,
        vmin=args.vmin,
        vmax=args.vmax,
        ply_ascii=args.ply_ascii,
        max_depth=args.max_depth,
        keep_edges=args.keep_edges,
    ).check()
    ensure_folder(args.out, "--out folder")
    paths = [] if args.camera is not None else expand_paths(args.inputs)
    named = list(zip(paths, unique_names([p.stem for p in paths]), strict=True))
    if "video" in kinds and args.camera is None and not any(is_video(p) for p in paths):
        raise ConfigError(
            "--save video writes NAME.depth.mp4 for video inputs or --camera; no input is a video"
        )
    points_for = _align_source(args.align, paths)
    inputs = {p.resolve() for p in paths}
    predictor = load(args.onnx or args.checkpoint, device=args.device, batch_size=args.batch_size)
    status(args, f"device: {predictor.device} ({predictor.backend.name})")
    total = None if args.camera is not None or any(is_video(p) for p in paths) else len(paths)
    bar = tqdm(total=total, desc="predict", unit="img", disable=args.quiet or args.json == "-")
    images = [(p, n) for p, n in named if not is_video(p)]
    per_image = _predict_images(args, predictor, images, options, inputs, bar, spec, points_for)
    files = [f for image in per_image for f in image["files"]]
    clips = [(p, n) for p, n in named if is_video(p)]
    if args.camera is not None:
        clips.append((None, f"camera{args.camera}"))
    lines, videos = [], []
    for path, name in clips:
        clip = _predict_clip(args, predictor, path, name, options, inputs, bar, spec)
        files += clip.files
        videos.append(clip.to_dict())
        lines.append(_describe(clip, args.out))
    bar.close()
    if images or not clips:
        frame_kinds = ", ".join(k for k in kinds if k != "video")
        lines.insert(0, f"wrote {frame_kinds} for {len(per_image)} image(s) to {args.out}")
    result = {"images": len(per_image), "out": str(args.out), "device": predictor.device,
              "files": files, "model": str(predictor.source), "outputs": list(kinds),
              "per_image": per_image, "videos": videos}  # fmt: skip
    emit(args, result, "\n".join(lines))
    return 0


def _predict_images(
    args, predictor, named, options, inputs, bar, spec, points_for
) -> list[dict[str, object]]:
    """Image files: batched through the network, each in metres for its own camera (``spec``,
    else its EXIF, else the training camera), aligned when ``points_for`` gives points, each
    file's outputs written as it comes. Returns one row per image (the JSON's ``per_image``)."""
    from msdepth.data.images import read_rgb
    from msdepth.inference.outputs import write_outputs

    rows: list[dict[str, object]] = []
    items = ((path, name, read_rgb(path)) for path, name in named)

    def camera_of(item, width: int, height: int):
        return predictor.camera(item[0], width, height, spec, name=str(item[0]))

    for (path, name, rgb), prediction in predictor.infer_stream(
        items, rgb_of=lambda item: item[2], camera_of=camera_of, flip_tta=args.flip_tta
    ):
        if points_for is not None:
            prediction = predictor.align(
                prediction, points_for(name), args.align_mode, args.depth_format
            )
            fit = prediction.alignment
            status(
                args,
                f"{name}: aligned ({fit.mode}) to {fit.fit_points} of {fit.points} points; "
                f"held-out abs_rel {fit.before['held_out_abs_rel']:.3f} -> "
                f"{fit.after['held_out_abs_rel']:.3f} ({fit.held_out} points)",
            )
        if prediction.camera.note and not rows:
            status(args, f"note: {prediction.camera.note}")
        written = write_outputs(args.out, name, rgb, prediction, options, protect=inputs)
        meta = prediction.metadata()
        rows.append(
            {
                "name": name,
                "input": str(path),
                "files": [str(p) for p in written],
                **{k: meta[k] for k in ("size", "focal_px", "focal_source", "depth_factor")},
                "focal_rule": meta["focal_rule"],
                "aligned": meta["aligned"],
                **({"alignment": meta["alignment"]} if prediction.alignment else {}),
                "depth_m": meta["depth_m"],
            }
        )
        bar.update(1)
    return rows


def _predict_clip(args, predictor, path, name, options, inputs, bar, spec):
    """A video file (two passes, one colour range) or the live camera (`inference.video`);
    one camera for the whole clip (``spec``, else the training camera: videos carry no EXIF)."""
    from msdepth.inference.video import FrameLayout, predict_camera, predict_video

    layout = FrameLayout(panel=args.panel, colorbar=args.colorbar)
    common = dict(
        video="video" in options.kinds,
        layout=layout,
        stabilize=args.stabilize,
        flip_tta=args.flip_tta,
        progress=bar.update,
        camera_spec=spec,
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
        f"{', stabilized' if clip.stabilizer else ''}; focal {clip.camera.intrinsics.fx:.0f} px "
        f"({clip.camera.focal_source}); colours {clip.depth_range.vmin:.3g} m "
        f"(bright) to {clip.depth_range.vmax:.3g} m (dark); wrote {' and '.join(wrote)}"
    )

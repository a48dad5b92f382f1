"""`msdepth predict`: depth maps, pictures and point clouds for your own images and videos."""

from __future__ import annotations

import argparse
from pathlib import Path

from msdepth.cli.common import add_common_flags, emit, json_target, status
from msdepth.errors import ConfigError, DataError

OUTPUT_KINDS = ("color", "png16", "npy", "json", "npz", "panel", "ply", "mesh", "glb")
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
        help="comma-separated outputs: color, png16, npy, json, npz, panel, ply, mesh, glb "
        "(default color,npy,json)",
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
    return CameraSpec(focal=focal, fov=args.fov, fy=args.fy, cx=args.cx, cy=args.cy)


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
    from msdepth.inference.inputs import expand_paths, is_video, iter_frames
    from msdepth.inference.outputs import DEFAULT_KINDS, OutputOptions, write_outputs

    kinds = tuple(dict.fromkeys(k for group in (args.save or [DEFAULT_KINDS]) for k in group))
    if args.every < 1:
        raise ConfigError(f"--every must be at least 1, got {args.every}")
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
    paths = expand_paths(args.inputs)
    points_for = _align_source(args.align, paths)
    inputs = {p.resolve() for p in paths}
    predictor = load(args.onnx or args.checkpoint, device=args.device, batch_size=args.batch_size)
    status(args, f"device: {predictor.device} ({predictor.backend.name})")
    total = None if any(is_video(p) for p in paths) else len(paths)
    frames = iter_frames([str(p) for p in paths], every=args.every)
    images = []
    bar = tqdm(total=total, desc="predict", unit="img", disable=args.quiet or args.json == "-")

    def camera_of(item, width: int, height: int):
        frame, _ = item
        source = frame.path if frame.frame is None else None  # video frames carry no EXIF
        return predictor.camera(source, width, height, spec, name=str(frame.path))

    for (frame, rgb), prediction in predictor.infer_stream(
        frames, rgb_of=lambda item: item[1], camera_of=camera_of, flip_tta=args.flip_tta
    ):
        if points_for is not None:
            prediction = predictor.align(
                prediction, points_for(frame.name), args.align_mode, args.depth_format
            )
            fit = prediction.alignment
            status(
                args,
                f"{frame.name}: aligned ({fit.mode}) to {fit.fit_points} of {fit.points} points; "
                f"held-out abs_rel {fit.before['held_out_abs_rel']:.3f} -> "
                f"{fit.after['held_out_abs_rel']:.3f} ({fit.held_out} points)",
            )
        if prediction.camera.note and not images:
            status(args, f"note: {prediction.camera.note}")
        written = write_outputs(args.out, frame.name, rgb, prediction, options, protect=inputs)
        meta = prediction.metadata()
        images.append(
            {
                "name": frame.name,
                "input": str(frame.path),
                **({"frame": frame.frame} if frame.frame is not None else {}),
                "files": [str(p) for p in written],
                **{k: meta[k] for k in ("size", "focal_px", "focal_source", "depth_factor")},
                "focal_rule": meta["focal_rule"],
                "aligned": meta["aligned"],
                **({"alignment": meta["alignment"]} if prediction.alignment else {}),
                "depth_m": meta["depth_m"],
            }
        )
        bar.update(1)
    bar.close()
    files = [f for image in images for f in image["files"]]
    result = {"images": len(images), "out": str(args.out), "device": predictor.device,
              "files": files, "model": str(predictor.source), "outputs": list(kinds),
              "per_image": images}  # fmt: skip
    emit(args, result, f"wrote {', '.join(kinds)} for {len(images)} image(s) to {args.out}")
    return 0

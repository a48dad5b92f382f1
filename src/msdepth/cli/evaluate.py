"""`msdepth evaluate`: the paper's metrics for a checkpoint on NYU-style test data."""

from __future__ import annotations

import argparse

from msdepth.cli.common import add_common_flags, emit, json_target, status
from msdepth.metrics import CROPS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a checkpoint with the paper's protocol (Eigen crop, per-image metrics)",
        description="Predict whole frames, upsample to the ground truth's resolution, and report "
        "the paper's Table 1 columns beside the paper's own rows.",
    )
    p.add_argument("--checkpoint", required=True, help="checkpoint file, run folder or .onnx")
    p.add_argument(
        "--data",
        required=True,
        help="prepared dataset folder, CSV of rgb_path,depth_path, or folder of pairs",
    )
    p.add_argument("--split", default=None, help="split of a prepared dataset (default: test)")
    p.add_argument("--depth-dir", default=None, help="depth folder when --data is an RGB folder")
    p.add_argument(
        "--depth-format",
        default="nyu",
        help="encoding of depth files in a CSV/folder (nyu, kitti, tum, sun, pgm, ...; default nyu)",
    )
    p.add_argument(
        "--depth-scale",
        type=float,
        default=None,
        help="file value / scale = metres, overriding the format's (nyu: 1000)",
    )
    p.add_argument(
        "--crop", choices=list(CROPS), default=None, help="default eigen (garg with --kitti)"
    )
    p.add_argument("--min-depth", type=float, default=1e-3, help="valid ground truth above (m)")
    p.add_argument(
        "--max-depth", type=float, default=None, help="valid ground truth below (m; 10, KITTI 80)"
    )
    p.add_argument(
        "--kitti", action="store_true", help="KITTI defaults: --crop garg --max-depth 80"
    )
    p.add_argument("--median-scale", action="store_true", help="per-image median scaling")
    p.add_argument(
        "--focal",
        default=None,
        metavar="PX|exif",
        help="horizontal focal length in pixels of the test images (or 'exif'); default: EXIF "
        "when usable, else the training camera",
    )
    p.add_argument(
        "--fov", type=float, default=None, help="horizontal field of view of the test images, deg"
    )
    p.add_argument(
        "--narrow",
        choices=("rule", "canonical"),
        default="rule",
        help="a camera narrower than the training camera: 'rule' multiplies depth by f_input / f_train (default), 'canonical' shrinks the image to the training camera's scale first (docs/inference.md)",
    )
    p.add_argument("--flip-tta", action="store_true", help="average with the mirrored image")
    p.add_argument(
        "--stabilize",
        action="store_true",
        help="sequences (msdepth synth --sequence): stabilise over time as predict does videos",
    )
    p.add_argument("--pooled", action="store_true", help="also print pixel-pooled metrics")
    p.add_argument("--batch-size", type=int, default=8, help="images per network call (default 8)")
    add_common_flags(p)  # --json: metrics, per-image rows and settings
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from msdepth.errors import ConfigError
    from msdepth.evaluation import EvalSettings, evaluate, open_samples, results_table
    from msdepth.inference import load
    from msdepth.inference.camera import CameraSpec

    camera = CameraSpec(focal=args.focal, fov=args.fov, narrow=args.narrow)
    crop = args.crop or ("garg" if args.kitti else "eigen")
    default_max = 80.0 if args.kitti else 10.0
    max_depth = default_max if args.max_depth is None else args.max_depth
    settings = EvalSettings(
        crop=crop,
        min_depth=args.min_depth,
        max_depth=max_depth,
        median_scaling=args.median_scale,
        flip_tta=args.flip_tta,
        batch_size=args.batch_size,
    )
    json_target(args)
    source = open_samples(
        args.data, args.split, args.depth_format, args.depth_scale, depth_dir=args.depth_dir
    )
    if args.stabilize and source.sequence is None:
        raise ConfigError(
            f"--stabilize needs a sequence (frames of one video); {args.data} is not one "
            "(make one with msdepth synth --sequence N)"
        )
    predictor = load(args.checkpoint, device=args.device, batch_size=args.batch_size)
    status(args, f"device: {predictor.device} ({predictor.backend.name})")

    def progress(items):
        hide = args.quiet or args.json == "-"
        return tqdm(items, total=len(source), desc="evaluate", unit="img", disable=hide)

    result = evaluate(
        predictor,
        source,
        settings,
        progress=progress,
        extra_settings={
            **source.describe(),
            "depth_format": args.depth_format,
            "depth_scale": args.depth_scale,
        },
        camera=camera,
        sequence=source.sequence is not None,
        stabilize=args.stabilize,
    )
    lines = [
        f"{len(result.per_image)} images from {source.path} ({source.kind}, {source.resolution} "
        f"resolution); crop {crop}, {settings.min_depth} < gt < {settings.max_depth} m, "
        "per-image mean"
        + (", median-scaled" if settings.median_scaling else "")
        + (", flip TTA" if settings.flip_tta else "")
        + "; focal: "
        + ", ".join(result.settings["focal_sources"])
    ]
    if source.kind == "prepared":
        lines.append(
            "note: prepared datasets are evaluated at their stored resolution; for the paper's "
            "640x480 protocol evaluate the original pairs (CSV or folder)"
        )
    if result.skipped:
        lines.append(
            f"skipped {len(result.skipped)} image(s) without a valid pixel: {', '.join(result.skipped[:5])}"
        )
    lines.append(results_table(result.metrics, dataset="kitti" if args.kitti else "nyu"))
    if result.flicker is not None:
        lines.append(
            f"flicker {result.flicker['mean']:.4f} ({'stabilized' if args.stabilize else 'per frame'}"
            f"; mean |change of log depth| between consecutive frames where the ground truth "
            f"changed < 1%, {result.flicker['pairs']} frame pairs)"
        )
    if args.pooled:
        lines.append("pixel-pooled: " + "  ".join(f"{k} {v:.4f}" for k, v in result.pooled.items()))
    if args.json not in (None, "-"):
        lines.append(f"wrote {args.json}")
    emit(args, result.to_dict(), "\n".join(lines))
    return 0

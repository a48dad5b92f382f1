"""`msdepth prepare SOURCE ... --out DIR`: real RGB-D data into a prepared, metric dataset.

Sources: ``nyu-mat`` (the labelled NYU Depth V2 .mat with the official split), ``csv`` (a pair
list: ``rgb,depth`` lines or a BTS list) and ``folder`` (RGB and depth folders matched by name).
See docs/data.md.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from msdepth.cli.common import add_common_flags, emit, json_target
from msdepth.data.depth_formats import DEPTH_FORMATS
from msdepth.errors import ConfigError


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match or 0 in (int(match.group(1)), int(match.group(2))):
        raise argparse.ArgumentTypeError(f"size must look like 320x240 (WxH), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def _common(parser: argparse.ArgumentParser, single_split: bool) -> None:
    parser.add_argument("--out", required=True, type=Path, help="dataset folder to write")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing dataset (atomically)"
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--size",
        type=_size,
        metavar="WxH",
        help="stored size (default: the source halved, NYU 640x480 -> 320x240)",
    )
    size.add_argument(
        "--keep-size", action="store_true", help="store at the source's own resolution"
    )
    parser.add_argument(
        "--depth-dtype",
        choices=["float16", "float32"],
        default="float16",
        help="stored depth precision (default float16: ~1 cm at 10 m)",
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="decoding processes (default 0: this process)"
    )
    parser.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip unreadable/mismatched/all-invalid samples and list them in meta.json",
    )
    parser.add_argument("--no-progress", action="store_true", help=argparse.SUPPRESS)  # = --quiet
    add_common_flags(parser, device=False)
    if single_split:
        parser.add_argument("--split", default="test", help="split name to write (default: test)")
        formats = "; ".join(f"{k}: {v}" for k, v in DEPTH_FORMATS.items())
        parser.add_argument(
            "--depth-format",
            choices=list(DEPTH_FORMATS),
            default="nyu",
            metavar="FORMAT",
            help=f"depth encoding (default nyu). {formats}",
        )
        parser.add_argument(
            "--depth-scale",
            type=float,
            help="file value / scale = metres, replacing the format's divisor (e.g. 1000 for mm)",
        )
    cam = parser.add_argument_group("camera intrinsics at the source resolution (optional)")
    for name in ("fx", "fy", "cx", "cy"):
        cam.add_argument(f"--{name}", type=float)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare",
        help="convert RGB-D data (NYU .mat, CSV/BTS list, folders) into a prepared dataset",
        description="Convert real RGB-D data into a prepared dataset: RGB uint8, depth in "
        "metres, at half the source resolution by default. See docs/data.md.",
    )
    sources = p.add_subparsers(dest="source", metavar="SOURCE")
    sources.required = True

    nyu = sources.add_parser("nyu-mat", help="NYU Depth V2 labelled .mat + official splits.mat")
    nyu.add_argument("--mat", required=True, type=Path, help="nyu_depth_v2_labeled.mat")
    nyu.add_argument("--splits", required=True, type=Path, help="splits.mat (official split)")
    nyu.add_argument(
        "--raw-depth", action="store_true", help="also store rawDepths (for raw-depth evaluation)"
    )
    _common(nyu, single_split=False)

    csv = sources.add_parser("csv", help="a pair list: rgb,depth lines or a BTS list")
    csv.add_argument("--csv", required=True, type=Path, help="the list file")
    csv.add_argument(
        "--root", type=Path, help="folder the listed paths are relative to (default: the list's)"
    )
    csv.add_argument(
        "--allow-outside-root",
        action="store_true",
        help="accept listed paths that lead outside the root folder",
    )
    _common(csv, single_split=True)

    folder = sources.add_parser("folder", help="RGB and depth folders, files matched by name")
    folder.add_argument("--rgb", required=True, type=Path, help="folder of RGB images")
    folder.add_argument(
        "--depth", required=True, type=Path, help="folder of depth maps (may be the same)"
    )
    _common(folder, single_split=True)
    p.set_defaults(func=run)


def _intrinsics(args: argparse.Namespace) -> dict[str, float] | None:
    given = {k: getattr(args, k) for k in ("fx", "fy", "cx", "cy")}
    if all(v is None for v in given.values()):
        return None
    missing = [k for k, v in given.items() if v is None]
    if missing:
        raise ConfigError(f"intrinsics need all of --fx --fy --cx --cy; missing --{missing[0]}")
    return given  # type: ignore[return-value]


def run(args: argparse.Namespace) -> int:
    from msdepth.data.pairs import list_pairs_csv, list_pairs_folder, match_folder
    from msdepth.data.prepare import PrepareOptions, prepare_nyu_mat, prepare_pairs

    if args.workers < 0:
        raise ConfigError(f"--workers must be 0 or more, got {args.workers}")
    json_target(args)
    options = PrepareOptions(
        size=args.size,
        keep_size=args.keep_size,
        depth_format=getattr(args, "depth_format", "nyu"),
        depth_scale=getattr(args, "depth_scale", None),
        depth_dtype=args.depth_dtype,
        workers=args.workers,
        skip_bad=args.skip_bad,
        overwrite=args.overwrite,
        intrinsics=_intrinsics(args),
        progress=False if args.no_progress or args.quiet or args.json == "-" else None,
    )
    if args.source == "nyu-mat":
        out = prepare_nyu_mat(args.mat, args.splits, args.out, options, raw_depth=args.raw_depth)
    elif args.source == "csv":
        bad: list[tuple[str, str]] | None = [] if args.skip_bad else None
        pairs = list_pairs_csv(args.csv, args.allow_outside_root, root=args.root, bad_lines=bad)
        source = {"kind": "csv", "csv": str(args.csv), "depth_format": options.depth_format}
        out = prepare_pairs(pairs, args.out, args.split, source, options, bad or ())
    else:
        if args.skip_bad:
            pairs, unmatched = match_folder(args.rgb, args.depth)
            bad_files = [(str(p), "no partner file with the same name") for p in unmatched]
        else:
            pairs, bad_files = list_pairs_folder(args.rgb, args.depth), []
        source = {
            "kind": "folder",
            "rgb": str(args.rgb),
            "depth": str(args.depth),
            "depth_format": options.depth_format,
        }
        out = prepare_pairs(pairs, args.out, args.split, source, options, bad_files)
    meta = _summary(out)
    text = meta.pop("_text")
    emit(args, {"dataset": str(out), "meta": meta}, text)
    return 0


def _summary(out: Path) -> dict:
    """The dataset's meta.json, with its one-line summary under ``_text``."""
    from msdepth.data.prepared import read_meta

    meta = read_meta(out)
    w, h = meta["image_size"]
    parts = []
    for name, s in meta["splits"].items():
        skipped = f", {s['skipped']} skipped" if s["skipped"] else ""
        rng = (
            f", depth {s['depth_min']:.2f}-{s['depth_max']:.2f} m"
            if s["depth_min"] is not None
            else ""
        )
        parts.append(f"{name}: {s['count']}{skipped}{rng}")
    return {**meta, "_text": f"prepared {out} ({w}x{h}) - " + "; ".join(parts)}

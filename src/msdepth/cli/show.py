"""`msdepth show`: a contact sheet (RGB | depth pairs) of any prepared dataset."""

from __future__ import annotations

import argparse

from msdepth.cli.common import add_common_flags, emit, json_target
from msdepth.cli.synth import parse_size


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "show",
        help="save a contact sheet of a prepared dataset (RGB | colour-mapped depth)",
    )
    p.add_argument("dataset", help="prepared dataset folder (from `msdepth prepare` or `synth`)")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--split", default=None, help="split to show (default: test, else the only)")
    p.add_argument("--count", type=int, default=16, help="samples, spread evenly (default 16)")
    p.add_argument("--columns", type=int, default=4, help="RGB | depth pairs per row (default 4)")
    p.add_argument("--tile", default="160x120", help="size of each tile (default 160x120)")
    add_common_flags(p, device=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from msdepth.data.contact_sheet import save_contact_sheet
    from msdepth.data.prepared import read_meta

    json_target(args)
    split = args.split
    if split is None:
        splits = read_meta(args.dataset)["splits"]
        split = "test" if "test" in splits else None
    out = save_contact_sheet(
        args.out,
        args.dataset,
        split=split,
        count=args.count,
        tile=parse_size(args.tile, "--tile"),
        columns=args.columns,
    )
    emit(args, {"contact_sheet": str(out), "dataset": str(args.dataset)}, f"wrote {out}")
    return 0

"""`msdepth export`: ONNX (dynamic batch) and/or TorchScript from a checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from msdepth.export import ONNX_OPSET

    p = sub.add_parser(
        "export",
        help="export a checkpoint to ONNX and/or TorchScript",
        description="The exported network maps RGB in [0, 1] at the input size to log depth; "
        "run it with `msdepth predict --onnx` or msdepth.load('model.onnx').",
    )
    p.add_argument("--checkpoint", required=True, help="checkpoint file or run folder")
    p.add_argument("--onnx", type=Path, default=None, help="write an ONNX model here")
    p.add_argument("--torchscript", type=Path, default=None, help="write a TorchScript model here")
    p.add_argument(
        "--opset", type=int, default=ONNX_OPSET, help=f"ONNX opset (default {ONNX_OPSET})"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from msdepth.errors import ConfigError
    from msdepth.export import export_onnx, export_torchscript

    if args.onnx is None and args.torchscript is None:
        raise ConfigError("nothing to export; pass --onnx model.onnx and/or --torchscript model.pt")
    if args.onnx is not None:
        print(f"wrote {export_onnx(args.checkpoint, args.onnx, opset=args.opset)}")
    if args.torchscript is not None:
        print(f"wrote {export_torchscript(args.checkpoint, args.torchscript)}")
    return 0

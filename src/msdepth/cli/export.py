"""`msdepth export`: ONNX (dynamic batch) and/or TorchScript from a checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from msdepth.cli.common import add_common_flags, emit, json_target, status


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
    add_common_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from msdepth.errors import ConfigError
    from msdepth.export import export_onnx, export_torchscript

    if args.onnx is None and args.torchscript is None:
        raise ConfigError("nothing to export; pass --onnx model.onnx and/or --torchscript model.pt")
    from msdepth.devices import describe_device, resolve_device

    json_target(args)
    device = resolve_device(args.device)
    status(args, f"device: {describe_device(device)}")
    written: dict[str, str] = {}
    if args.onnx is not None:
        written["onnx"] = str(export_onnx(args.checkpoint, args.onnx, args.opset, str(device)))
    if args.torchscript is not None:
        written["torchscript"] = str(
            export_torchscript(args.checkpoint, args.torchscript, str(device))
        )
    emit(
        args, {"device": str(device), **written}, "\n".join(f"wrote {p}" for p in written.values())
    )
    return 0

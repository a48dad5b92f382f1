"""`msdepth app`: a local web page to try the model on your own photos (the ``[app]`` extra)."""

from __future__ import annotations

import argparse
import sys

from msdepth.cli.common import add_common_flags, emit, json_target, status
from msdepth.errors import ConfigError

APP_EXTRA_HINT = "msdepth app needs the app extra: pip install 'msdepth[app]'"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(sub: argparse._SubParsersAction) -> None:
    from msdepth.app.uploads import (
        DEFAULT_MAX_MEGAPIXELS,
        DEFAULT_MAX_UPLOAD_MB,
        DEFAULT_MAX_VIDEO_SECONDS,
    )

    p = sub.add_parser(
        "app",
        help="serve a local web page: drop a photo, see its depth, download the outputs",
        description="Serves a page on http://HOST:PORT/ until Ctrl+C. Downloads are the files "
        "`msdepth predict` writes for the same image and options. Needs the [app] extra.",
    )
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", help="checkpoint file or run folder")
    model.add_argument("--onnx", help="ONNX model from `msdepth export` (runs on ONNX Runtime)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 = everyone "
        "on your network)",
    )
    p.add_argument("--port", type=int, default=7860, help="port (default 7860; 0 = any free port)")
    p.add_argument(
        "--max-megapixels",
        type=float,
        default=DEFAULT_MAX_MEGAPIXELS,
        help=f"largest photo accepted (default {DEFAULT_MAX_MEGAPIXELS:g} MP)",
    )
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=DEFAULT_MAX_UPLOAD_MB,
        help=f"largest upload accepted (default {DEFAULT_MAX_UPLOAD_MB:g} MB)",
    )
    p.add_argument(
        "--max-video-seconds",
        type=float,
        default=DEFAULT_MAX_VIDEO_SECONDS,
        help=f"longest clip the video tab accepts (default {DEFAULT_MAX_VIDEO_SECONDS:g} s)",
    )
    add_common_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from msdepth.app.server import AppSettings, create_app, make_server, open_socket, url_of
    except ImportError as exc:
        raise ConfigError(f"{APP_EXTRA_HINT} ({exc.name} is missing)") from None
    from msdepth.devices import describe_device, resolve_device
    from msdepth.inference import load

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be 0..65535, got {args.port}")
    if args.max_megapixels <= 0 or args.max_upload_mb <= 0 or args.max_video_seconds <= 0:
        raise ConfigError(
            "--max-megapixels, --max-upload-mb and --max-video-seconds must be positive"
        )
    json_target(args)
    device = resolve_device(args.device)
    predictor = load(args.onnx or args.checkpoint, device=str(device), batch_size=1)
    sock = open_socket(args.host, args.port)
    url = url_of(sock)
    settings = AppSettings(
        checkpoint=args.onnx or args.checkpoint,
        max_megapixels=args.max_megapixels,
        max_upload_mb=args.max_upload_mb,
        max_video_seconds=args.max_video_seconds,
        allowed_hosts=AppSettings.allowed_hosts if args.host in LOOPBACK else None,
    )
    server = make_server(create_app(predictor, settings), quiet=args.quiet or args.json == "-")
    status(args, f"model: {predictor.source} on {describe_device(device)}")
    if args.host not in LOOPBACK:
        status(args, f"listening on {args.host}: anyone who can reach this machine can use it")
    emit(
        args,
        {"url": url, "checkpoint": str(predictor.source), "device": str(device)},
        f"msdepth app: open {url} in your browser (Ctrl+C stops it)",
    )
    sys.stdout.flush()  # a script reading the URL from a pipe gets it now
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0

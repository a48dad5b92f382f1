"""The flags every command takes the same way, and how a command reports its result.

- ``--device auto|cpu|cuda|cuda:N`` (commands that run the network): `msdepth.devices`.
- ``--quiet``: no progress bars and no status lines; the result and errors still print.
  Status lines (the device chosen) go to stdout, errors to stderr as one line.
- ``--json [PATH]``: the result as one JSON object, on stdout instead of the text (``--json``
  alone or ``--json -``), or written to PATH beside the text.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from msdepth.errors import ConfigError


def add_common_flags(parser: argparse.ArgumentParser, device: bool = True) -> None:
    """Add ``--quiet`` and ``--json`` (and ``--device`` when the command runs the network)."""
    if device:
        parser.add_argument(
            "--device",
            default="auto",
            help="auto (default: the CUDA GPU when PyTorch sees one, under torchrun the one of "
            "LOCAL_RANK; else the CPU), cpu, cuda or cuda:N",
        )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bars or status lines (errors still print)"
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        default=None,
        metavar="PATH",
        help="the result as JSON: on stdout (--json) or written to PATH",
    )


def json_target(args: argparse.Namespace) -> Path | None:
    """The ``--json PATH`` file, checked before any work starts (None for stdout or no JSON)."""
    if args.json in (None, "-"):
        return None
    path = Path(args.json)
    if path.is_dir():
        raise ConfigError(f"--json {path} is a folder; give a file name such as result.json")
    return path


def status(args: argparse.Namespace, line: str) -> None:
    """A status line (e.g. the device chosen) on stdout, unless ``--quiet`` or JSON on stdout;
    stderr stays for errors, one line each."""
    if not args.quiet and args.json != "-":
        print(line, flush=True)


def emit(args: argparse.Namespace, result: dict[str, Any], text: str) -> None:
    """Print the command's result: ``text``, or with ``--json`` the JSON of ``result``."""
    from msdepth.fileio import atomic_path

    payload = json.dumps(result, indent=2, default=str)
    if args.json == "-":
        print(payload)
        return
    if args.json is not None:
        path = Path(args.json)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(payload + "\n", encoding="utf-8")
    if text:
        print(text)

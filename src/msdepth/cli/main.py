"""The `msdepth` command: parses arguments and calls the package; every user error is one line.

Each subcommand lives in its own module of `msdepth.cli` exposing ``register(subparsers)`` which
adds its parser and sets ``func`` to a callable taking the parsed arguments.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from msdepth import __version__
from msdepth.errors import MsdepthError

# In the order of the walk: data, training, using the model.
SUBCOMMANDS = [
    "quickstart",
    "synth",
    "prepare",
    "show",
    "train",
    "evaluate",
    "predict",
    "export",
    "info",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="msdepth",
        description="Single-image depth prediction (Eigen, Puhrsch and Fergus, NIPS 2014).",
    )
    parser.add_argument("--version", action="version", version=f"msdepth {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(f"msdepth.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except MsdepthError as exc:
        print(f"msdepth {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"msdepth {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

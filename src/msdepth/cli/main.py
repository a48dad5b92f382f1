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
    "app",
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


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code.

    User errors (`MsdepthError`) and what the machine refuses (`OSError`: disk full, permission
    denied, ...; `MemoryError`) are printed as one line and exit with 2; anything else is a
    bug and keeps its traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except MsdepthError as exc:
        print(f"msdepth {args.command}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(
            f"msdepth {args.command}: error: {_one_line(exc.strerror or str(exc))}{where}",
            file=sys.stderr,
        )
        return 2
    except MemoryError:
        print(
            f"msdepth {args.command}: error: out of memory; use smaller images, batches or "
            "fewer workers",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"msdepth {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

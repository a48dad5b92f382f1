"""`msdepth info`: the paper's network for a given input size, layer by layer."""

from __future__ import annotations

import argparse

from msdepth.cli.common import add_common_flags, emit
from msdepth.config import ModelConfig
from msdepth.models import MultiScaleDepth, count_parameters


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show the network's geometry and parameter counts")
    p.add_argument(
        "--width", type=int, default=ModelConfig.input_width, help="input width (default 304)"
    )
    p.add_argument(
        "--height", type=int, default=ModelConfig.input_height, help="input height (default 228)"
    )
    add_common_flags(p, device=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from msdepth.errors import ConfigError

    if args.width < 64 or args.height < 64:
        raise ConfigError(f"input {args.width}x{args.height} is too small; use at least 64x64")
    model = MultiScaleDepth(ModelConfig(input_width=args.width, input_height=args.height))
    g = model.geometry
    coarse, fine = count_parameters(model.coarse), count_parameters(model.fine)
    lines = [
        f"input        {g.input_hw[1]}x{g.input_hw[0]} RGB",
        f"coarse5 map  {g.coarse5_hw[1]}x{g.coarse5_hw[0]}x256 -> fc6 {g.fc6_in} -> 4096 -> fc7 {g.fc7_out}",
        f"output       {g.output_hw[1]}x{g.output_hw[0]} log depth",
        f"parameters   coarse {coarse:,}  fine {fine:,}",
    ]
    result = {
        "input_hw": list(g.input_hw),
        "coarse5_hw": list(g.coarse5_hw),
        "output_hw": list(g.output_hw),
        "fc6_in": g.fc6_in,
        "fc7_out": g.fc7_out,
        "parameters": {"coarse": coarse, "fine": fine},
    }
    emit(args, result, "\n".join(lines))
    return 0

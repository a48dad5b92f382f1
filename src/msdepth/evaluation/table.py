"""The results table: this checkpoint beside the paper's own rows (Eigen et al. 2014, Table 1).

Columns follow the paper: d1 d2 d3 abs_rel sq_rel rmse rmse_log si_log. The paper's "si log" is
the square root of the scale-invariant error, sqrt(mean d^2 - (mean d)^2); `msdepth.metrics`
reports it x100 as ``silog`` (BTS style), so the table shows ``silog / 100``.
"""

from __future__ import annotations

import math

COLUMNS = ("d1", "d2", "d3", "abs_rel", "sq_rel", "rmse", "rmse_log", "si_log")
# Our metric names for each column, and the factor from our value to the paper's.
SOURCES = {
    "d1": ("delta1", 1.0),
    "d2": ("delta2", 1.0),
    "d3": ("delta3", 1.0),
    "abs_rel": ("abs_rel", 1.0),
    "sq_rel": ("sq_rel", 1.0),
    "rmse": ("rmse", 1.0),
    "rmse_log": ("rmse_log", 1.0),
    "si_log": ("silog", 0.01),
}
# ../shared/docs/paper.md, "Results to beat" (the paper's Tables 1-2).
PAPER_ROWS = {
    "nyu": {
        "paper NYU coarse": (0.618, 0.891, 0.969, 0.228, 0.223, 0.871, 0.283, 0.221),
        "paper NYU coarse+fine": (0.611, 0.887, 0.971, 0.215, 0.212, 0.907, 0.285, 0.219),
    },
    "kitti": {
        "paper KITTI coarse+fine": (0.692, 0.899, 0.967, 0.190, 1.515, 7.156, 0.270, 0.246),
    },
}


def paper_columns(metrics: dict[str, float]) -> tuple[float, ...]:
    """Our metrics dict -> the paper's eight columns (si_log = silog / 100)."""
    return tuple(metrics[name] * factor for name, factor in (SOURCES[c] for c in COLUMNS))


def format_table(rows: dict[str, tuple[float, ...]], label_width: int | None = None) -> str:
    """Fixed-width text table, one row per entry, the paper's column order."""
    width = label_width or max(len(label) for label in rows)
    lines = [f"{'':<{width}}  " + " ".join(f"{c:>8}" for c in COLUMNS)]
    for label, values in rows.items():
        cells = " ".join("     nan" if math.isnan(v) else f"{v:8.3f}" for v in values)
        lines.append(f"{label:<{width}}  {cells}")
    return "\n".join(lines)


def results_table(
    metrics: dict[str, float], label: str = "this checkpoint", dataset: str = "nyu"
) -> str:
    """This checkpoint's row above the paper's rows for ``dataset`` ("nyu" or "kitti")."""
    rows = {label: paper_columns(metrics), **PAPER_ROWS.get(dataset, {})}
    return format_table(rows) + "\n(si_log = sqrt of the scale-invariant error = our silog / 100)"

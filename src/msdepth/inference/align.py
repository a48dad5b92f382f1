"""Alignment to known distances: fit a prediction to sparse depths a user measured.

The known depths are a CSV of ``u,v,depth_m`` (column, row in pixels of the input image, pixel
centres at integer coordinates; the nearest pixel is used; a header line is allowed) or a
sparse depth image of the input's size in any ``--depth-format`` (LiDAR, a measured wall; its
valid pixels are the points).

Two fits (``mode``):

- ``scale`` (default): depth x s, s = median of known / predicted over the points. Robust: up
  to half the points may be wrong.
- ``scale-shift``: least squares in inverse depth, 1/d' = a/d + b (what a relative-depth model
  is off by), with outlier rejection: points whose residual is over 3 robust sigmas (1.4826 x
  MAD) are dropped and the fit repeated, at most 5 times. Pixels where a/d + b <= 0 (beyond
  infinity) become invalid (0).

One point in five (at least one; a fixed shuffle, seed 0) is held out of the fit; the report
gives abs_rel and RMSE on the held-out points before and after alignment, an honest estimate of
the error elsewhere, and on the fitted points. The fit needs at least 1 (``scale``) or 2
(``scale-shift``) points besides the held-out one.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from msdepth.errors import ConfigError, DataError

ALIGN_MODES = ("scale", "scale-shift")
MIN_FIT_POINTS = {"scale": 1, "scale-shift": 2}
HOLDOUT_EVERY = 5  # one point in five is held out of the fit
MAX_REJECTION_ROUNDS = 5
OUTLIER_SIGMAS = 3.0
POINT_SUFFIXES = (".csv", ".txt")


@dataclass(frozen=True)
class DepthPoints:
    """Known depths: integer pixel ``u`` (column), ``v`` (row), ``depth`` metres; ``source``."""

    u: np.ndarray
    v: np.ndarray
    depth: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.depth)


def read_points(
    path: str | Path,
    width: int,
    height: int,
    depth_format: str = "nyu",
    depth_scale: float | None = None,
) -> DepthPoints:
    """Known depths for an image ``width`` x ``height`` from a CSV (``.csv``/``.txt``) or a
    sparse depth image; every bad line or point is a one-line `DataError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"--align points {path} does not exist (a CSV of u,v,depth_m or a depth image)"
        )
    if path.suffix.lower() in POINT_SUFFIXES:
        return _read_csv(path, width, height)
    from msdepth.data.depth_formats import decode_depth

    depth = decode_depth(path, depth_format, depth_scale)
    if depth.shape != (height, width):
        raise DataError(
            f"--align depth image {path} is {depth.shape[1]}x{depth.shape[0]}, the input is "
            f"{width}x{height}; give a depth image of the input's size"
        )
    v, u = np.nonzero(depth > 0)
    return DepthPoints(u, v, depth[v, u].astype(np.float64), str(path))


def _read_csv(path: Path, width: int, height: int) -> DepthPoints:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"--align points {path} is not UTF-8 text (a CSV of u,v,depth_m)") from None
    us, vs, ds = [], [], []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        try:
            u, v, d = (float(c) for c in cells)
        except ValueError:
            if number == 1 and len(cells) == 3:
                continue  # a header such as u,v,depth_m
            raise DataError(
                f"{path} line {number}: expected three numbers u,v,depth_m, got {','.join(cells)!r}"
            ) from None
        if not (math.isfinite(d) and d > 0):
            raise DataError(
                f"{path} line {number}: depth {cells[2]} is not a positive finite number of "
                "metres; remove the line or fix the value"
            )
        if not (math.isfinite(u) and math.isfinite(v)) or not (
            -0.5 <= u < width - 0.5 and -0.5 <= v < height - 0.5
        ):
            raise DataError(
                f"{path} line {number}: point ({cells[0]}, {cells[1]}) is outside the "
                f"{width}x{height} image; u must be in 0..{width - 1} and v in 0..{height - 1} "
                "(pixels of the input image)"
            )
        us.append(round(u))
        vs.append(round(v))
        ds.append(d)
    if not ds:
        raise DataError(f"--align points {path} holds no points; write lines of u,v,depth_m")
    return DepthPoints(
        np.array(us, dtype=np.int64), np.array(vs, dtype=np.int64), np.array(ds), str(path)
    )


@dataclass(frozen=True)
class Alignment:
    """A fitted alignment and its report (the errors in metres are abs_rel and RMSE)."""

    mode: str
    scale: float  # scale: depth x scale; scale-shift: a in 1/d' = a/d + b
    shift: float  # scale-shift: b (1/metres); 0 for scale
    points: int  # all points given
    fit_points: int  # used by the fit (after outlier rejection)
    held_out: int
    rejected: int  # outliers dropped by scale-shift
    before: dict[str, float]  # {"held_out_abs_rel", "held_out_rmse", "fit_abs_rel", ...}
    after: dict[str, float]
    source: str

    def apply(self, depth: np.ndarray) -> np.ndarray:
        """The aligned depth (float32); invalid pixels stay 0 or NaN as they were."""
        depth = np.asarray(depth, dtype=np.float32)
        if self.mode == "scale":
            return depth * np.float32(self.scale)
        with np.errstate(divide="ignore", invalid="ignore"):
            inverse = self.scale / depth.astype(np.float64) + self.shift
            out = np.where(inverse > 0, 1.0 / inverse, 0.0)
        return out.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _errors(pred: np.ndarray, gt: np.ndarray, prefix: str) -> dict[str, float]:
    ok = pred > 0
    if not ok.any():
        return {f"{prefix}_abs_rel": math.nan, f"{prefix}_rmse": math.nan}
    return {
        f"{prefix}_abs_rel": float(np.mean(np.abs(pred[ok] - gt[ok]) / gt[ok])),
        f"{prefix}_rmse": float(np.sqrt(np.mean((pred[ok] - gt[ok]) ** 2))),
    }


def check_mode(mode: str) -> str:
    if mode not in ALIGN_MODES:
        raise ConfigError(f"--align-mode {mode!r}: choose {' or '.join(ALIGN_MODES)}")
    return mode


def fit_alignment(depth: np.ndarray, points: DepthPoints, mode: str = "scale") -> Alignment:
    """Fit ``depth`` (H, W) metres to ``points`` (see the module docstring); a one-line
    `DataError` when there are fewer points than the fit and its held-out check need."""
    check_mode(mode)
    depth = np.asarray(depth, dtype=np.float64)
    pred = depth[points.v, points.u]
    usable = np.isfinite(pred) & (pred > 0)
    gt_all, pred_all = points.depth[usable], pred[usable]
    n = len(gt_all)
    need = MIN_FIT_POINTS[mode] + 1
    if n < need:
        raise DataError(
            f"--align {points.source}: {n} usable point(s) (of {len(points)}); the {mode} fit "
            f"needs at least {need} ({MIN_FIT_POINTS[mode]} to fit, 1 held out to check it)"
        )
    order = np.random.default_rng(0).permutation(n)
    held = np.zeros(n, dtype=bool)
    held[order[: max(1, n // HOLDOUT_EVERY)]] = True
    fit_gt, fit_pred = gt_all[~held], pred_all[~held]
    rejected = 0
    if mode == "scale":
        scale, shift = float(np.median(fit_gt / fit_pred)), 0.0
        used = len(fit_gt)
    else:
        scale, shift, used, rejected = _fit_inverse(fit_pred, fit_gt)
    result = Alignment(mode, scale, shift, len(points), used, int(held.sum()), rejected, {}, {},
                       points.source)  # fmt: skip
    before = {**_errors(pred_all[held], gt_all[held], "held_out"),
              **_errors(fit_pred, fit_gt, "fit")}  # fmt: skip
    after_held = result.apply(pred_all[held]).astype(np.float64)
    after_fit = result.apply(fit_pred).astype(np.float64)
    after = {**_errors(after_held, gt_all[held], "held_out"),
             **_errors(after_fit, fit_gt, "fit")}  # fmt: skip
    return Alignment(mode, scale, shift, len(points), used, int(held.sum()), rejected, before,
                     after, points.source)  # fmt: skip


def _fit_inverse(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float, int, int]:
    """(a, b, points used, points rejected) of 1/gt = a/pred + b, least squares, outliers out."""
    x, y = 1.0 / pred, 1.0 / gt
    keep = np.ones(len(x), dtype=bool)
    a, b = float(np.median(y / x)), 0.0
    for _ in range(MAX_REJECTION_ROUNDS):
        if keep.sum() < 2 or np.ptp(x[keep]) == 0:
            a, b = float(np.median(y[keep] / x[keep])), 0.0  # one depth only: scale alone
            break
        a, b = (float(c) for c in np.polyfit(x[keep], y[keep], 1))
        residual = y - (a * x + b)
        mad = float(np.median(np.abs(residual[keep] - np.median(residual[keep]))))
        new = np.abs(residual - np.median(residual[keep])) <= OUTLIER_SIGMAS * 1.4826 * mad
        if mad == 0 or new.sum() < 2 or np.array_equal(new, keep):
            break
        keep = new
    return a, b, int(keep.sum()), int((~keep).sum())

"""The field's depth metrics (Eigen et al. 2014; BTS / AdaBins / ZoeDepth evaluation code).

`depth_metrics` scores one image; `MetricAccumulator` averages per image (the field's convention)
or pools every pixel (the paper's). Crops are boolean masks for an image shape. For sequences,
`flicker` (and `FlickerAccumulator`) measures how much the prediction changes from frame to frame
where the ground truth did not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

METRIC_NAMES = (
    "delta1",
    "delta2",
    "delta3",
    "abs_rel",
    "sq_rel",
    "rmse",
    "rmse_log",
    "log10",
    "silog",
)
# True where higher is better (for tables and "best checkpoint" selection).
HIGHER_IS_BETTER = {name: name.startswith("delta") for name in METRIC_NAMES}


def _as_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, without importing torch here
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _crop_mask(
    shape: tuple[int, int], top: float, bottom: float, left: float, right: float
) -> np.ndarray:
    h, w = shape
    mask = np.zeros((h, w), dtype=bool)
    mask[int(top * h) : int(bottom * h), int(left * w) : int(right * w)] = True
    return mask


def eigen_crop(shape: tuple[int, int]) -> np.ndarray:
    """NYU's Eigen crop: rows 45:471, cols 41:601 of a 480x640 image (scaled for other sizes)."""
    h, w = shape
    if (h, w) == (480, 640):
        mask = np.zeros((h, w), dtype=bool)
        mask[45:471, 41:601] = True
        return mask
    return _crop_mask(shape, 45 / 480, 471 / 480, 41 / 640, 601 / 640)


def garg_crop(shape: tuple[int, int]) -> np.ndarray:
    """KITTI's Garg crop: rows 0.40810811H:0.99189189H, cols 0.03594771W:0.96405229W."""
    return _crop_mask(shape, 0.40810811, 0.99189189, 0.03594771, 0.96405229)


def eigen_crop_kitti(shape: tuple[int, int]) -> np.ndarray:
    """KITTI's Eigen crop: rows 0.3324324H:0.91351351H, cols 0.0359477W:0.96405229W."""
    return _crop_mask(shape, 0.3324324, 0.91351351, 0.0359477, 0.96405229)


CROPS: dict[str, Callable[[tuple[int, int]], np.ndarray] | None] = {
    "eigen": eigen_crop,
    "garg": garg_crop,
    "eigen_kitti": eigen_crop_kitti,
    "none": None,
}


def crop_mask(name: str, shape: tuple[int, int]) -> np.ndarray | None:
    """The named crop's mask for an image shape, or None for ``"none"``."""
    if name not in CROPS:
        raise ValueError(f"unknown crop {name!r}; choose one of {', '.join(CROPS)}")
    fn = CROPS[name]
    return None if fn is None else fn(shape)


def _valid_pairs(
    pred: Any, gt: Any, mask: Any, min_depth: float, max_depth: float, median_scaling: bool
) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = _as_numpy(pred), _as_numpy(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    valid = np.isfinite(gt) & (gt > min_depth) & (gt < max_depth)
    if mask is not None:
        valid &= np.asarray(mask, dtype=bool)
    p, g = pred[valid], gt[valid]
    if median_scaling and p.size:
        p = p * (np.median(g) / max(np.median(p), 1e-12))
    p = np.clip(
        np.nan_to_num(p, nan=min_depth, posinf=max_depth, neginf=min_depth), min_depth, max_depth
    )
    return p, g


class _Sums:
    """Pixel sums from which every metric follows (shared by both averaging modes)."""

    __slots__ = ("abs_rel", "d", "d2", "delta1", "delta2", "delta3", "log10", "n", "sq", "sq_rel")

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0.0)

    def add(self, p: np.ndarray, g: np.ndarray) -> None:
        ratio = np.maximum(p / g, g / p)
        d = np.log(p) - np.log(g)
        self.n += p.size
        self.delta1 += float((ratio < 1.25).sum())
        self.delta2 += float((ratio < 1.25**2).sum())
        self.delta3 += float((ratio < 1.25**3).sum())
        self.abs_rel += float((np.abs(p - g) / g).sum())
        self.sq_rel += float(((p - g) ** 2 / g).sum())
        self.sq += float(((p - g) ** 2).sum())
        self.d += float(d.sum())
        self.d2 += float((d * d).sum())
        self.log10 += float(np.abs(np.log10(p) - np.log10(g)).sum())

    def metrics(self) -> dict[str, float]:
        n = self.n
        if n == 0:
            return {name: math.nan for name in METRIC_NAMES}
        mean_d = self.d / n
        mean_d2 = self.d2 / n
        return {
            "delta1": self.delta1 / n,
            "delta2": self.delta2 / n,
            "delta3": self.delta3 / n,
            "abs_rel": self.abs_rel / n,
            "sq_rel": self.sq_rel / n,
            "rmse": math.sqrt(self.sq / n),
            "rmse_log": math.sqrt(mean_d2),
            "log10": self.log10 / n,
            "silog": 100.0 * math.sqrt(max(mean_d2 - mean_d**2, 0.0)),
        }


def depth_metrics(
    pred: Any,
    gt: Any,
    mask: Any = None,
    min_depth: float = 1e-3,
    max_depth: float = 10.0,
    median_scaling: bool = False,
) -> dict[str, float]:
    """The nine standard metrics for one image (depths in metres, same shape).

    Valid pixels: ``min_depth < gt < max_depth``, finite, and inside ``mask``. Predictions are
    clamped to ``[min_depth, max_depth]`` (after optional per-image median scaling). Returns
    NaN for every metric when no pixel is valid. ``silog`` is 100 * sqrt(mean d^2 - (mean d)^2).
    """
    p, g = _valid_pairs(pred, gt, mask, min_depth, max_depth, median_scaling)
    sums = _Sums()
    if p.size:
        sums.add(p, g)
    return sums.metrics()


class MetricAccumulator:
    """Collects images; `compute()` averages per image (default) or pools all pixels.

    Images without a valid pixel are counted in `skipped` and left out of both averages.
    """

    def __init__(
        self, min_depth: float = 1e-3, max_depth: float = 10.0, median_scaling: bool = False
    ):
        self.min_depth = min_depth
        self.max_depth = max_depth
        self.median_scaling = median_scaling
        self.per_image: list[dict[str, float]] = []
        self.skipped = 0
        self._pooled = _Sums()

    def update(self, pred: Any, gt: Any, mask: Any = None) -> dict[str, float] | None:
        """Add one image; returns its metrics (None when it had no valid pixel)."""
        p, g = _valid_pairs(pred, gt, mask, self.min_depth, self.max_depth, self.median_scaling)
        if p.size == 0:
            self.skipped += 1
            return None
        sums = _Sums()
        sums.add(p, g)
        self._pooled.add(p, g)
        result = sums.metrics()
        self.per_image.append(result)
        return result

    def __len__(self) -> int:
        return len(self.per_image)

    def compute(self, pooled: bool = False) -> dict[str, float]:
        """Mean over images of each metric, or the metrics of all pixels pooled together."""
        if pooled:
            return self._pooled.metrics()
        if not self.per_image:
            return {name: math.nan for name in METRIC_NAMES}
        return {name: float(np.mean([m[name] for m in self.per_image])) for name in METRIC_NAMES}


# ---- temporal consistency of a sequence ---------------------------------------------------------

FLICKER_TOLERANCE = 0.01  # ground truth that changed by less than this (relative) counts as still


def flicker(
    pred_before: Any,
    pred: Any,
    gt_before: Any,
    gt: Any,
    mask: Any = None,
    min_depth: float = 1e-3,
    max_depth: float = 10.0,
    tolerance: float = FLICKER_TOLERANCE,
) -> tuple[float, int]:
    """Mean absolute frame-to-frame change of log predicted depth where the truth stood still.

    Pixels count where both frames' ground truth is valid (``min_depth < gt < max_depth``,
    inside ``mask``) and changed by under ``tolerance`` (1 %): there any change of the
    prediction is flicker. Predictions are clamped to ``[min_depth, max_depth]`` as in
    `depth_metrics`. Returns (mean |log pred - log pred_before|, pixel count); NaN and 0 when no
    pixel counts. A perfect or a frozen-but-right prediction scores 0.
    """
    p0, p1, g0, g1 = (_as_numpy(a) for a in (pred_before, pred, gt_before, gt))
    if not p0.shape == p1.shape == g0.shape == g1.shape:
        raise ValueError(
            f"flicker needs four maps of one shape, got {p0.shape}, {p1.shape}, {g0.shape}, "
            f"{g1.shape}"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        still = (
            np.isfinite(g0)
            & np.isfinite(g1)
            & (g0 > min_depth)
            & (g0 < max_depth)
            & (g1 > min_depth)
            & (g1 < max_depth)
            & (np.abs(g1 / g0 - 1.0) < tolerance)
        )
    if mask is not None:
        still &= np.asarray(mask, dtype=bool)
    n = int(still.sum())
    if n == 0:
        return math.nan, 0

    def log_clamped(p: np.ndarray) -> np.ndarray:
        p = np.nan_to_num(p[still], nan=min_depth, posinf=max_depth, neginf=min_depth)
        return np.log(np.clip(p, min_depth, max_depth))

    return float(np.mean(np.abs(log_clamped(p1) - log_clamped(p0)))), n


class FlickerAccumulator:
    """`flicker` over a sequence fed frame by frame, averaged over consecutive frame pairs.

    Pairs where no pixel stood still are counted in `skipped` and left out of the mean.
    """

    def __init__(
        self,
        min_depth: float = 1e-3,
        max_depth: float = 10.0,
        tolerance: float = FLICKER_TOLERANCE,
    ):
        self.min_depth, self.max_depth, self.tolerance = min_depth, max_depth, tolerance
        self.per_pair: list[float] = []
        self.pixels = 0
        self.skipped = 0
        self._before: tuple[np.ndarray, np.ndarray] | None = None

    def update(self, pred: Any, gt: Any, mask: Any = None) -> float | None:
        """Add the next frame; returns its flicker against the previous one (None for the first
        frame or when no pixel stood still)."""
        pred, gt = _as_numpy(pred), _as_numpy(gt)
        before, self._before = self._before, (pred, gt)
        if before is None:
            return None
        value, n = flicker(
            before[0], pred, before[1], gt, mask, self.min_depth, self.max_depth, self.tolerance
        )
        if n == 0:
            self.skipped += 1
            return None
        self.per_pair.append(value)
        self.pixels += n
        return value

    def compute(self) -> float:
        """Mean flicker over frame pairs (NaN when there was none)."""
        return float(np.mean(self.per_pair)) if self.per_pair else math.nan

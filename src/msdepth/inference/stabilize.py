"""Temporal stabilisation of per-frame depth: less flicker in a video, edges that still move.

A single-image network predicts every frame on its own, so its depth jitters from frame to
frame: the whole map's scale (the coarse network's guess of the room's size) and, locally,
the fine detail. `Stabilizer` works on the network's log depth (e.g. 74x55), frame by frame,
with the frame's image shrunk to that size:

1. **Which pixels did not change**: the per-pixel colour change since the previous frame (mean
   absolute RGB difference in [0, 1] of the shrunk images, where shrinking has averaged most of
   the sensor and compression noise away). A pixel is *static* where its change is under
   ``static``; there the scene is the same as a frame ago.
2. **Scale offset against the running reference** (the previous stabilised frame): the median,
   over static pixels (all pixels when too few are static), of (log depth now - reference).
   Robust (a median) and in log depth, so it is a scale, not a shift.
3. **Edge-preserving filter in time**: the reference, brought to this frame's scale, is blended
   into each pixel with a weight ``pixel_memory * exp(-(change / tolerance)^2)``: static pixels
   are averaged over a few frames, pixels whose colour changed (a moving edge, something coming
   into view) take the new prediction at once, so moving edges are not blurred.
4. **Scale drift removed, real scale changes kept**: the output's scale does not jump with each
   frame's offset but follows it through a level-and-trend filter (Holt's double exponential
   smoothing, ``scale_response`` and ``trend_response``): jitter is damped, while a steady change
   (walking towards a wall makes every depth shrink) is followed without a lasting lag.

A **scene cut** (most pixels changed a lot at once) resets the reference: the new shot starts
from its own prediction. No optical flow is used: on the hand-held test clip a reference warped
by OpenCV's DIS flow left more flicker (0.45x against 0.34x) for 59 ms a frame
(docs/inference.md, "Video figures").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

SCALE_RESPONSE = 0.15  # share of each frame's scale offset the output follows at once
TREND_RESPONSE = 0.1  # how fast the followed trend of scale (walking) adapts
PIXEL_MEMORY = 0.8  # weight of the reference at a pixel whose colour did not change
TOLERANCE = 0.03  # colour change (mean |RGB difference|, 0..1) that all but stops smoothing
STATIC = 0.02  # change under which a pixel counts as static for the scale offset
CUT_CHANGE = 0.12  # mean absolute colour change (0..1) ...
CUT_FRACTION = 0.5  # ... over at least this fraction of pixels: a scene cut
MIN_STATIC = 0.05  # fewer static pixels than this fraction: the offset is taken over all pixels


@dataclass
class StabilizerStats:
    """What the stabiliser did, for reports: frames seen, cuts found, mean |scale offset|."""

    frames: int = 0
    cuts: int = 0
    scale_offset_sum: float = 0.0

    @property
    def mean_scale_offset(self) -> float:
        """Mean absolute log-scale offset removed per frame (0.01 = 1 %)."""
        return self.scale_offset_sum / max(self.frames - 1 - self.cuts, 1)


class Stabilizer:
    """Feed it each frame's network log depth and RGB, in order; it returns stabilised log depth.

    One instance per clip (or call `reset`). Parameters: see the module docstring.
    """

    def __init__(
        self,
        scale_response: float = SCALE_RESPONSE,
        trend_response: float = TREND_RESPONSE,
        pixel_memory: float = PIXEL_MEMORY,
        tolerance: float = TOLERANCE,
        static: float = STATIC,
    ):
        if not (0 < scale_response <= 1 and 0 <= trend_response <= 1 and 0 <= pixel_memory < 1):
            raise ValueError(
                "need 0 < scale_response <= 1, 0 <= trend_response <= 1, 0 <= pixel_memory < 1; "
                f"got {scale_response}, {trend_response}, {pixel_memory}"
            )
        if tolerance <= 0 or static <= 0:
            raise ValueError(f"tolerance and static must be positive, got {tolerance}, {static}")
        self.scale_response = scale_response
        self.trend_response = trend_response
        self.pixel_memory = pixel_memory
        self.tolerance = tolerance
        self.static = static
        self.stats = StabilizerStats()
        self.reset()

    def reset(self) -> None:
        """Forget the previous frames (the next one is taken as it is)."""
        self._previous: np.ndarray | None = None
        self._image: np.ndarray | None = None
        self._trend = 0.0

    @staticmethod
    def _small_image(rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """(h, w, 3) float32 in [0, 1]: the frame shrunk (antialiased) to the depth's size."""
        h, w = shape
        small = Image.fromarray(np.asarray(rgb, dtype=np.uint8)).resize((w, h), Image.BILINEAR)
        return np.asarray(small, dtype=np.float32) / np.float32(255.0)

    def __call__(self, log_depth: np.ndarray, rgb: np.ndarray) -> np.ndarray:
        """This frame's stabilised log depth (same shape as ``log_depth``)."""
        log_depth = np.asarray(log_depth, dtype=np.float32)
        image = self._small_image(rgb, log_depth.shape)
        self.stats.frames += 1
        previous, before = self._previous, self._image
        self._image = image
        if previous is None or before is None or previous.shape != log_depth.shape:
            self._previous, self._trend = log_depth.copy(), 0.0
            return log_depth
        change = np.abs(image - before).mean(axis=2)
        if float(np.mean(change > CUT_CHANGE)) >= CUT_FRACTION:  # a new shot
            self.stats.cuts += 1
            self._previous, self._trend = log_depth.copy(), 0.0
            return log_depth
        static = change < np.float32(self.static)
        difference = log_depth - previous
        offset = float(np.median(difference[static] if static.mean() >= MIN_STATIC else difference))
        # the per-pixel filter, against the reference brought to this frame's scale
        weight = np.float32(self.pixel_memory) * np.exp(-np.square(change / self.tolerance))
        filtered = log_depth - weight * (difference - np.float32(offset))
        # the output's scale moves by `step`, not by this frame's whole offset (Holt's filter)
        step = self.scale_response * offset + (1.0 - self.scale_response) * self._trend
        self._trend += self.trend_response * (step - self._trend)
        self.stats.scale_offset_sum += abs(offset - step)
        out = filtered - np.float32(offset - step)
        self._previous = out
        return out

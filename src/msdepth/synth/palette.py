"""Per-scene colour palettes and the materials drawn from them (wood, paint, fabric, ...).

Colours are picked in HSV the way rooms are decorated (pale walls, white ceilings, wood or
carpet floors, a few furniture colours per room) and returned in linear RGB for shading.
"""

from __future__ import annotations

import colorsys

import numpy as np

from msdepth.synth.scene import (
    BOOKS,
    CHECKER,
    EMISSIVE,
    FLAT,
    NOISE,
    POSTER,
    STRIPES,
    TILES,
    WOOD,
    Material,
)

RGB = tuple[float, float, float]


def pick(rng: np.random.Generator, weights: tuple[float, ...]) -> int:
    """Index drawn with probability proportional to ``weights`` (``rng.choice`` costs 20x more)."""
    x = rng.uniform(0, sum(weights))
    for i, w in enumerate(weights):
        x -= w
        if x < 0:
            return i
    return len(weights) - 1


def hsv(h: float, s: float, v: float) -> RGB:
    """HSV (display values in [0, 1]) -> linear RGB."""
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return (r**2.2, g**2.2, b**2.2)


class Palette:
    """The colour scheme of one room; every method draws one material from it."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.accent_hues = rng.uniform(0, 1, size=3)
        self.wood_hue = rng.uniform(0.04, 0.11)
        self.wood_value = rng.uniform(0.3, 0.8)

    def _near(self, hue: float, spread: float = 0.04) -> float:
        return hue + self.rng.normal(0, spread)

    def wall(self) -> Material:
        r = self.rng
        if r.uniform() < 0.9:  # white, cream, beige or grey, as most NYU walls
            c = hsv(r.uniform(0.05, 0.17), r.uniform(0.0, 0.15), r.uniform(0.65, 0.95))
        else:
            c = hsv(self._near(self.accent_hues[0]), r.uniform(0.1, 0.35), r.uniform(0.5, 0.9))
        kind = FLAT if r.uniform() < 0.7 else NOISE
        return Material(kind, c, tuple(x * 0.92 for x in c), scale=r.uniform(0.3, 1.0))

    def ceiling(self) -> Material:
        r = self.rng
        c = hsv(r.uniform(0, 1), r.uniform(0, 0.05), r.uniform(0.8, 0.95))
        if r.uniform() < 0.4:  # office ceiling tiles
            return Material(TILES, c, tuple(x * 0.6 for x in c), scale=0.6)
        return Material(FLAT, c)

    def floor(self) -> Material:
        r = self.rng
        u = r.uniform()
        if u < 0.35:
            return self.wood(plank=r.uniform(0.1, 0.25))
        if u < 0.6:  # carpet
            c = hsv(r.uniform(0, 1), r.uniform(0.02, 0.3), r.uniform(0.2, 0.6))
            return Material(NOISE, c, tuple(x * 0.7 for x in c), scale=r.uniform(0.05, 0.3))
        if u < 0.9:  # tiles or linoleum
            c = hsv(r.uniform(0, 1), r.uniform(0.0, 0.2), r.uniform(0.45, 0.9))
            grout = tuple(x * r.uniform(0.4, 0.8) for x in c)
            return Material(TILES, c, grout, scale=r.uniform(0.25, 0.6))
        c1 = hsv(r.uniform(0, 1), r.uniform(0.0, 0.3), r.uniform(0.5, 0.9))
        c2 = hsv(r.uniform(0, 1), r.uniform(0.0, 0.3), r.uniform(0.1, 0.5))
        return Material(CHECKER, c1, c2, scale=r.uniform(0.25, 0.5))

    def wood(self, plank: float | None = None) -> Material:
        r = self.rng
        h, v = self._near(self.wood_hue, 0.015), self.wood_value * r.uniform(0.8, 1.15)
        c1 = hsv(h, r.uniform(0.4, 0.75), v)
        c2 = hsv(h, r.uniform(0.5, 0.85), v * r.uniform(0.55, 0.8))
        return Material(WOOD, c1, c2, scale=plank or r.uniform(0.08, 0.4), specular=0.05)

    def painted(self) -> Material:
        """Painted or laminated furniture: white, grey, black or one of the room's accents."""
        r = self.rng
        u = r.uniform()
        if u < 0.3:
            c = hsv(0, 0, r.uniform(0.75, 0.95))
        elif u < 0.5:
            c = hsv(r.uniform(0, 1), r.uniform(0, 0.1), r.uniform(0.25, 0.6))
        elif u < 0.6:
            c = hsv(0, 0, r.uniform(0.05, 0.15))
        else:
            c = hsv(
                self._near(self.accent_hues[r.integers(0, 3)]),
                r.uniform(0.1, 0.5),
                r.uniform(0.3, 0.9),
            )
        kind = STRIPES if u >= 0.3 and r.uniform() < 1 / 3 else FLAT
        return Material(
            int(kind), c, tuple(x * 0.75 for x in c), scale=r.uniform(0.3, 0.6), specular=0.15
        )

    def fabric(self) -> Material:
        r = self.rng
        c = hsv(
            self._near(self.accent_hues[r.integers(0, 3)], 0.08),
            r.uniform(0.05, 0.5),
            r.uniform(0.2, 0.8),
        )
        c2 = tuple(x * r.uniform(0.5, 0.9) for x in c)
        if r.uniform() < 0.2:
            return Material(STRIPES, c, c2, scale=r.uniform(0.05, 0.2))
        return Material(NOISE, c, c2, scale=r.uniform(0.03, 0.15))

    def dark(self) -> Material:
        """Black plastic, screens: dark and glossy, often missing in Kinect depth."""
        r = self.rng
        c = hsv(r.uniform(0, 1), r.uniform(0, 0.15), r.uniform(0.02, 0.12))
        return Material(FLAT, c, specular=r.uniform(0.3, 0.8))

    def metal(self) -> Material:
        r = self.rng
        c = hsv(r.uniform(0, 1), r.uniform(0, 0.1), r.uniform(0.4, 0.75))
        return Material(FLAT, c, specular=r.uniform(0.5, 1.0))

    def whiteboard(self) -> Material:
        return Material(FLAT, hsv(0, 0, self.rng.uniform(0.88, 0.97)), specular=1.0)

    def poster(self) -> Material:
        r = self.rng
        margin = hsv(0, 0, r.uniform(0.7, 0.95))
        return Material(POSTER, margin, margin, scale=r.uniform(0.05, 0.25))

    def books(self) -> Material:
        return Material(
            BOOKS, (0.1, 0.1, 0.1), (0.1, 0.1, 0.1), scale=self.rng.uniform(0.025, 0.06)
        )

    def bright(self, strength: float) -> Material:
        """Ceiling lamps and windows: emit light, not shaded."""
        r = self.rng
        c = hsv(r.uniform(0.08, 0.6), r.uniform(0, 0.1), 1.0)
        return Material(EMISSIVE, tuple(x * strength for x in c))

    def object(self) -> Material:
        """Small things on tables and shelves: anything goes."""
        pick = self.rng.integers(0, 6)
        return (self.painted, self.fabric, self.dark, self.metal, self.wood, self.poster)[pick]()

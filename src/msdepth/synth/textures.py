"""Procedural surface colour: closed-form functions of texture coordinates (no texture images).

Each texture kind mixes a material's two colours (or hashes per-cell colours) from the surface
coordinates (u, v) in metres, so a floor tile or a book spine keeps its real size in the image:
the network can learn distance from texture scale as it does on real rooms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from msdepth.synth._jit import kernel
from msdepth.synth.scene import (
    BOOKS,
    EMISSIVE,
    FLAT,
    NOISE,
    POSTER,
    STRIPES,
    TILES,
    WOOD,
    Material,
)

# A fixed table of uniform values: hashed cells look their value up in it (see `_cell`), cheaper
# than an integer hash per pixel.
_CELL_BITS = 16
_CELLS = np.random.default_rng(0xCE115EED).random(1 << _CELL_BITS, dtype=np.float32)
_CELLS.flags.writeable = False
GRAIN = 150.0  # cells per metre of the fine grain (~7 mm) that most textures carry


@dataclass
class MaterialTable:
    """The materials of a scene as arrays indexed by primitive id."""

    kind: np.ndarray  # (N,) int
    color1: np.ndarray  # (N, 3) float32 linear RGB
    color2: np.ndarray  # (N, 3)
    scale: np.ndarray  # (N,)
    specular: np.ndarray  # (N,)
    salt: np.ndarray  # (N,) intp: decorrelates hashed textures of different primitives

    @classmethod
    def of(cls, materials: list[Material]) -> MaterialTable:
        n = len(materials)
        return cls(
            np.array([m.kind for m in materials], np.int32),
            np.array([m.color1 for m in materials], np.float32).reshape(-1, 3),
            np.array([m.color2 for m in materials], np.float32).reshape(-1, 3),
            np.array([m.scale for m in materials], np.float32),
            np.array([m.specular for m in materials], np.float32),
            (np.arange(n, dtype=np.uint32) * np.uint32(2654435761) >> np.uint32(16)).astype(
                np.intp
            ),
        )


@kernel
def _cell(i, j, salt):  # pragma: no cover - compiled
    """A uniform value in [0, 1) per integer cell (i, j) and salt: a lookup in a fixed random
    table of 65536 values (index modulo the table size). Cells 256 apart along i share a
    neighbour's row along j, a repeat far too sparse (metres, for the finest grain) to show in
    a texture."""
    return _CELLS[((j << 8) + i + salt) & ((1 << _CELL_BITS) - 1)]


@kernel
def _albedo_kernel(u, v, prim, kind, c1, c2, inv_scale, salt, out):  # pragma: no cover
    """(P,) texture coordinates and primitive ids -> ``out`` (3, P) linear RGB.

    Textures that mix the material's two colours compute a mix ``m`` (0: colour 1, 1: colour 2)
    and a brightness ``b``: colour = (c1 + (c2 - c1) m) b; most carry a ~7 mm grain. Posters
    and books hash colours of their own per cell; flat paint and lamps are colour 1.
    """
    f1, f0 = np.float32(1), np.float32(0)
    for i in range(prim.size):
        k = prim[i]
        kd = kind[k]
        if kd in (FLAT, EMISSIVE):
            for ch in range(3):
                out[ch, i] = c1[k, ch]
            continue
        uu, vv, s_, sa = u[i], v[i], inv_scale[k], salt[k]
        if kd == POSTER:
            # Blocks of saturated colour with a light margin: posters, pictures, notice boards.
            iu, iv = int(np.floor(uu * s_)), int(np.floor(vv * (s_ / np.float32(0.7))))
            margin = _cell(iu, iv, sa + 7 * 12289) < np.float32(0.3)
            for ch in range(3):
                rgb = _cell(iu, iv, sa + ch * 12289)
                block = np.float32(0.9) * rgb * np.sqrt(rgb) + np.float32(0.05)
                out[ch, i] = c2[k, ch] if margin else block
            continue
        if kd == BOOKS:
            # Spines of random width and colour along u; dark gaps at their edges.
            su = uu * s_
            fu = np.floor(su)
            iu = int(fu)
            gap = su - fu < np.float32(0.08)
            for ch in range(3):
                rgb = _cell(iu, iu, sa + ch * 12289)
                spine = np.float32(0.6) * rgb * np.sqrt(rgb) + np.float32(0.04)
                out[ch, i] = c2[k, ch] * np.float32(0.3) if gap else spine
            continue
        # the ~7 mm grain: cell indices by truncation (a double cell at 0 does not show)
        fine = _cell(int(uu * np.float32(GRAIN)), int(vv * np.float32(GRAIN)), sa)
        if kd == NOISE:
            su, sv = uu * s_, vv * s_
            w = np.sin(np.sin(sv * np.float32(0.7)) * np.float32(1.7) + su)
            w -= np.sin(su - sv * np.float32(1.3))
            m = w * np.float32(0.25) + np.float32(0.5)
            b = fine * np.float32(0.15) + np.float32(0.85)
        elif kd == WOOD:
            pv = vv * s_
            plank = np.floor(pv)
            shade = _cell(int(plank), int(plank), sa)
            ring = np.sin(vv * np.float32(7.0) + uu * np.float32(0.9)) * np.float32(0.6)
            ring = np.sin((ring + uu * np.float32(2.0) + shade * np.float32(9.0)) * np.float32(9))
            m = ring * np.float32(0.5 * 0.45) + np.float32(0.5 * 0.45) + shade * np.float32(0.55)
            b = fine * np.float32(0.08) + np.float32(0.92)
            if pv - plank < np.float32(0.04):  # the gap between planks
                b *= np.float32(0.45)
        elif kd == TILES:
            gu, gv = uu * s_, vv * s_
            iu, iv = np.floor(gu), np.floor(gv)
            grout = gu - iu < np.float32(0.04) or gv - iv < np.float32(0.04)
            b = _cell(int(iu), int(iv), sa) * np.float32(0.2) + fine * np.float32(0.04)
            b += np.float32(0.88)
            m = f1 if grout else f0
            if grout:
                b = f1
        elif kd == STRIPES:
            su = uu * s_
            m = f1 if su - np.floor(su) < np.float32(0.5) else f0
            b = fine * np.float32(0.05) + np.float32(0.95)
        else:  # CHECKER
            parity = int(np.floor(uu * s_)) + int(np.floor(vv * s_))
            m = f1 if parity & 1 else f0
            b = fine * np.float32(0.05) + np.float32(0.95)
        for ch in range(3):
            out[ch, i] = ((c2[k, ch] - c1[k, ch]) * m + c1[k, ch]) * b


def albedo(uv: np.ndarray, prim: np.ndarray, table: MaterialTable) -> np.ndarray:
    """(2, P) texture coordinates and primitive ids -> (3, P) float32 surface colour."""
    out = np.empty((3, prim.size), np.float32)
    _albedo_kernel(
        np.ascontiguousarray(uv[0], np.float32),
        np.ascontiguousarray(uv[1], np.float32),
        np.ascontiguousarray(prim, np.int64),
        table.kind,
        table.color1,
        table.color2,
        np.float32(1.0) / table.scale,
        table.salt.astype(np.int64),
        out,
    )
    return out

"""Procedural surface colour: closed-form functions of texture coordinates (no texture images).

Each texture kind mixes a material's two colours (or hashes per-cell colours) from the surface
coordinates (u, v) in metres, so a floor tile or a book spine keeps its real size in the image:
the network can learn distance from texture scale as it does on real rooms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from msdepth.synth.scene import (
    BOOKS,
    CHECKER,
    EMISSIVE,
    NOISE,
    POSTER,
    STRIPES,
    TILES,
    WOOD,
    Material,
)

# A fixed table of uniform values: hashed cells look their value up in it, far fewer passes
# than an integer hash per pixel (see `cell_value`).
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


def cell_value(i: np.ndarray, j: np.ndarray, salt: np.ndarray | int) -> np.ndarray:
    """A uniform value in [0, 1) per integer cell (i, j) (intp arrays) and salt: a lookup in a
    fixed random table of 65536 values. Cells 256 apart along i share a neighbour's row along
    j, a repeat far too sparse (metres, for the finest grain) to show in a texture."""
    idx = j << 8
    idx += i
    idx += salt
    return np.take(_CELLS, idx, mode="wrap")  # wrap: the index modulo the table size


def _cells(x: np.ndarray) -> np.ndarray:
    return np.floor(x).astype(np.intp)


def _frac(x: np.ndarray) -> np.ndarray:
    return x - np.floor(x)


def _mixed(kind: int, u, v, inv_s, salt, fine, m, b) -> None:
    """Textures that mix a material's two colours: writes the mix ``m`` (0: colour 1, 1:
    colour 2) and brightness ``b`` of each of the (M,) pixels; colour = (c1 + (c2 - c1) m) b."""
    if kind == NOISE:
        su, sv = u * inv_s, v * inv_s
        w = np.sin(sv * np.float32(0.7))
        w *= np.float32(1.7)
        w += su
        np.sin(w, out=w)
        su -= sv * np.float32(1.3)
        w -= np.sin(su, out=su)  # sin(1.3 sv - su) = -sin(su - 1.3 sv)
        np.multiply(w, np.float32(0.25), out=m)
        m += np.float32(0.5)
        np.multiply(fine, np.float32(0.15), out=b)
        b += np.float32(0.85)
    elif kind == WOOD:
        pv = v * inv_s
        plank = np.floor(pv)
        shade = cell_value(*(2 * [plank.astype(np.intp)]), salt)
        gap = (pv - plank) < np.float32(0.04)
        ring = v * np.float32(7.0)
        ring += u * np.float32(0.9)
        np.sin(ring, out=ring)
        ring *= np.float32(0.6)
        ring += u * np.float32(2.0)
        ring += shade * np.float32(9.0)
        ring *= np.float32(9.0)
        np.sin(ring, out=ring)
        np.multiply(ring, np.float32(0.5 * 0.45), out=m)
        m += np.float32(0.5 * 0.45)
        m += shade * np.float32(0.55)
        np.multiply(fine, np.float32(0.08), out=b)
        b += np.float32(0.92)
        np.multiply(b, np.float32(0.45), out=b, where=gap)
    elif kind == TILES:
        gu, gv = u * inv_s, v * inv_s
        iu, iv = np.floor(gu), np.floor(gv)
        grout = (gu - iu) < np.float32(0.04)
        grout |= (gv - iv) < np.float32(0.04)
        np.multiply(cell_value(iu.astype(np.intp), iv.astype(np.intp), salt), 0.2, out=b)
        b += fine * np.float32(0.04)
        b += np.float32(0.88)
        b[grout] = 1.0
        np.copyto(m, grout)
    elif kind == STRIPES:
        np.less(_frac(u * inv_s), np.float32(0.5), out=m, casting="unsafe")
        np.multiply(fine, np.float32(0.05), out=b)
        b += np.float32(0.95)
    elif kind == CHECKER:
        parity = _cells(u * inv_s)
        parity += _cells(v * inv_s)
        np.bitwise_and(parity, 1, out=parity)
        np.copyto(m, parity, casting="unsafe")
        np.multiply(fine, np.float32(0.05), out=b)
        b += np.float32(0.95)
    else:  # pragma: no cover - MIXED lists the kinds above
        raise ValueError(f"unknown texture kind {kind}")


MIXED = (NOISE, WOOD, TILES, STRIPES, CHECKER)


def _own_colours(kind: int, u, v, inv_s, salt, c2) -> np.ndarray:
    """Textures with colours of their own, per hashed cell: (M,) pixels -> (3, M) albedo."""
    if kind == POSTER:
        # Blocks of saturated colour with a light margin: posters, pictures, notice boards.
        iu, iv = _cells(u * inv_s), _cells(v * (inv_s / np.float32(0.7)))
        rgb = np.stack([cell_value(iu, iv, salt + (k * 12289)) for k in range(3)])
        block = 0.05 + 0.9 * rgb * np.sqrt(rgb)
        return np.where(cell_value(iu, iv, salt + 7 * 12289) < 0.3, c2, block)
    if kind == BOOKS:
        # Spines of random width and colour along u; dark gaps at their edges.
        su = u * inv_s
        iu = np.floor(su)
        ii = iu.astype(np.intp)
        rgb = np.stack([cell_value(ii, ii, salt + (k * 12289)) for k in range(3)])
        spine = 0.04 + 0.6 * rgb * np.sqrt(rgb)
        gap = (su - iu) < 0.08
        return np.where(gap, c2 * 0.3, spine)
    raise ValueError(f"unknown texture kind {kind}")


def albedo(uv: np.ndarray, prim: np.ndarray, table: MaterialTable) -> np.ndarray:
    """(2, P) texture coordinates and primitive ids -> (3, P) float32 surface colour.

    Every pixel starts with its material's first colour (flat paint, the commonest kind). The
    kinds that mix two colours are then evaluated together: each kind writes a mix and a
    brightness for its pixels, and one gather, blend and scatter per channel serves them all;
    posters and books (few pixels, colours of their own) come last.
    """
    prim = prim.astype(np.intp, copy=False)
    out = np.empty((3, prim.size), np.float32)
    c1t = np.ascontiguousarray(table.color1.T)
    for c in range(3):
        np.take(c1t[c], prim, out=out[c])
    present = np.bincount(table.kind, minlength=EMISSIVE + 1)
    if not present[[NOISE, WOOD, TILES, STRIPES, CHECKER, POSTER, BOOKS]].any():
        return out
    kind = np.take(table.kind.astype(np.int8), prim)
    inv_scale = np.float32(1.0) / table.scale
    u_all, v_all = uv[0], uv[1]
    sels = [(k, np.flatnonzero(kind == k)) for k in MIXED if present[k]]
    sels = [(k, s) for k, s in sels if s.size]
    if sels:
        sel = np.concatenate([s for _, s in sels]) if len(sels) > 1 else sels[0][1]
        pid = np.take(prim, sel)
        u, v = np.take(u_all, sel), np.take(v_all, sel)
        inv_s, salt = np.take(inv_scale, pid), np.take(table.salt, pid)
        # the ~7 mm grain: cell indices by truncation (a double cell at 0 does not show)
        gi = (u * np.float32(GRAIN)).astype(np.intp)
        fine = cell_value(gi, (v * np.float32(GRAIN)).astype(np.intp), salt)
        m, b = np.empty_like(u), np.empty_like(u)
        start = 0
        for k, s in sels:
            part = np.s_[start : start + s.size]
            start += s.size
            _mixed(k, u[part], v[part], inv_s[part], salt[part], fine[part], m[part], b[part])
        diff = table.color2 - table.color1
        for c in range(3):
            col = np.take(diff[:, c], pid)
            col *= m
            col += np.take(c1t[c], pid)
            col *= b
            out[c][sel] = col
    for k in (POSTER, BOOKS):
        sel = np.flatnonzero(kind == k) if present[k] else ()
        if not len(sel):
            continue
        pid = np.take(prim, sel)
        c2 = np.stack([np.take(table.color2[:, c], pid) for c in range(3)])
        u, v = np.take(u_all, sel), np.take(v_all, sel)
        out[:, sel] = _own_colours(k, u, v, np.take(inv_scale, pid), np.take(table.salt, pid), c2)
    return out

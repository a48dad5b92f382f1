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
    FLAT,
    NOISE,
    POSTER,
    STRIPES,
    TILES,
    WOOD,
    Material,
)


@dataclass
class MaterialTable:
    """The materials of a scene as arrays indexed by primitive id."""

    kind: np.ndarray  # (N,) int
    color1: np.ndarray  # (N, 3) float32 linear RGB
    color2: np.ndarray  # (N, 3)
    scale: np.ndarray  # (N,)
    specular: np.ndarray  # (N,)
    salt: np.ndarray  # (N,) uint32: decorrelates hashed textures of different primitives

    @classmethod
    def of(cls, materials: list[Material]) -> MaterialTable:
        return cls(
            np.array([m.kind for m in materials], np.int32),
            np.array([m.color1 for m in materials], np.float32).reshape(-1, 3),
            np.array([m.color2 for m in materials], np.float32).reshape(-1, 3),
            np.array([m.scale for m in materials], np.float32),
            np.array([m.specular for m in materials], np.float32),
            np.arange(len(materials), dtype=np.uint32) * np.uint32(2654435761),
        )


def cell_hash(i: np.ndarray, j: np.ndarray, salt: np.ndarray | int) -> np.ndarray:
    """A uniform value in [0, 1) per integer cell (i, j) and salt: a cheap integer hash."""
    with np.errstate(over="ignore"):
        h = i.astype(np.int32).view(np.uint32) * np.uint32(0x9E3779B1)
        h ^= j.astype(np.int32).view(np.uint32) * np.uint32(0x85EBCA77)
        h ^= np.asarray(salt, dtype=np.uint32)
        h ^= h >> np.uint32(15)
        h *= np.uint32(0x2C1B3C6D)
        h ^= h >> np.uint32(12)
        h *= np.uint32(0x297A2D39)
        h ^= h >> np.uint32(15)
    return (h >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / (1 << 24))


def _mix(c1: np.ndarray, c2: np.ndarray, m: np.ndarray) -> np.ndarray:
    return c1 + (c2 - c1) * m


def _texture(kind: int, u, v, s, c1, c2, salt) -> np.ndarray:
    """(M,) coordinates and per-pixel material values ((3, M) colours) -> (3, M) albedo."""
    if kind == FLAT:  # paint: the shading does the rest
        return c1
    fine = cell_hash(np.floor(u * 150), np.floor(v * 150), salt)  # ~7 mm grain
    if kind == NOISE:
        su, sv = u / s, v / s
        m = 0.5 + 0.25 * (np.sin(su + 1.7 * np.sin(sv * 0.7)) + np.sin(sv * 1.3 - su))
        return _mix(c1, c2, m) * (0.85 + 0.15 * fine)
    if kind == WOOD:
        plank = np.floor(v / s)
        shade = cell_hash(plank, plank, salt)
        rings = 0.5 + 0.5 * np.sin((u * 2.0 + 0.6 * np.sin(u * 0.9 + v * 7.0) + shade * 9.0) * 9.0)
        gap = (v / s - plank) < 0.04
        out = _mix(c1, c2, 0.45 * rings + 0.55 * shade) * (0.92 + 0.08 * fine)
        return out * np.where(gap, np.float32(0.45), np.float32(1.0))
    if kind == TILES:
        gu, gv = u / s, v / s
        iu, iv = np.floor(gu), np.floor(gv)
        grout = ((gu - iu) < 0.04) | ((gv - iv) < 0.04)
        tile = c1 * (0.88 + 0.2 * cell_hash(iu, iv, salt) + 0.04 * fine)
        return np.where(grout, c2, tile)
    if kind == STRIPES:
        m = ((u / s) % 1.0 < 0.5).astype(np.float32)
        return _mix(c1, c2, m) * (0.95 + 0.05 * fine)
    if kind == CHECKER:
        m = ((np.floor(u / s) + np.floor(v / s)) % 2.0).astype(np.float32)
        return _mix(c1, c2, m) * (0.95 + 0.05 * fine)
    if kind == POSTER:
        # Blocks of saturated colour with a light margin: posters, pictures, notice boards.
        iu, iv = np.floor(u / s), np.floor(v / (0.7 * s))
        rgb = np.stack([cell_hash(iu, iv, salt + np.uint32(k)) for k in range(3)])
        block = 0.05 + 0.9 * rgb * np.sqrt(rgb)
        return np.where(cell_hash(iu, iv, salt + np.uint32(7)) < 0.3, c2, block)
    if kind == BOOKS:
        # Spines of random width and colour along u; dark gaps at their edges.
        iu = np.floor(u / s)
        rgb = np.stack([cell_hash(iu, iu, salt + np.uint32(k)) for k in range(3)])
        spine = 0.04 + 0.6 * rgb * np.sqrt(rgb)
        gap = (u / s - iu) < 0.08
        return np.where(gap, c2 * 0.3, spine)
    if kind == EMISSIVE:
        return c1
    raise ValueError(f"unknown texture kind {kind}")


def albedo(uv: np.ndarray, prim: np.ndarray, table: MaterialTable) -> np.ndarray:
    """(2, P) texture coordinates and primitive ids -> (3, P) float32 surface colour.

    Every pixel starts with its material's first colour (flat paint, the commonest kind);
    the other kinds are then evaluated on their own pixels only.
    """
    prim = prim.astype(np.intp, copy=False)
    out = np.empty((3, prim.size), np.float32)
    for c in range(3):
        np.take(table.color1[:, c], prim, out=out[c])
    kind = np.take(table.kind.astype(np.int8), prim)
    present = np.flatnonzero(np.bincount(table.kind, minlength=EMISSIVE + 1))
    if all(k in (FLAT, EMISSIVE) for k in present):
        return out
    for k in np.flatnonzero(np.bincount(kind, minlength=EMISSIVE + 1)):
        if k in (FLAT, EMISSIVE):
            continue
        sel = np.flatnonzero(kind == k)
        pid = np.take(prim, sel)
        c1 = np.stack([np.take(table.color1[:, c], pid) for c in range(3)])
        c2 = np.stack([np.take(table.color2[:, c], pid) for c in range(3)])
        u, v = np.take(uv[0], sel), np.take(uv[1], sel)
        colour = _texture(int(k), u, v, np.take(table.scale, pid), c1, c2, np.take(table.salt, pid))
        out[:, sel] = colour
    return out

"""Random indoor rooms: furniture along the walls, a few things in the middle, clutter on top,
ceiling lamps, and a hand-held Kinect pose. Sizes are those of real furniture, in metres.

Furniture is described in wall coordinates (along the wall, out from it, up) and turned into
axis-aligned world boxes, so every room is a box with its contents aligned to its walls, as in
most NYU scenes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from msdepth.synth.palette import Palette, pick
from msdepth.synth.scene import Camera, Light, Material, Scene, nyu_camera

# (origin x, origin z, along unit (x, z), out unit (x, z)) per wall, given room size X, Z.
_WALLS = (
    lambda X, Z: ((0.0, 0.0), (0, 1), (1, 0), Z),
    lambda X, Z: ((X, Z), (0, -1), (-1, 0), Z),
    lambda X, Z: ((X, 0.0), (-1, 0), (0, 1), X),
    lambda X, Z: ((0.0, Z), (1, 0), (0, -1), X),
)


def _casts(sorted_size: list[float]) -> bool:
    """Only things at least 20 cm across in two directions cast shadows: legs, cups and pens
    would cost a shadow-map pass each for a shadow of a few pixels."""
    return sorted_size[1] >= 0.2


@dataclass
class SceneBuilder:
    """Collects primitives, their materials and shadow flags, and the floor space taken."""

    room: tuple[float, float, float]  # Python floats: numpy scalars make every step 5x slower
    boxes: list[list[float]] = field(default_factory=list)
    box_mats: list[tuple[Material, bool]] = field(default_factory=list)
    cylinders: list[list[float]] = field(default_factory=list)
    cyl_mats: list[tuple[Material, bool]] = field(default_factory=list)
    spheres: list[list[float]] = field(default_factory=list)
    sph_mats: list[tuple[Material, bool]] = field(default_factory=list)
    footprints: list[tuple[float, float, float, float]] = field(default_factory=list)
    tops: list[tuple[float, float, float, float, float]] = field(default_factory=list)
    doorway: Doorway | None = None  # an opening in one wall onto a space behind it

    def box(self, lo, hi, mat: Material, shadow: bool = True) -> None:
        self.boxes.append([*lo, *hi])
        size = sorted(top - bottom for bottom, top in zip(lo, hi, strict=True))
        self.box_mats.append((mat, shadow and _casts(size)))

    def cylinder(self, cx, cz, r, y0, y1, mat: Material, shadow: bool = True) -> None:
        self.cylinders.append([cx, cz, r, y0, y1])
        self.cyl_mats.append((mat, shadow and _casts(sorted([2 * r, 2 * r, y1 - y0]))))

    def sphere(self, c, r, mat: Material, shadow: bool = True) -> None:
        self.spheres.append([*c, r])
        self.sph_mats.append((mat, shadow and _casts([2 * r] * 3)))

    def free(self, x0: float, x1: float, z0: float, z1: float, margin: float = 0.05) -> bool:
        """True when the floor rectangle is inside the room and overlaps nothing placed."""
        X, _, Z = self.room
        if x0 < 0 or z0 < 0 or x1 > X or z1 > Z:
            return False
        return all(
            x1 + margin <= a0 or a1 <= x0 - margin or z1 + margin <= b0 or b1 <= z0 - margin
            for a0, a1, b0, b1 in self.footprints
        )


class WallFrame:
    """Maps wall coordinates (a along, o out into the room, y up) to world boxes."""

    def __init__(self, wall: int, room: tuple[float, float, float]):
        self.wall = int(wall)
        (self.ox, self.oz), self.along, self.out, self.length = _WALLS[wall](room[0], room[2])

    def world(self, a: float, o: float) -> tuple[float, float]:
        return (
            self.ox + a * self.along[0] + o * self.out[0],
            self.oz + a * self.along[1] + o * self.out[1],
        )

    def box(self, a0, a1, o0, o1, y0, y1) -> tuple[list[float], list[float]]:
        (x0, z0), (x1, z1) = self.world(a0, o0), self.world(a1, o1)
        return [min(x0, x1), y0, min(z0, z1)], [max(x0, x1), y1, max(z0, z1)]


# ---- furniture, each in wall coordinates starting at `a` along the wall ------------------------


def _rect(lo, hi) -> tuple[float, float, float, float]:
    return (lo[0], hi[0], lo[2], hi[2])


def _place(b: SceneBuilder, f: WallFrame, a0, a1, o0, o1, y0, y1, mat, shadow=True) -> None:
    lo, hi = f.box(a0, a1, o0, o1, y0, y1)
    b.box(lo, hi, mat, shadow)


def bookcase(b, f, a, w, rng, pal, height_cap) -> None:
    d, h, t = rng.uniform(0.28, 0.42), min(rng.uniform(0.9, 2.2), height_cap), 0.025
    frame = pal.wood() if rng.uniform() < 0.6 else pal.painted()
    _place(b, f, a, a + w, 0, t, 0, h, frame)  # back
    _place(b, f, a, a + t, 0, d, 0, h, frame)
    _place(b, f, a + w - t, a + w, 0, d, 0, h, frame)
    _place(b, f, a, a + w, 0, d, h - t, h, frame)
    n = max(1, int(h / rng.uniform(0.3, 0.42)))
    for k in range(n):
        y = k * (h - t) / n
        _place(b, f, a + t, a + w - t, t, d, y, y + t, frame)
        if rng.uniform() < 0.8:  # a row of books, not always full
            gap = (h - t) / n - t
            s0 = a + t + rng.uniform(0, 0.3) * (w - 2 * t)
            s1 = a + w - t - rng.uniform(0, 0.3) * (w - 2 * t)
            bh = gap * rng.uniform(0.55, 0.9)
            _place(
                b, f, s0, s1, t + rng.uniform(0.01, 0.06), d - 0.02, y + t, y + t + bh, pal.books()
            )
    b.footprints.append(_rect(*f.box(a, a + w, 0, d, 0, h)))


def cabinet(b, f, a, w, rng, pal, height_cap) -> None:
    d, h = (
        rng.uniform(0.4, 0.65),
        min(rng.uniform(0.7, 1.0) if rng.uniform() < 0.5 else rng.uniform(1.2, 2.0), height_cap),
    )
    mat = pal.painted() if rng.uniform() < 0.6 else pal.wood()
    _place(b, f, a, a + w, 0, d, 0, h, mat)
    lo, hi = f.box(a, a + w, 0, d, 0, h)
    b.footprints.append(_rect(lo, hi))
    if h < 1.3:
        b.tops.append((lo[0], hi[0], lo[2], hi[2], h))


def desk(b, f, a, w, rng, pal, height_cap) -> None:
    d, h, t = rng.uniform(0.6, 0.85), rng.uniform(0.71, 0.78), rng.uniform(0.025, 0.05)
    top = pal.wood() if rng.uniform() < 0.5 else pal.painted()
    _place(b, f, a, a + w, 0, d, h - t, h, top)
    legs = pal.metal() if rng.uniform() < 0.5 else top
    side = 0.03 if rng.uniform() < 0.5 else 0.06  # panel sides or frame legs
    _place(b, f, a, a + side, 0.02, d, 0, h - t, legs)
    _place(b, f, a + w - side, a + w, 0.02, d, 0, h - t, legs)
    lo, hi = f.box(a, a + w, 0, d, 0, h)
    b.footprints.append(_rect(lo, hi))
    if rng.uniform() < 0.6:  # a monitor
        mw = rng.uniform(0.4, 0.65)
        ma = a + rng.uniform(0.05, max(0.06, w - mw - 0.05))
        _place(b, f, ma, ma + mw, 0.1, 0.14, h + 0.1, h + 0.1 + mw * 0.6, pal.dark())
        _place(b, f, ma + mw / 2 - 0.03, ma + mw / 2 + 0.03, 0.12, 0.16, h, h + 0.1, pal.dark())
        b.tops.append((*_rect(*f.box(a, a + w, 0.25, d, 0, h)), h))
    else:
        b.tops.append((lo[0], hi[0], lo[2], hi[2], h))
    if rng.uniform() < 0.7:  # a chair pulled up to it
        cw = 0.45
        ca = a + w / 2 - cw / 2 + rng.uniform(-0.2, 0.2)
        chair(b, f, ca, cw, d + rng.uniform(-0.15, 0.15), rng, pal)


def chair(b, f, a, w, o, rng, pal) -> None:
    """A chair facing the wall, its seat starting ``o`` out from the wall."""
    seat_h, back_h = rng.uniform(0.42, 0.5), rng.uniform(0.35, 0.55)
    mat = pal.fabric() if rng.uniform() < 0.5 else pal.painted()
    legs = pal.metal() if rng.uniform() < 0.6 else pal.dark()
    _place(b, f, a, a + w, o, o + w, seat_h - 0.06, seat_h, mat)
    _place(b, f, a, a + w, o + w - 0.05, o + w, seat_h, seat_h + back_h, mat)
    c = w / 2 - 0.03  # an office chair's central column
    _place(b, f, a + c, a + w - c, o + c, o + w - c, 0, seat_h - 0.06, legs)


def bed(b, f, a, w, rng, pal, height_cap) -> None:
    length, h = rng.uniform(1.9, 2.1), rng.uniform(0.4, 0.6)
    frame = pal.wood() if rng.uniform() < 0.6 else pal.painted()
    _place(b, f, a, a + w, 0, length, 0, h - 0.2, frame)
    _place(b, f, a + 0.03, a + w - 0.03, 0.03, length - 0.03, h - 0.2, h, pal.fabric())
    _place(b, f, a, a + w, 0, 0.06, 0, h + rng.uniform(0.3, 0.7), frame)  # headboard
    _place(b, f, a + 0.1, a + w - 0.1, 0.08, 0.45, h, h + 0.15, pal.fabric())  # pillows
    b.footprints.append(_rect(*f.box(a, a + w, 0, length, 0, h)))


def sofa(b, f, a, w, rng, pal, height_cap) -> None:
    d, seat = rng.uniform(0.8, 1.0), rng.uniform(0.4, 0.48)
    mat = pal.fabric()
    _place(b, f, a, a + w, 0, d, 0, seat, mat)
    _place(b, f, a, a + w, 0, 0.22, seat, seat + rng.uniform(0.35, 0.5), mat)
    for aa in (a, a + w - 0.2):
        _place(b, f, aa, aa + 0.2, 0.22, d, seat, seat + 0.2, mat)
    b.footprints.append(_rect(*f.box(a, a + w, 0, d, 0, seat)))


def counter(b, f, a, w, rng, pal, height_cap) -> None:
    """Kitchen or lab counter: base cabinets, worktop, and often wall cabinets above."""
    d, h = rng.uniform(0.55, 0.65), rng.uniform(0.86, 0.94)
    doors = pal.painted()
    _place(b, f, a, a + w, 0, d - 0.03, 0, h - 0.04, doors)
    top = pal.wood() if rng.uniform() < 0.4 else pal.painted()
    _place(b, f, a, a + w, 0, d, h - 0.04, h, top)
    lo, hi = f.box(a, a + w, 0, d, 0, h)
    b.footprints.append(_rect(lo, hi))
    b.tops.append((lo[0], hi[0], lo[2], hi[2], h))
    if rng.uniform() < 0.6:
        y0 = h + rng.uniform(0.5, 0.6)
        _place(b, f, a, a + w, 0, 0.35, y0, min(y0 + 0.7, height_cap), doors)


MAX_FURNITURE_BOXES = 60  # stop furnishing beyond this: rendering cost grows with primitives
FLOOR_FURNITURE = (
    (bookcase, 0.6, 1.2),
    (cabinet, 0.4, 1.6),
    (desk, 0.9, 1.8),
    (bed, 1.0, 1.8),
    (sofa, 1.4, 2.4),
    (counter, 1.2, 3.5),
)
FURNITURE_WEIGHTS = (3, 3, 4, 1, 1.5, 1.5)


def wall_hangings(b, f, rng, pal, room_h) -> None:
    """Posters, pictures, whiteboards, doors and windows: thin slabs on the wall, no shadows."""
    for _ in range(rng.integers(1, 6)):
        kind = pick(rng, (0.4, 0.2, 0.15, 0.15, 0.1))
        if kind == 0:  # poster / picture
            w, h = rng.uniform(0.25, 1.0), rng.uniform(0.25, 0.9)
            y0, mat = rng.uniform(1.1, max(1.2, room_h - h - 0.3)), pal.poster()
        elif kind == 1:  # whiteboard or notice board
            w, h = rng.uniform(1.0, 2.4), rng.uniform(0.8, 1.2)
            y0 = rng.uniform(0.85, 1.1)
            mat = pal.whiteboard() if rng.uniform() < 0.6 else pal.fabric()
        elif kind == 2:  # door
            w, h, y0 = rng.uniform(0.8, 0.95), min(rng.uniform(2.0, 2.15), room_h - 0.1), 0.0
            mat = pal.wood() if rng.uniform() < 0.6 else pal.painted()
        elif kind == 3:  # window
            w, h = rng.uniform(0.8, 2.0), rng.uniform(0.9, 1.5)
            y0, mat = rng.uniform(0.8, 1.0), pal.bright(rng.uniform(1.5, 4.0))
        else:  # radiator / low cupboard front
            w, h, y0, mat = rng.uniform(0.6, 1.4), rng.uniform(0.4, 0.6), 0.12, pal.metal()
        if w > f.length - 0.2:
            continue
        a = rng.uniform(0.1, f.length - w - 0.1)
        door = b.doorway
        if door is not None and door.wall == f.wall and a < door.a1 + 0.1 and door.a0 - 0.1 < a + w:
            continue  # nothing hangs across the opening
        depth = 0.08 if kind == 4 else 0.02
        _place(b, f, a, a + w, 0.0, depth, y0, min(y0 + h, room_h - 0.05), mat, shadow=False)


def clutter(b: SceneBuilder, rng, pal) -> None:
    """Small boxes, cups, bottles and balls on table tops and cabinets."""
    for x0, x1, z0, z1, y in b.tops:
        for _ in range(rng.integers(1, 7)):
            cx, cz = rng.uniform(x0 + 0.05, x1 - 0.05), rng.uniform(z0 + 0.05, z1 - 0.05)
            if x1 - x0 < 0.15 or z1 - z0 < 0.15:
                break
            kind = pick(rng, (0.5, 0.35, 0.15))
            if kind == 0:
                sx, sz, sy = rng.uniform(0.08, 0.4), rng.uniform(0.08, 0.3), rng.uniform(0.03, 0.3)
                sx, sz = min(sx, x1 - cx, cx - x0) * 2, min(sz, z1 - cz, cz - z0) * 2
                b.box(
                    [cx - sx / 2, y, cz - sz / 2], [cx + sx / 2, y + sy, cz + sz / 2], pal.object()
                )
            elif kind == 1:
                r = rng.uniform(0.03, 0.08)
                b.cylinder(cx, cz, r, y, y + rng.uniform(0.08, 0.35), pal.object())
            else:
                r = rng.uniform(0.04, 0.12)
                b.sphere([cx, y + r, cz], r, pal.object())


def floor_things(b: SceneBuilder, rng, pal) -> None:
    """A table with chairs in the middle, bins, pillars, plants and balls on the floor."""
    X, Y, Z = b.room
    w, d = rng.uniform(0.8, 2.0), rng.uniform(0.7, 1.1)
    if rng.uniform() < 0.45 and w + 2.2 < X and d + 2.2 < Z:
        x0, z0 = rng.uniform(1.0, X - w - 1.0), rng.uniform(1.0, Z - d - 1.0)
        if b.free(x0 - 0.6, x0 + w + 0.6, z0 - 0.6, z0 + d + 0.6):
            h, top = rng.uniform(0.72, 0.78), (pal.wood() if rng.uniform() < 0.6 else pal.painted())
            b.box([x0, h - 0.04, z0], [x0 + w, h, z0 + d], top)
            legs = pal.metal() if rng.uniform() < 0.5 else top
            for lx in (x0 + 0.05, x0 + w - 0.1):  # two trestles
                b.box([lx, 0, z0 + 0.05], [lx + 0.05, h - 0.04, z0 + d - 0.05], legs)
            b.footprints.append((x0, x0 + w, z0, z0 + d))
            b.tops.append((x0, x0 + w, z0, z0 + d, h))
            for side in range(rng.integers(1, 5)):  # chairs around it, as seen from that side
                # a chair in front of the table edge that faces wall `side`
                if side in (0, 1):
                    cz = rng.uniform(z0, z0 + d - 0.45)
                    cx = x0 - 0.55 if side == 0 else x0 + w + 0.1
                    lo, hi = [cx, 0, cz], [cx + 0.45, 0.47, cz + 0.45]
                else:
                    cx = rng.uniform(x0, x0 + w - 0.45)
                    cz = z0 - 0.55 if side == 2 else z0 + d + 0.1
                    lo, hi = [cx, 0, cz], [cx + 0.45, 0.47, cz + 0.45]
                if lo[0] > 0 and hi[0] < X and lo[2] > 0 and hi[2] < Z:
                    mat = pal.fabric() if rng.uniform() < 0.5 else pal.painted()
                    b.box([lo[0], 0.41, lo[2]], [hi[0], 0.47, hi[2]], mat)
                    b.box(
                        [lo[0] + 0.18, 0, lo[2] + 0.18],
                        [hi[0] - 0.18, 0.41, hi[2] - 0.18],
                        pal.metal(),
                    )
                    b.footprints.append((lo[0], hi[0], lo[2], hi[2]))
    for _ in range(rng.integers(1, 7)):
        kind = pick(rng, (0.35, 0.15, 0.3, 0.2))
        cx, cz = rng.uniform(0.3, X - 0.3), rng.uniform(0.3, Z - 0.3)
        if kind == 0:  # bin or stool
            r, h, mat = rng.uniform(0.12, 0.25), rng.uniform(0.3, 0.6), pal.object()
        elif kind == 1:  # pillar or pipe, floor to ceiling
            r, h, mat = rng.uniform(0.05, 0.3), Y, pal.painted()
        elif kind == 2:  # plant: pot and foliage
            r, h, mat = rng.uniform(0.1, 0.2), rng.uniform(0.25, 0.45), pal.painted()
        else:  # ball or floor box
            r, h, mat = rng.uniform(0.1, 0.3), 0.0, pal.object()
        if not b.free(cx - r, cx + r, cz - r, cz + r):
            continue
        if kind == 3:
            if rng.uniform() < 0.5:
                b.sphere([cx, r, cz], r, mat)
            else:
                b.box([cx - r, 0, cz - r * 1.3], [cx + r, r * 1.5, cz + r * 1.3], mat)
        else:
            b.cylinder(cx, cz, r, 0, h, mat)
        if kind == 2:
            leaf = pal.fabric()
            leaf = Material(
                leaf.kind, (0.03, 0.12 + 0.1 * rng.uniform(), 0.02), (0.01, 0.05, 0.01), 0.04
            )
            b.sphere([cx, h + r * 1.6, cz], r * 2.0, leaf)
        b.footprints.append((cx - r, cx + r, cz - r, cz + r))


def furnish_walls(b: SceneBuilder, rng, pal) -> None:
    """Walk along each wall placing furniture with gaps; one bed per room at most."""
    Y = float(b.room[1])
    bed_done = False
    for wall in rng.permutation(4):
        f = WallFrame(wall, b.room)
        a = rng.uniform(0.0, 0.8)
        while a < f.length - 0.5:
            if rng.uniform() < 0.12:  # leave a gap
                a += rng.uniform(0.3, 1.0)
                continue
            k = pick(rng, FURNITURE_WEIGHTS)
            make, wmin, wmax = FLOOR_FURNITURE[k]
            if make is bed and bed_done:
                continue
            w = rng.uniform(wmin, wmax)
            if a + w > f.length - 0.05:
                break
            lo, hi = f.box(a, a + w, 0, 2.1 if make is bed else 1.0, 0, 1)
            if not b.free(lo[0], hi[0], lo[2], hi[2], margin=0.0):
                a += 0.3
                continue
            make(b, f, a, w, rng, pal, Y - 0.35)
            if len(b.boxes) > MAX_FURNITURE_BOXES:
                break
            bed_done |= make is bed
            a += w + rng.uniform(0.0, 0.4)
        wall_hangings(b, f, rng, pal, Y)


def lights(b: SceneBuilder, rng, pal) -> list[Light]:
    """One or two lamps hanging under the ceiling, each under a glowing panel."""
    X, Y, Z = (float(v) for v in b.room)
    out = []
    for _ in range(1 if rng.uniform() < 0.5 else 2):
        lx, lz = rng.uniform(0.25, 0.75) * X, rng.uniform(0.25, 0.75) * Z
        tint = np.array([1.0, rng.uniform(0.9, 1.0), rng.uniform(0.75, 1.05)], np.float32)
        out.append(Light(np.array([lx, Y - 0.12, lz], np.float32), tint * rng.uniform(2.0, 6.0)))
        sx, sz = (0.6, 0.6) if rng.uniform() < 0.5 else (1.2, 0.3)
        b.box(
            [lx - sx / 2, Y - 0.03, lz - sz / 2],
            [lx + sx / 2, Y, lz + sz / 2],
            pal.bright(4.0),
            shadow=False,
        )
    return out


DOORWAY_SHARE = 0.5  # share of rooms with an opening onto a space behind one wall


@dataclass(frozen=True)
class Doorway:
    """An opening ``a0..a1`` along wall ``wall`` (1: x = X, 3: z = Z; the room's other walls
    stay closed so that nothing moves), ``height`` high, onto a space ``depth`` deep behind it."""

    wall: int
    a0: float
    a1: float
    height: float
    depth: float


WALL_THICKNESS = 0.1


def plan_doorway(b: SceneBuilder, rng) -> Doorway:
    """Where the opening goes; the floor in front of it is kept clear of furniture (and near
    views may look through it, as NYU frames look through doors into corridors and rooms)."""
    wall = 1 if rng.uniform() < 0.5 else 3
    f = WallFrame(wall, b.room)
    width = min(
        rng.uniform(0.8, 1.0) if rng.uniform() < 0.6 else rng.uniform(1.2, 3.0), f.length - 0.6
    )
    a0 = rng.uniform(0.3, f.length - width - 0.3)
    height = min(rng.uniform(2.0, 2.3), b.room[1] - 0.15) if width < 1.1 else b.room[1] - 0.3
    door = Doorway(wall, a0, a0 + width, height, rng.uniform(1.5, 6.0))
    b.footprints.append(_rect(*f.box(a0 - 0.1, a0 + width + 0.1, 0.0, 0.9, 0, 1)))
    return door


def build_doorway(b: SceneBuilder, rng, pal, door: Doorway, wall_mat: Material) -> Light:
    """The wall with its opening (slabs behind the wall's plane, so the room's inside faces stay
    where they were), an open door leaf, a cabinet or two against the far wall, and the lamp
    of the space behind; the room's shell is grown by `extended_room`."""
    f, Y, t = WallFrame(door.wall, b.room), float(b.room[1]), WALL_THICKNESS
    _place(b, f, 0.0, door.a0, -t, 0.0, 0.0, Y, wall_mat)
    _place(b, f, door.a1, f.length, -t, 0.0, 0.0, Y, wall_mat)
    _place(b, f, door.a0, door.a1, -t, 0.0, door.height, Y, wall_mat)
    leaf = min(door.a1 - door.a0, 0.95)
    if rng.uniform() < 0.5 and leaf < 1.0 and door.depth > leaf + 0.3:  # door open, swung in
        mat = pal.wood() if rng.uniform() < 0.6 else pal.painted()
        _place(b, f, door.a0, door.a0 + 0.04, -t - leaf, -t, 0.0, door.height - 0.01, mat)
    far = -t - door.depth
    for _ in range(rng.integers(0, 3)):
        w, d, h = rng.uniform(0.5, 1.6), rng.uniform(0.35, 0.6), rng.uniform(0.7, 2.0)
        if d > door.depth - 0.5:
            break
        a = rng.uniform(0.0, max(0.0, f.length - w))
        _place(b, f, a, a + w, far, far + d, 0.0, min(h, Y - 0.3), pal.painted())
    lx, lz = f.world(f.length / 2, far / 2 - t / 2)
    tint = np.array([1.0, rng.uniform(0.9, 1.0), rng.uniform(0.75, 1.05)], np.float32)
    b.box([lx - 0.3, Y - 0.03, lz - 0.3], [lx + 0.3, Y, lz + 0.3], pal.bright(4.0), shadow=False)
    return Light(np.array([lx, Y - 0.12, lz], np.float32), tint * rng.uniform(2.0, 6.0))


def extended_room(room: np.ndarray, door: Doorway) -> np.ndarray:
    """The shell that holds the room and the space behind its opened wall."""
    grown = room.copy()
    grown[0 if door.wall == 1 else 2] += WALL_THICKNESS + door.depth
    return grown


NEAR_VIEW_SHARE = 0.5  # share of frames that look at one piece of furniture from close by


def _near_view(b: SceneBuilder, rng, size: tuple[int, int]) -> Camera | None:
    """A Kinect held 0.8-2.8 m in front of one piece of furniture, looking at it (as most NYU
    frames look at a desk, a shelf or a counter, not across the room); None when no free spot
    is found."""
    X, _, Z = (float(v) for v in b.room)
    if not b.footprints:
        return None
    x0, x1, z0, z1 = b.footprints[int(rng.integers(0, len(b.footprints)))]
    cx, cz = (x0 + x1) / 2, (z0 + z1) / 2
    for _ in range(12):
        angle, r = rng.uniform(0, 2 * math.pi), rng.uniform(0.8, 2.8)
        x, z = cx + r * math.sin(angle), cz + r * math.cos(angle)
        if not (0.3 < x < X - 0.3 and 0.3 < z < Z - 0.3):
            continue
        if not b.free(x - 0.2, x + 0.2, z - 0.2, z + 0.2, margin=0.1):
            continue
        height = rng.uniform(1.0, 1.8)
        yaw = math.atan2(cx - x, cz - z) + rng.normal(0, 0.2)
        target = rng.uniform(0.3, 1.2)  # look at the middle of the furniture, not its top
        dist = math.hypot(cx - x, cz - z)
        pitch = float(np.clip(-math.atan2(height - target, dist) + rng.normal(0, 0.1), -0.8, 0.2))
        roll = float(np.clip(rng.normal(0, 0.04), -0.12, 0.12))
        return nyu_camera(size, np.array([x, height, z]), yaw, pitch, roll)
    return None


def hand_held_camera(b: SceneBuilder, rng, size: tuple[int, int]) -> Camera:
    """A Kinect held at 1-1.8 m in free floor space: half the time looking at one piece of
    furniture from close by (`_near_view`), otherwise across the room."""
    if rng.uniform() < NEAR_VIEW_SHARE:
        camera = _near_view(b, rng, size)
        if camera is not None:
            return camera
    X, _, Z = (float(v) for v in b.room)
    best = None
    for _ in range(40):
        x, z = rng.uniform(0.3, X - 0.3), rng.uniform(0.3, Z - 0.3)
        if not b.free(x - 0.2, x + 0.2, z - 0.2, z + 0.2, margin=0.1):
            continue
        # look at a random point far away: the longest of a few sight lines
        tx, tz = rng.uniform(0, X, size=4), rng.uniform(0, Z, size=4)
        dist = np.hypot(tx - x, tz - z)
        i = int(np.argmax(dist))
        if best is None or dist[i] > best[0]:
            best = (dist[i], x, z, tx[i], tz[i])
        if dist[i] > 0.5 * math.hypot(X, Z):
            break
    if best is None:  # crowded room: stand in the middle
        best = (0.0, X / 2, Z / 2, X, Z)
    _, x, z, tx, tz = best
    yaw = math.atan2(tx - x, tz - z) + rng.normal(0, 0.15)
    pitch = float(np.clip(rng.normal(-0.14, 0.14), -0.5, 0.25))
    roll = float(np.clip(rng.normal(0, 0.04), -0.12, 0.12))
    height = rng.uniform(1.0, 1.8)
    return nyu_camera(size, np.array([x, height, z]), yaw, pitch, roll)


def random_scene(
    rng: np.random.Generator, size: tuple[int, int] = (320, 240), fov: float | None = None
) -> Scene:
    """A random furnished room and camera, entirely determined by ``rng``; ``fov`` (horizontal,
    degrees) replaces the Kinect's intrinsics and draws nothing from ``rng``."""
    room = np.array(
        [rng.uniform(2.5, 8.0), rng.uniform(2.4, 3.2), rng.uniform(2.5, 8.0)], np.float32
    )
    pal = Palette(rng)
    b = SceneBuilder((float(room[0]), float(room[1]), float(room[2])))
    if rng.uniform() < DOORWAY_SHARE:
        b.doorway = plan_doorway(b, rng)
    furnish_walls(b, rng, pal)
    floor_things(b, rng, pal)
    clutter(b, rng, pal)
    lamps = lights(b, rng, pal)
    camera = hand_held_camera(b, rng, size)
    if fov is not None:
        camera = camera.with_fov(fov)
    walls = pal.wall()
    if b.doorway is not None:
        lamps.append(build_doorway(b, rng, pal, b.doorway, walls))
        room = extended_room(room, b.doorway)
    room_mats = [pal.floor(), pal.ceiling(), walls, walls, walls, walls]
    if rng.uniform() < 0.3:  # an accent wall
        room_mats[2 + int(rng.integers(0, 4))] = pal.wall()
    mats = room_mats + [m for m, _ in b.box_mats + b.cyl_mats + b.sph_mats]
    shadows = [False] * 6 + [s for _, s in b.box_mats + b.cyl_mats + b.sph_mats]
    return Scene(
        room=room,
        camera=camera,
        boxes=np.array(b.boxes, np.float32).reshape(-1, 6),
        cylinders=np.array(b.cylinders, np.float32).reshape(-1, 5),
        spheres=np.array(b.spheres, np.float32).reshape(-1, 4),
        materials=mats,
        casts_shadow=np.array(shadows, bool),
        lights=lamps,
        ambient=float(rng.uniform(0.12, 0.45)),
    )

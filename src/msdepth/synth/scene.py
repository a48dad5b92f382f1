"""What a synthetic scene is: a pinhole camera, a box-shaped room, primitives, materials, lights.

World frame: metres, y up; the room spans ``[0, X] x [0, Y] x [0, Z]`` (floor at y = 0). Camera
frame: OpenCV convention (x right, y down, z forward). Primitives are axis-aligned boxes, vertical
cylinders and spheres; every surface point belongs to one primitive, whose index (the room's six
faces first) selects its material.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

# NYU Depth V2 Kinect colour camera at 640x480 (the toolbox's camera_params.m).
NYU_SIZE = (640, 480)
NYU_FX, NYU_FY, NYU_CX, NYU_CY = 518.8579, 519.4696, 325.5824, 253.7362

# Room faces: their primitive ids and inward normals (the camera is inside the room).
ROOM_FACES = ("floor", "ceiling", "wall x=0", "wall x=X", "wall z=0", "wall z=Z")
ROOM_NORMALS = np.array(
    [[0, 1, 0], [0, -1, 0], [1, 0, 0], [-1, 0, 0], [0, 0, 1], [0, 0, -1]], dtype=np.float32
)


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: world position, rotation (columns = camera axes in world), intrinsics."""

    position: np.ndarray  # (3,) world
    rotation: np.ndarray  # (3, 3) camera-to-world
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (..., 3) camera coordinates (z = depth along the axis)."""
        return (np.asarray(points, dtype=np.float32) - self.position) @ self.rotation

    @property
    def intrinsics(self) -> dict[str, float]:
        return {"fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy}

    def with_fov(self, fov_deg: float) -> Camera:
        """The same pose and image size with a horizontal field of view of ``fov_deg``."""
        k = fov_intrinsics((self.width, self.height), fov_deg)
        return dataclasses.replace(self, fx=k["fx"], fy=k["fy"], cx=k["cx"], cy=k["cy"])


def nyu_intrinsics(size: tuple[int, int]) -> dict[str, float]:
    """The NYU Kinect intrinsics scaled from 640x480 to ``size`` = (W, H)."""
    sx, sy = size[0] / NYU_SIZE[0], size[1] / NYU_SIZE[1]
    return {"fx": NYU_FX * sx, "fy": NYU_FY * sy, "cx": NYU_CX * sx, "cy": NYU_CY * sy}


def fov_intrinsics(size: tuple[int, int], fov_deg: float) -> dict[str, float]:
    """Square pixels, principal point at the image centre, horizontal field of view
    ``fov_deg`` (0-180 degrees exclusive), at ``size`` = (W, H)."""
    if not 0 < fov_deg < 180:
        raise ValueError(f"field of view must be between 0 and 180 degrees, got {fov_deg}")
    f = (size[0] / 2) / math.tan(math.radians(fov_deg) / 2)
    return {"fx": f, "fy": f, "cx": (size[0] - 1) / 2, "cy": (size[1] - 1) / 2}


def look_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Camera-to-world rotation of a camera turned by yaw (about world up), pitch, roll (radians).

    yaw = 0 looks along world +z; positive pitch looks up; roll turns the camera about its axis.
    """
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    forward = np.array([sy * cp, sp, cy * cp])
    right0 = np.array([-cy, 0.0, sy])  # horizontal: forward x up
    down0 = np.cross(forward, right0)
    right = cr * right0 + sr * down0
    down = np.cross(forward, right)
    return np.stack([right, down, forward], axis=1).astype(np.float32)


def nyu_camera(
    size: tuple[int, int], position: np.ndarray, yaw: float, pitch: float, roll: float
) -> Camera:
    """A camera with the NYU Kinect's intrinsics at ``size`` = (W, H)."""
    k = nyu_intrinsics(size)
    return Camera(
        np.asarray(position, dtype=np.float32),
        look_rotation(yaw, pitch, roll),
        k["fx"],
        k["fy"],
        k["cx"],
        k["cy"],
        size[0],
        size[1],
    )


# Texture kinds (see `textures.py`); EMISSIVE surfaces are lamps and windows, not shaded.
FLAT, NOISE, WOOD, TILES, STRIPES, CHECKER, POSTER, BOOKS, EMISSIVE = range(9)
TEXTURE_NAMES = ("flat", "noise", "wood", "tiles", "stripes", "checker", "poster", "books", "lamp")


@dataclass(frozen=True)
class Material:
    """A surface: texture kind, two colours (linear RGB in [0, 1]), texture scale (m), gloss."""

    kind: int
    color1: tuple[float, float, float]
    color2: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: float = 0.2
    specular: float = 0.0  # Blinn-Phong weight; glossy surfaces also lose Kinect depth


@dataclass
class Light:
    """A point light: position (world) and linear RGB intensity (irradiance at 1 m)."""

    position: np.ndarray
    intensity: np.ndarray


@dataclass
class Scene:
    """A room with its contents, lights and camera. Primitive ids: 6 room faces, boxes,
    cylinders, spheres, in that order; ``materials[i]`` belongs to primitive ``i``."""

    room: np.ndarray  # (3,) X, Y, Z
    camera: Camera
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 6), np.float32))
    cylinders: np.ndarray = field(default_factory=lambda: np.zeros((0, 5), np.float32))
    spheres: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    materials: list[Material] = field(default_factory=list)
    casts_shadow: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # per primitive
    lights: list[Light] = field(default_factory=list)
    ambient: float = 0.3

    @property
    def box_ids(self) -> range:
        return range(6, 6 + len(self.boxes))

    @property
    def cylinder_ids(self) -> range:
        start = 6 + len(self.boxes)
        return range(start, start + len(self.cylinders))

    @property
    def sphere_ids(self) -> range:
        start = 6 + len(self.boxes) + len(self.cylinders)
        return range(start, start + len(self.spheres))

    @property
    def primitive_count(self) -> int:
        return 6 + len(self.boxes) + len(self.cylinders) + len(self.spheres)

"""A hand-held fly-through of one synthetic room: a test clip with exact ground truth.

The room and the first camera are `layout.random_scene`'s (so a sequence looks like the frames
of `msdepth synth`); from there the camera walks slowly through free space while panning,
with a person's hand tremor and step bob on top. Every motion is a sum of a few sinusoids of
random phase, so the path is smooth at any frame rate. The camera's exposure target, white
balance, vignetting, blur and noise level are drawn once for the clip (`CameraSettings`);
image noise and Kinect depth noise are drawn per frame.

`synthesize_sequence` writes the frames as a prepared dataset with one split, ``test`` (so
``msdepth evaluate`` scores it as it is), plus:

- ``test/poses.npy``: (N, 4, 4) float64 camera-to-world matrices, world in metres with y up,
  camera axes as OpenCV's (x right, y down, z forward; columns 0-2 of the rotation);
- ``frames.mp4``: the frames as H.264 at ``fps`` (needs PyAV);
- ``meta.json`` ``"sequence"``: frame count, rate, the file names above, path length and pan.

Frame ``i`` is a pure function of (seed, i, N, size, fov): the same call gives the same clip, bit for
bit.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from msdepth.errors import ConfigError
from msdepth.synth.layout import random_scene
from msdepth.synth.render import frame_rng, render_scene
from msdepth.synth.scene import Camera, Scene, look_rotation
from msdepth.synth.sensor import CameraSettings

SPLIT = "test"
DEFAULT_FPS = 30
WALK_SPEED = (0.15, 0.35)  # m/s: a person filming while walking slowly
CLEARANCE = 0.3  # m kept between the camera and walls, furniture and objects
_ROOM_SPLIT, _FRAME_SPLIT = "sequence-room", "sequence"


@dataclass(frozen=True)
class CameraPath:
    """Camera positions and yaw / pitch / roll (radians, as `scene.look_rotation`) per frame."""

    positions: np.ndarray  # (N, 3) world metres
    angles: np.ndarray  # (N, 3) yaw, pitch, roll

    def camera(self, base: Camera, index: int) -> Camera:
        """``base`` (its intrinsics and size) moved to this path's pose number ``index``."""
        yaw, pitch, roll = (float(a) for a in self.angles[index])
        return dataclasses.replace(
            base,
            position=self.positions[index].astype(np.float32),
            rotation=look_rotation(yaw, pitch, roll),
        )

    def poses(self, base: Camera) -> np.ndarray:
        """(N, 4, 4) camera-to-world matrices (rotation columns = camera x, y, z in world)."""
        out = np.tile(np.eye(4), (len(self.positions), 1, 1))
        for i in range(len(self.positions)):
            cam = self.camera(base, i)
            out[i, :3, :3] = cam.rotation
            out[i, :3, 3] = cam.position
        return out

    @property
    def length(self) -> float:
        """Distance walked, metres."""
        return float(np.linalg.norm(np.diff(self.positions, axis=0), axis=1).sum())


def camera_angles(camera: Camera) -> tuple[float, float, float]:
    """Yaw, pitch and roll of a camera made by `scene.look_rotation` (its inverse)."""
    right, forward = camera.rotation[:, 0].astype(np.float64), camera.rotation[:, 2]
    pitch = math.asin(float(np.clip(forward[1], -1.0, 1.0)))
    yaw = math.atan2(float(forward[0]), float(forward[2]))
    right0 = np.array([-math.cos(yaw), 0.0, math.sin(yaw)])
    down0 = np.cross(forward, right0)
    roll = math.atan2(float(right @ down0), float(right @ right0))
    return yaw, pitch, roll


def is_free(scene: Scene, point: np.ndarray, clearance: float = CLEARANCE) -> bool:
    """True when ``point`` is inside the room and at least ``clearance`` from every primitive."""
    x, y, z = (float(v) for v in point)
    X, Y, Z = (float(v) for v in scene.room)
    if not (clearance <= x <= X - clearance and 0.3 <= y <= Y - clearance):
        return False
    if not clearance <= z <= Z - clearance:
        return False
    boxes = scene.boxes
    if len(boxes):
        inside = np.all(
            (boxes[:, :3] - clearance <= point) & (point <= boxes[:, 3:] + clearance), 1
        )
        if inside.any():
            return False
    for cx, cz, r, y0, y1 in scene.cylinders:
        if math.hypot(x - cx, z - cz) < r + clearance and y0 - clearance <= y <= y1 + clearance:
            return False
    for sx, sy, sz, r in scene.spheres:
        if math.dist((x, y, z), (sx, sy, sz)) < r + clearance:
            return False
    return True


def _wobble(rng: np.random.Generator, t: np.ndarray, amplitude: float, band: tuple) -> np.ndarray:
    """A smooth random signal: three sinusoids in ``band`` Hz, of random phase, starting at 0."""
    freqs = rng.uniform(*band, size=3)
    phases = rng.uniform(0, 2 * np.pi, size=3)
    weights = np.array([1.0, 0.6, 0.35]) * amplitude / 1.95
    wave = sum(
        w * np.sin(2 * np.pi * f * t + p) for w, f, p in zip(weights, freqs, phases, strict=True)
    )
    return wave - sum(w * np.sin(p) for w, p in zip(weights, phases, strict=True))


def hand_held_path(scene: Scene, frames: int, rng: np.random.Generator, fps: float) -> CameraPath:
    """A smooth walk from ``scene.camera`` through free space, panning, with hand tremor.

    The walk direction is the first of a few (roughly where the camera looks) along which every
    pose keeps `CLEARANCE`; failing all, the freest one, cut short where it meets something.
    """
    t = np.arange(frames) / float(fps)
    duration = max(float(t[-1]), 1e-6)
    start = scene.camera.position.astype(np.float64)
    yaw0, pitch0, roll0 = camera_angles(scene.camera)
    distance = rng.uniform(*WALK_SPEED) * duration
    ease = 0.5 - 0.5 * np.cos(np.pi * t / duration)  # starts and stops gently
    sway = _wobble(rng, t, 0.04, (0.3, 0.8))  # side to side, metres
    bob = _wobble(rng, t, 0.015, (1.5, 2.2))  # steps, metres
    best: tuple[int, np.ndarray] | None = None
    for attempt in range(8):
        heading = yaw0 + rng.uniform(-0.6, 0.6) + (attempt // 2) * np.pi / 2
        ahead = np.array([math.sin(heading), 0.0, math.cos(heading)])
        side = np.array([math.cos(heading), 0.0, -math.sin(heading)])
        path = (
            start
            + np.outer(distance * ease, ahead)
            + np.outer(sway, side)
            + np.outer(bob, [0.0, 1.0, 0.0])
        )
        free = [is_free(scene, p) for p in path]
        reach = next((i for i, ok in enumerate(free) if not ok), frames)
        if best is None or reach > best[0]:
            best = (reach, path)
        if reach == frames:
            break
    reach, path = best  # type: ignore[misc]
    if reach < frames:  # no free direction for the whole walk: stop where it meets something
        scale = max(reach - 1, 0) / max(frames - 1, 1)
        path = start + (path - start) * scale
    pan = _wobble(rng, t, rng.uniform(0.2, 0.45), (0.05, 0.2))  # looking around, radians
    tremor = [_wobble(rng, t, 0.006, (1.0, 4.0)) for _ in range(3)]  # hand shake, radians
    angles = np.stack(
        [
            yaw0 + pan + tremor[0],
            np.clip(pitch0 + 0.5 * _wobble(rng, t, 0.1, (0.05, 0.2)) + tremor[1], -0.6, 0.4),
            roll0 + tremor[2],
        ],
        axis=1,
    )
    return CameraPath(path, angles)


def sequence_scene(
    seed: int,
    frames: int,
    size: tuple[int, int] = (320, 240),
    fps: float = DEFAULT_FPS,
    fov: float | None = None,
) -> tuple[Scene, CameraPath, CameraSettings]:
    """The room (with its first camera), the camera's path and the camera's settings;
    ``fov`` (horizontal degrees) replaces the Kinect's intrinsics for the whole clip."""
    rng = frame_rng(seed, _ROOM_SPLIT, 0)
    scene = random_scene(rng, size, fov=fov)
    path = hand_held_path(scene, frames, rng, fps)
    return scene, path, CameraSettings.draw(rng)


def render_sequence(
    seed: int,
    frames: int,
    size: tuple[int, int] = (320, 240),
    sensor: bool = True,
    fps: float = DEFAULT_FPS,
    fov: float | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(rgb, depth, camera-to-world pose) of each frame of the clip, in order."""
    scene, path, settings = sequence_scene(seed, frames, size, fps, fov)
    poses = path.poses(scene.camera)
    for i in range(frames):
        frame = dataclasses.replace(scene, camera=path.camera(scene.camera, i))
        rgb, depth = render_scene(frame, frame_rng(seed, _FRAME_SPLIT, i), sensor, settings)
        yield rgb, depth, poses[i]


def synthesize_sequence(
    out: str | Path,
    frames: int,
    seed: int = 0,
    size: tuple[int, int] = (320, 240),
    *,
    fps: int = DEFAULT_FPS,
    sensor: bool = True,
    overwrite: bool = False,
    progress: bool = True,
    fov: float | None = None,
) -> Path:
    """Write a ``frames``-long fly-through as a prepared dataset at ``out`` (module docstring);
    ``fov``: the clip's horizontal field of view in degrees (default: NYU's Kinect)."""
    from tqdm import tqdm

    from msdepth.data.prepared import DatasetWriter
    from msdepth.data.video import VideoWriter, require_av
    from msdepth.synth.dataset import check_fov

    if frames < 2:
        raise ConfigError(f"--sequence needs at least 2 frames, got {frames}")
    if fps < 1:
        raise ConfigError(f"--fps must be at least 1, got {fps}")
    fov = check_fov(fov)
    if isinstance(fov, tuple):
        raise ConfigError(f"--fov {fov}: a sequence has one camera; give one angle, e.g. --fov 63")
    require_av("msdepth synth --sequence writes frames.mp4")
    scene, path, _ = sequence_scene(seed, frames, size, fps, fov)
    cam = scene.camera
    source = {
        "kind": "synthetic-sequence",
        "generator": "msdepth.synth.sequence",
        "seed": int(seed),
        "depth": "kinect-like (noise, missing)" if sensor else "exact",
        "fov_deg": fov,  # None: NYU's Kinect
    }
    intrinsics = {
        "fx": float(cam.fx),
        "fy": float(cam.fy),
        "cx": float(cam.cx),
        "cy": float(cam.cy),
    }
    bar = tqdm(total=frames, unit="img", desc="sequence", disable=not progress)
    with DatasetWriter(
        out, image_size=size, source=source, intrinsics=intrinsics, overwrite=overwrite
    ) as writer:
        split = writer.split(SPLIT, frames)
        poses = np.empty((frames, 4, 4))
        with VideoWriter(writer.tmp / "frames.mp4", Fraction(fps), size) as video:
            for i, (rgb, depth, pose) in enumerate(
                render_sequence(seed, frames, size, sensor, fps, fov)
            ):
                split.append(rgb, depth, f"synth-s{seed}-seq-{i:06d}")
                video.write(rgb)
                poses[i] = pose
                bar.update(1)
        np.save(writer.tmp / SPLIT / "poses.npy", poses)
        yaw = np.degrees(path.angles[:, 0])
        writer.extra_meta["sequence"] = {
            "split": SPLIT,
            "frames": frames,
            "fps": fps,
            "poses": f"{SPLIT}/poses.npy",
            "video": "frames.mp4",
            "path_length_m": round(path.length, 3),
            "pan_deg": round(float(yaw.max() - yaw.min()), 1),
        }
    bar.close()
    return Path(out)

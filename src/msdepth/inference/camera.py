"""The camera of an image, and the focal rule that turns the network's depth into its metres.

A network trained at focal f_train (pixels of the training frames, ``model.train_focal``) reads
depth from apparent size. An image of focal f, resized whole to the network input
(``input_width`` pixels wide), has focal ``f_input = f * input_width / W``; the same apparent
size there means depth ``f_input / f_train`` times the network's (the canonical-camera idea of
Metric3D). So::

    metres = network depth * f_input / f_train                       (the focal rule)

When the image's focal is not known, the image is taken to have the training camera's field of
view, ``f_input / f_train = input_width / reference_width``: today's whole-frame factor (304/320
for NYU), exactly. When the model's training focal is unknown (a dataset without intrinsics),
that factor is kept for every image and the outputs say the focal was not applied.

Where the image's focal comes from, first found wins: ``focal`` (pixels, or ``"exif"`` to
require EXIF), ``fov`` (horizontal degrees), EXIF (``FocalLengthIn35mmFilm``, or
``FocalLength`` with the sensor's ``FocalPlaneXResolution``), else the training camera.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from msdepth.config import ModelConfig
from msdepth.errors import ConfigError, DataError

# NYU Depth V2's Kinect colour camera at 640x480 (the toolbox's camera_params.m).
NYU_KINECT = {"fx": 518.8579, "fy": 519.4696, "cx": 325.5824, "cy": 253.7362}
NYU_SIZE = (640, 480)
FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)  # the 35 mm film frame, 43.27 mm
EXIF_IFD = 0x8769
TAG_FOCAL_LENGTH = 0x920A  # mm, rational
TAG_FOCAL_35MM = 0xA405  # mm, 35 mm film equivalent; 0 = unknown
TAG_FOCAL_PLANE_X_RES = 0xA20E  # pixels per unit on the sensor, along the image width
TAG_FOCAL_PLANE_UNIT = 0xA210  # 2 inch (default), 3 cm, 4 mm, 5 micrometre
TAG_PIXEL_X = 0xA002  # width of the image the camera wrote
TAG_ORIENTATION = 0x0112
UNIT_MM = {1: 25.4, 2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole camera intrinsics in pixels of the image they describe."""

    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def nyu_kinect(cls, width: int = 640, height: int = 480) -> Intrinsics:
        """NYU's Kinect intrinsics scaled from 640x480 to an image of ``width`` x ``height``."""
        sx, sy = width / NYU_SIZE[0], height / NYU_SIZE[1]
        k = NYU_KINECT
        return cls(k["fx"] * sx, k["fy"] * sy, k["cx"] * sx, k["cy"] * sy)

    @classmethod
    def from_fov(cls, fov_deg: float, width: int, height: int) -> Intrinsics:
        """Square pixels, principal point at the centre, ``fov_deg`` the horizontal field of view."""
        return cls.from_focal(focal_from_fov(fov_deg, width), width, height)

    @classmethod
    def from_focal(cls, focal: float, width: int, height: int) -> Intrinsics:
        """Square pixels of focal ``focal``, principal point at the image centre."""
        return cls(focal, focal, (width - 1) / 2, (height - 1) / 2)

    @property
    def fov_x(self) -> float:
        """Horizontal field of view in degrees, for an image ``2 cx + 1`` pixels wide."""
        return math.degrees(2 * math.atan((self.cx + 0.5) / self.fx))

    def matrix(self) -> np.ndarray:
        """The 3x3 camera matrix K (float64)."""
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], np.float64)

    def scaled(self, sx: float, sy: float) -> Intrinsics:
        """The same camera for the image resized by ``sx`` x ``sy`` (pixel centres kept)."""
        return Intrinsics(
            self.fx * sx, self.fy * sy, (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5
        )

    def to_dict(self) -> dict[str, float]:
        return {"fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy}


def check_focal(value: Any, what: str = "--focal") -> float:
    """``value`` as a focal length in pixels (finite, > 0), else a one-line `ConfigError`."""
    try:
        focal = float(value)
    except (TypeError, ValueError):
        focal = math.nan
    if not (math.isfinite(focal) and focal > 0):
        raise ConfigError(
            f"{what} {value!r}: a focal length is a positive number of pixels of the input "
            "image (e.g. 1500 for a phone photo 2000 px wide); or give --fov DEGREES"
        )
    return focal


def focal_from_fov(fov_deg: Any, width: int, what: str = "--fov") -> float:
    """Horizontal focal in pixels of an image ``width`` wide with field of view ``fov_deg``."""
    try:
        fov = float(fov_deg)
    except (TypeError, ValueError):
        fov = math.nan
    if not 0 < fov < 180:
        raise DataError(
            f"{what} {fov_deg!r}: a horizontal field of view is degrees strictly between 0 and "
            "180 (a phone's main camera is about 65-75)"
        )
    return (width / 2) / math.tan(math.radians(fov) / 2)


@dataclass(frozen=True)
class FocalLength:
    """An image's horizontal focal length in pixels and where it came from."""

    px: float
    source: str  # "--focal", "--fov 70", "EXIF FocalLengthIn35mmFilm 26 mm", ...


# ---- EXIF -----------------------------------------------------------------------------------


def read_exif(image: Any) -> Any | None:
    """The EXIF of a file path or PIL image (Pillow's ``Image.Exif``; one already read, e.g. of
    an upload, is returned as it is), None for arrays or files without EXIF. Reading a file's
    EXIF decodes no pixels."""
    from PIL import Image

    if isinstance(image, Image.Exif):
        return image
    if isinstance(image, Image.Image):
        return image.getexif()
    if isinstance(image, (str, Path)):
        try:
            with Image.open(image) as opened:
                return opened.getexif()
        except (OSError, SyntaxError, ValueError):
            return None  # read_rgb reports unreadable files, in one line
    return None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def exif_focal(exif: Any, width: int, height: int) -> tuple[FocalLength | None, str]:
    """(focal in pixels of the ``width`` x ``height`` image as shown, or None; why not).

    ``FocalLengthIn35mmFilm`` F: ``F * diagonal_px / 43.27`` (the 35 mm equivalent is defined
    by the frame diagonal, as in Depth Pro); else ``FocalLength`` f mm with the sensor's
    ``FocalPlaneXResolution`` r px per unit: ``f * r / unit_mm`` at the width the camera
    wrote (``PixelXDimension``), scaled to this image's. Focal lengths in pixels are the same
    for a rotated (EXIF orientation) image: square pixels.
    """
    if exif is None or len(exif) == 0:
        return None, "no EXIF"
    tags = dict(exif)
    with contextlib.suppress(KeyError, ValueError, TypeError):
        tags.update(exif.get_ifd(EXIF_IFD))
    f35 = _number(tags.get(TAG_FOCAL_35MM))
    if f35 is not None and f35 > 0:
        px = f35 * math.hypot(width, height) / FULL_FRAME_DIAGONAL_MM
        return FocalLength(px, f"EXIF FocalLengthIn35mmFilm {f35:g} mm"), ""
    f_mm = _number(tags.get(TAG_FOCAL_LENGTH))
    if f_mm is None or f_mm <= 0:
        if TAG_FOCAL_LENGTH in tags or TAG_FOCAL_35MM in tags:
            return None, "EXIF focal length is 0 or unreadable"
        return None, "EXIF has no FocalLength or FocalLengthIn35mmFilm"
    per_unit = _number(tags.get(TAG_FOCAL_PLANE_X_RES))
    unit = UNIT_MM.get(int(_number(tags.get(TAG_FOCAL_PLANE_UNIT)) or 2))
    if per_unit is None or per_unit <= 0 or unit is None:
        return None, (
            f"EXIF FocalLength {f_mm:g} mm without the sensor size (no FocalPlaneXResolution "
            "or FocalLengthIn35mmFilm)"
        )
    rotated = int(_number(tags.get(TAG_ORIENTATION)) or 1) in (5, 6, 7, 8)
    stored_width = height if rotated else width
    written = _number(tags.get(TAG_PIXEL_X))
    resize = stored_width / written if written and written > 0 else 1.0
    px = f_mm * per_unit / unit * resize
    return FocalLength(px, f"EXIF FocalLength {f_mm:g} mm and FocalPlaneXResolution"), ""


# ---- what the user says about the camera ----------------------------------------------------


NARROW_VIEWS = ("canonical", "rule")


@dataclass(frozen=True)
class CameraSpec:
    """What is known of an image's camera: ``focal`` (pixels of the image, or ``"exif"`` to
    require its EXIF), or ``fov`` (horizontal degrees); optionally ``fy``, ``cx``, ``cy``
    (pixels) for the point cloud's K. Nothing given: EXIF when usable, else the training
    camera. ``narrow``: how an image of a longer focal than the training camera's is made
    metric: ``"rule"`` (depth x f_input / f_train, the default) or ``"canonical"`` (shrunk to the training camera's scale,
    `msdepth.inference.canonical_view`). Values are
    checked when the spec is made (one-line `ConfigError`)."""

    focal: float | str | None = None
    fov: float | None = None
    fy: float | None = None
    cx: float | None = None
    cy: float | None = None
    narrow: str = "rule"  # a view narrower than training: the "rule" or the "canonical" image

    def __post_init__(self) -> None:
        if self.narrow not in NARROW_VIEWS:
            raise ConfigError(f"--narrow {self.narrow!r}: choose one of {', '.join(NARROW_VIEWS)}")
        if self.focal is not None and self.fov is not None:
            raise ConfigError("give the focal length (--focal/--fx) or --fov, not both")
        if isinstance(self.focal, str) and self.focal.strip().lower() == "exif":
            object.__setattr__(self, "focal", "exif")
        elif self.focal is not None:
            object.__setattr__(self, "focal", check_focal(self.focal))
        if self.fov is not None:
            focal_from_fov(self.fov, 1)  # checks the range
            object.__setattr__(self, "fov", float(self.fov))
        if self.fy is not None:
            object.__setattr__(self, "fy", check_focal(self.fy, "--fy"))
        for name in ("cx", "cy"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(float(value)):
                raise ConfigError(f"--{name} {value!r} must be a finite number of pixels")

    def focal_length(
        self, width: int, height: int, exif: Any | None = None, name: str = "image"
    ) -> FocalLength | None:
        """The image's focal (first found: focal, fov, EXIF), None when nothing says it.

        ``focal="exif"`` without a usable EXIF focal is a one-line `DataError` naming ``name``.
        """
        if isinstance(self.focal, float):
            return FocalLength(self.focal, "--focal")
        if self.fov is not None:
            return FocalLength(focal_from_fov(self.fov, width), f"--fov {self.fov:g}")
        found, why = exif_focal(exif, width, height)
        if found is None and self.focal == "exif":
            raise DataError(
                f"{name}: {why}, so --focal exif has nothing to read; pass --focal PX or --fov DEG"
            )
        return found


# ---- the focal rule -------------------------------------------------------------------------


@dataclass(frozen=True)
class DepthCamera:
    """How one depth map was made metric: its K, the focal used and the factor applied."""

    intrinsics: Intrinsics  # K of the depth map, pixels of the image
    focal_source: str  # where the horizontal focal came from
    depth_factor: float  # network depth x this = metres
    focal_rule: bool  # True: f_input / f_train applied; False: input_width / reference_width
    note: str = ""  # e.g. why the focal rule could not be applied
    train_focal: float | None = None  # the model's training focal (px at reference width)
    train_focal_source: str = ""
    shrink: float = 1.0  # < 1: predicted from the canonical view, the image shrunk this much

    def describe(self) -> dict[str, Any]:
        return {
            "focal_px": self.intrinsics.fx,
            "focal_source": self.focal_source,
            "fov_deg": self.intrinsics.fov_x,
            "depth_factor": self.depth_factor,
            "focal_rule": self.focal_rule,
            "train_focal_px": self.train_focal,
            "train_focal_source": self.train_focal_source,
            **({"note": self.note} if self.note else {}),
            **({"canonical_view_shrink": self.shrink} if self.shrink < 1 else {}),
        }


def whole_frame_factor(model: ModelConfig) -> float:
    """``input_width / reference_width``: the factor when the image's camera is the training
    camera (304/320 = 0.95 for NYU)."""
    return model.input_width / model.reference_width


def training_fov(model: ModelConfig) -> float | None:
    """The training camera's horizontal field of view in degrees, None when unknown."""
    if model.train_focal <= 0:
        return None
    return math.degrees(2 * math.atan(model.reference_width / 2 / model.train_focal))


def assumed_intrinsics(model: ModelConfig, width: int, height: int) -> Intrinsics:
    """The camera assumed when nothing says it: NYU's Kinect scaled to the image, with its
    focal rescaled to the training camera's field of view when that is known and differs."""
    k = Intrinsics.nyu_kinect(width, height)
    if model.train_focal <= 0:
        return k
    kinect_at_reference = NYU_KINECT["fx"] * model.reference_width / NYU_SIZE[0]
    ratio = model.train_focal / kinect_at_reference
    if abs(ratio - 1.0) < 1e-9:
        return k
    return Intrinsics(k.fx * ratio, k.fy * ratio, k.cx, k.cy)


def depth_camera(
    model: ModelConfig,
    width: int,
    height: int,
    focal: FocalLength | None,
    spec: CameraSpec | None = None,
    why_unknown: str = "",
) -> DepthCamera:
    """K and depth factor for an image ``width`` x ``height`` of focal ``focal`` (None: not
    known, ``why_unknown`` e.g. what the EXIF lacked) under the focal rule of the module
    docstring."""
    spec = spec or CameraSpec()
    base = whole_frame_factor(model)
    known = model.train_focal > 0
    trained = {
        "train_focal": model.train_focal if known else None,
        "train_focal_source": model.train_focal_source
        or ("set in the config" if known else "unknown: checkpoint from before it was recorded"),
    }
    unknown = (
        ""
        if known
        else f"the model's training focal is unknown ({trained['train_focal_source']}): depth "
        f"kept at input_width / reference_width = {base:.4g}"
    )
    if focal is None:
        k = assumed_intrinsics(model, width, height)
        fov = training_fov(model)
        source = (
            f"assumed: the training camera's field of view ({fov:.1f} deg)"
            if fov is not None
            else "assumed: NYU Kinect (the model's training camera is unknown)"
        ) + (f"; {why_unknown}" if why_unknown else "")
        return DepthCamera(_with_spec(k, spec), source, base, False, unknown, **trained)
    k = _with_spec(Intrinsics.from_focal(focal.px, width, height), spec)
    if not known:
        note = f"{unknown}; the focal shapes K only"
        return DepthCamera(k, focal.source, base, False, note, **trained)
    factor = focal.px * model.input_width / width / model.train_focal
    if spec.narrow == "canonical" and factor > base * (1 + 1e-9):
        # a longer focal than training: shrink the image to the training camera's scale
        return DepthCamera(k, focal.source, base, True, shrink=base / factor, **trained)
    return DepthCamera(k, focal.source, factor, True, **trained)


def _with_spec(k: Intrinsics, spec: CameraSpec) -> Intrinsics:
    return Intrinsics(
        k.fx,
        spec.fy if spec.fy is not None else k.fy,
        spec.cx if spec.cx is not None else k.cx,
        spec.cy if spec.cy is not None else k.cy,
    )

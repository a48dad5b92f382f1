"""One prediction of the app: the files `msdepth predict` writes, plus what the page shows.

The downloads are written by `msdepth.inference.outputs.write_outputs`, the one place outputs
are made, with the options the page's form stands for (`PageOptions.predict_flags` prints the
equivalent command), so each file is byte for byte the one `predict` writes for the same
image. The photo's camera is found as `predict` finds it (`msdepth.inference.camera`): the
form's field of view or focal length, else the upload's EXIF, else the training camera; it sets
the metres (the focal rule) and the point cloud's K. Known depths uploaded with the photo
(`msdepth.app.points`) align it as ``predict --align NAME --align-mode MODE`` does
(`DepthPredictor.align`), so the downloads stay `predict`'s. Beside them, in a hidden ``.app``
folder, the page's own files: the input pixels (to re-colour with another range), the colour
depth per range, and a thinned point cloud for the 3D view.
"""

from __future__ import annotations

import math
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from msdepth.app.points import is_csv
from msdepth.app.uploads import output_name
from msdepth.data.depth_formats import get_format
from msdepth.errors import DataError
from msdepth.inference.align import Alignment, DepthPoints, check_mode
from msdepth.inference.camera import CameraSpec, DepthCamera, Intrinsics
from msdepth.inference.outputs import OUTPUT_KINDS, OutputOptions, write_outputs
from msdepth.inference.pointcloud import to_point_cloud
from msdepth.visualize import DEFAULT_CMAP

# What the page offers to download, in this order, where this version of predict writes it.
DOWNLOAD_KINDS = tuple(k for k in ("png16", "npy", "ply", "json") if k in OUTPUT_KINDS)
MAX_VIEW_POINTS = 300_000  # the 3D view's point budget (every k-th row and column)
PAGE_FOLDER = ".app"  # output names never start with "." (`output_name`)


@dataclass(frozen=True)
class PageOptions:
    """The page's form, as the `predict` flags it stands for."""

    fov: float | None = None  # --fov: horizontal field of view in degrees
    focal: float | None = None  # --focal: horizontal focal length in pixels of the photo
    flip_tta: bool = False  # --flip-tta
    points_name: str | None = None  # --align NAME: the uploaded points file (`points_name`)
    align_mode: str = "scale"  # --align-mode
    depth_format: str = "nyu"  # --depth-format (a sparse depth image's encoding)

    def __post_init__(self) -> None:
        check_mode(self.align_mode)
        get_format(self.depth_format)
        if self.fov is not None and not (math.isfinite(self.fov) and 0 < self.fov < 180):
            raise DataError(f"field of view must be between 0 and 180 degrees, got {self.fov}")
        if self.focal is not None and not (math.isfinite(self.focal) and self.focal > 0):
            raise DataError(f"focal length must be a positive number of pixels, got {self.focal}")
        if self.fov is not None and self.focal is not None:
            raise DataError("give the field of view or the focal length, not both")

    def camera_spec(self) -> CameraSpec:
        """The camera the form gives (`predict --fov` / ``--focal``; neither: EXIF, else the
        training camera)."""
        return CameraSpec(focal=self.focal, fov=self.fov)

    def output_options(self, kinds: tuple[str, ...]) -> OutputOptions:
        return OutputOptions(kinds=kinds)

    def camera_flags(self) -> list[str]:
        """``--fov`` / ``--focal`` / ``--flip-tta`` as the form sets them (photos and clips)."""
        flags = []
        if self.fov is not None:
            flags += ["--fov", f"{self.fov:g}"]
        if self.focal is not None:
            flags += ["--focal", f"{self.focal:g}"]
        if self.flip_tta:
            flags.append("--flip-tta")
        return flags

    def predict_flags(self) -> list[str]:
        flags = ["--save", ",".join(DOWNLOAD_KINDS), *self.camera_flags()]
        if self.points_name is not None:
            flags += ["--align", self.points_name, "--align-mode", self.align_mode]
            if not is_csv(self.points_name) and self.depth_format != "nyu":
                flags += ["--depth-format", self.depth_format]
        return flags


def colormap_hex(n: int = 256) -> list[str]:
    """The depth colormap of `msdepth.visualize` as ``#rrggbb`` from far (0) to near (1),
    for the page's colour bar."""
    from matplotlib import colormaps

    rgb = (colormaps[DEFAULT_CMAP](np.linspace(0.0, 1.0, n))[:, :3] * 255 + 0.5).astype(int)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb]


def default_range(depth: np.ndarray) -> tuple[float, float]:
    """The colour range `predict` uses without --vmin/--vmax (2nd and 98th percentile), to 4
    significant digits: the page passes it as --vmin/--vmax, so image and colour bar agree."""
    values = depth[np.isfinite(depth) & (depth > 0)]
    if not values.size:
        return 0.5, 10.0
    lo = _digits(float(np.percentile(values, 2)))
    return lo, max(_digits(float(np.percentile(values, 98))), _digits(lo * 1.001))


def _digits(value: float) -> float:
    return float(f"{value:.4g}")


@dataclass
class Prediction:
    """The files of one prediction in ``folder``; ``cleanup()`` deletes them."""

    folder: Path
    name: str
    filename: str  # the uploaded file's name, for the equivalent command
    width: int
    height: int
    options: PageOptions
    files: dict[str, Path]
    vmin: float
    vmax: float
    depth_min: float
    depth_max: float
    view_points: int
    view_step: int  # the 3D view has every view_step-th row and column
    camera: DepthCamera  # the photo's K, its focal and where it came from, the focal rule
    alignment: Alignment | None = None  # the fit to the uploaded known depths, if any
    _colors: dict[tuple[float, float, bool], Path] = field(default_factory=dict)

    @property
    def page_folder(self) -> Path:
        return self.folder / PAGE_FOLDER

    def color_png(self, vmin: float, vmax: float, colorbar: bool = False) -> Path:
        """The colour depth over [vmin, vmax] m, as ``predict --save color --vmin --vmax``
        (``--colorbar`` adds the bar in metres) writes it."""
        if not (math.isfinite(vmin) and math.isfinite(vmax) and 0 < vmin < vmax):
            raise DataError(f"colour range must be 0 < min < max metres, got {vmin}..{vmax}")
        key = (_digits(vmin), _digits(vmax), bool(colorbar))
        if key not in self._colors:
            depth = np.load(self.files["npy"]) if "npy" in self.files else None
            rgb = np.load(self.page_folder / "rgb.npy")
            if depth is None:  # pragma: no cover - npy is always among the downloads
                raise DataError("this prediction has no depth file")
            out = self.page_folder / f"color-{len(self._colors)}"
            options = OutputOptions(kinds=("color",), vmin=key[0], vmax=key[1], colorbar=colorbar)
            (path,) = write_outputs(out, self.name, rgb, depth, options)
            self._colors[key] = path
        return self._colors[key]

    def describe(self, prefix: str, checkpoint: str) -> dict[str, Any]:
        """What the page needs, with URLs under ``prefix``."""
        k = self.camera.intrinsics
        return {
            "kind": "image",
            "name": self.name,
            "width": self.width,
            "height": self.height,
            "range": {"vmin": self.vmin, "vmax": self.vmax},
            "depth": {"min": self.depth_min, "max": self.depth_max},
            "downloads": [
                {"kind": kind, "file": path.name, "url": f"{prefix}/files/{kind}"}
                for kind, path in self.files.items()
            ],
            "color_url": f"{prefix}/color.png",
            "points_url": f"{prefix}/points.bin",
            "view_points": self.view_points,
            "view_step": self.view_step,
            "fx": k.fx,
            "fy": k.fy,
            "focal_source": self.camera.focal_source,
            "depth_factor": self.camera.depth_factor,
            "focal_note": self.camera.note,
            "aligned": self.alignment is not None,
            "alignment": _json_safe(self.alignment.to_dict()) if self.alignment else None,
            "command": shlex.join(
                [
                    *("msdepth", "predict", "--checkpoint", checkpoint, self.filename),
                    *("--out", "out", *self.options.predict_flags()),
                ]
            ),
        }

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has no NaN; an alignment that leaves no
    valid held-out pixel reports NaN errors)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def predict_to_folder(
    predictor: Any,
    rgb: np.ndarray,
    filename: str,
    options: PageOptions,
    root: Path,
    exif: Any | None = None,
    points: DepthPoints | None = None,
) -> Prediction:
    """Run the model on ``rgb`` (the image of ``filename``, ``exif`` its EXIF when it has one),
    fit it to ``points`` when given (``options.align_mode``), and write the downloads, named as
    `predict` names them after the file, and the page's files into a new folder under
    ``root``."""
    name = output_name(filename)
    spec = options.camera_spec()
    folder = Path(tempfile.mkdtemp(prefix="result-", dir=root))
    try:
        ((_, result),) = predictor.infer_stream(
            [rgb],
            camera_of=lambda _, w, h: predictor.camera(exif, w, h, spec, name=filename),
            flip_tta=options.flip_tta,
        )
        if points is not None:
            result = predictor.align(result, points, options.align_mode)
        depth = result.depth
        written = write_outputs(folder, name, rgb, result, options.output_options(DOWNLOAD_KINDS))
        files = dict(zip(DOWNLOAD_KINDS, written, strict=True))
        page = folder / PAGE_FOLDER
        page.mkdir()
        np.save(page / "rgb.npy", rgb)
        view_step = view_step_of(*depth.shape)
        view_points = _write_view_points(
            page / "points.bin", depth, rgb, result.intrinsics, view_step
        )
        valid = depth[np.isfinite(depth) & (depth > 0)]
        vmin, vmax = default_range(depth)
        prediction = Prediction(
            folder,
            name,
            filename.replace("\\", "/").rsplit("/", 1)[-1],
            int(depth.shape[1]),
            int(depth.shape[0]),
            options,
            files,
            vmin,
            vmax,
            float(valid.min()) if valid.size else 0.0,
            float(valid.max()) if valid.size else 0.0,
            view_points,
            view_step,
            result.camera,
            result.alignment,
        )
        prediction.color_png(prediction.vmin, prediction.vmax)
        return prediction
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def view_step_of(height: int, width: int) -> int:
    """The smallest k for which every k-th row and column holds at most `MAX_VIEW_POINTS`."""
    step = max(1, math.ceil(math.sqrt(height * width / MAX_VIEW_POINTS)))
    while math.ceil(height / step) * math.ceil(width / step) > MAX_VIEW_POINTS:
        step += 1
    return step


def _write_view_points(
    path: Path, depth: np.ndarray, rgb: np.ndarray, intrinsics: Intrinsics, step: int
) -> int:
    """Every ``step``-th row and column of the PLY's points (same intrinsics), as float32
    x y z (N, 3) then uint8 r g b (N, 3), little-endian."""
    h, w = depth.shape
    mask = np.zeros((h, w), dtype=bool)
    mask[::step, ::step] = True
    points, colors = to_point_cloud(depth, rgb, intrinsics, mask)
    with open(path, "wb") as f:
        f.write(points.astype("<f4").tobytes())
        f.write(colors.tobytes())
    return len(points)

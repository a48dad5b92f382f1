"""Depth videos: a video in, ``NAME.depth.mp4`` out, one colour range for the whole clip.

`predict_video` runs in two passes over the clip:

1. decode every ``every``-th frame, run the network in batches and (by default) the temporal
   `Stabilizer`, keeping only the network-resolution log depth of each frame (74x55 floats:
   16 kB a frame, so an hour at 30 fps is under 2 GB);
2. take the clip's colour range from them (2nd to 98th percentile of the depth of up to 32
   evenly spaced frames, unless ``vmin``/``vmax`` are given), decode the clip again, upsample each frame's depth to the
   video's size and write the depth video (colour, or ``panel``: input | colour, optionally with
   a colour bar in metres) and any per-frame files (``npy``, ``png16``, ``color``, ...; colour
   ones in the clip's range too).

A clip has one camera: its focal (``camera_spec``: ``--focal``/``--fov``, else the training
camera's field of view; videos carry no EXIF) gives every frame the same focal-rule factor and
K (`msdepth.inference.camera`), and each frame's files describe themselves as an image's do.

So a colour means the same metres in every frame. The range is stored in the mp4's metadata
(``comment`` in words, ``description`` as JSON: ``{"msdepth": "depth-video", "vmin": ...,
"vmax": ..., "colormap": "magma", "spacing": "inverse depth"}``) and `metres_from_colours`
reads a decoded frame's colours back to metres with it.

Live input (`predict_camera`) cannot be read twice: there the range starts at the first
frame's and only widens (`GrowingRange`), and frames are written as they come.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from msdepth.data.video import VideoWriter, decode_frames, probe
from msdepth.errors import DataError
from msdepth.inference.camera import CameraSpec, DepthCamera
from msdepth.inference.outputs import OutputOptions, _colorbar, write_outputs
from msdepth.inference.predictor import DepthPredictor
from msdepth.inference.result import Prediction
from msdepth.inference.stabilize import Stabilizer, StabilizerStats
from msdepth.visualize import DEFAULT_CMAP, colorize_depth, make_panel

VIDEO_SUFFIX = ".depth.mp4"
RANGE_PERCENTILES = (2.0, 98.0)
RANGE_SAMPLE_FRAMES = 32  # frames (evenly spaced) whose depth sets the range of a longer clip


@dataclass(frozen=True)
class DepthRange:
    """The metres that the colormap's ends stand for (near = ``vmin``, bright)."""

    vmin: float
    vmax: float

    def __post_init__(self) -> None:
        if not 0 < self.vmin < self.vmax:
            raise DataError(
                f"colour range must satisfy 0 < vmin < vmax, got {self.vmin} and {self.vmax}"
            )

    def colours(self, depth: np.ndarray) -> np.ndarray:
        """(H, W) metres -> (H, W, 3) uint8 in this range (`visualize.colorize_depth`)."""
        return colorize_depth(depth, vmin=self.vmin, vmax=self.vmax)

    def metadata(self) -> dict[str, str]:
        """The mp4 tags that record this range (see the module docstring)."""
        tags = {
            "msdepth": "depth-video",
            "vmin": self.vmin,
            "vmax": self.vmax,
            "colormap": DEFAULT_CMAP,
            "spacing": "inverse depth",
        }
        return {
            "comment": f"msdepth depth video: {DEFAULT_CMAP} colours over inverse depth, "
            f"bright = {self.vmin:.4g} m (near), dark = {self.vmax:.4g} m (far)",
            "description": json.dumps(tags),
        }

    @classmethod
    def of_video(cls, path: str | Path) -> DepthRange:
        """The range recorded in a depth video written by `predict_video`."""
        from msdepth.data.video import require_av

        av = require_av(path)
        try:
            with av.open(str(path)) as container:
                tags = json.loads(container.metadata.get("description", "{}"))
        except (av.error.FFmpegError, json.JSONDecodeError) as exc:  # type: ignore[attr-defined]
            raise DataError(f"{path} holds no msdepth colour range ({exc})") from None
        if not isinstance(tags, dict) or tags.get("msdepth") != "depth-video":
            raise DataError(f"{path} was not written by msdepth predict --save video")
        return cls(float(tags["vmin"]), float(tags["vmax"]))


def clip_range(
    predictor: DepthPredictor,
    log_depths: Sequence[np.ndarray],
    size: tuple[int, int],
    vmin: float | None = None,
    vmax: float | None = None,
    depth_factor: float | None = None,
) -> DepthRange:
    """The clip's colour range: given ends, else the percentiles of the depth of up to
    `RANGE_SAMPLE_FRAMES` evenly spaced frames (every frame of a shorter clip), upsampled to the
    video's ``size`` = (W, H) as they are drawn, in metres by ``depth_factor`` (the clip
    camera's; default the training camera's, ``predictor.scale_correction``)."""
    if vmin is not None and vmax is not None:
        return DepthRange(vmin, vmax)
    w, h = size
    factor = predictor.scale_correction if depth_factor is None else depth_factor
    picks = np.unique(np.linspace(0, len(log_depths) - 1, RANGE_SAMPLE_FRAMES).round().astype(int))
    depth = np.concatenate(
        [predictor.backend.metric_depth(log_depths[i], h, w, factor).ravel() for i in picks]
    )
    depth = depth[np.isfinite(depth) & (depth > 0)]
    if depth.size == 0:
        raise DataError("no finite depth in the clip to choose a colour range from")
    lo, hi = np.percentile(depth, RANGE_PERCENTILES)
    lo = float(lo) if vmin is None else vmin
    hi = float(hi) if vmax is None else vmax
    return DepthRange(max(lo, 1e-6), max(hi, max(lo, 1e-6) * 1.001))


class GrowingRange:
    """A colour range for live input: the first frame's percentiles, then only ever wider."""

    def __init__(self, vmin: float | None = None, vmax: float | None = None):
        self.fixed = (vmin, vmax)
        self.range: DepthRange | None = None

    def update(self, depth: np.ndarray) -> DepthRange:
        valid = depth[np.isfinite(depth) & (depth > 0)]
        lo, hi = np.percentile(valid, RANGE_PERCENTILES) if valid.size else (1.0, 10.0)
        if self.range is not None:
            lo, hi = min(lo, self.range.vmin), max(hi, self.range.vmax)
        lo = self.fixed[0] if self.fixed[0] is not None else float(lo)
        hi = self.fixed[1] if self.fixed[1] is not None else float(hi)
        self.range = DepthRange(max(lo, 1e-6), max(hi, max(lo, 1e-6) * 1.001))
        return self.range


def metres_from_colours(
    image: np.ndarray, depth_range: DepthRange
) -> tuple[np.ndarray, np.ndarray]:
    """A depth video's decoded colours (H, W, 3) -> (metres, colour error) per pixel.

    Each pixel takes the depth of the nearest colour of the colormap (256 steps over inverse
    depth); the error is that colour's distance (0-441, RGB units), large for the grey of
    invalid pixels or for the input half of a panel.
    """
    from matplotlib import colormaps

    lut = colormaps[DEFAULT_CMAP](np.linspace(0.0, 1.0, 256))[:, :3] * 255.0
    flat = np.asarray(image, dtype=np.float32).reshape(-1, 3)
    index = np.empty(len(flat), np.int64)
    error = np.empty(len(flat), np.float32)
    for start in range(0, len(flat), 16384):  # (pixels, 256) distances, a slice at a time
        d2 = ((flat[start : start + 16384, None, :] - lut[None]) ** 2).sum(axis=2)
        index[start : start + 16384] = np.argmin(d2, axis=1)
        error[start : start + 16384] = np.sqrt(d2.min(axis=1))
    inv = index / 255.0
    lo, hi = depth_range.vmin, depth_range.vmax
    metres = 1.0 / (inv * (1.0 / lo - 1.0 / hi) + 1.0 / hi)
    return metres.reshape(image.shape[:2]).astype(np.float32), error.reshape(image.shape[:2])


@dataclass(frozen=True)
class FrameLayout:
    """How a depth video's frames are drawn: colour depth, beside the input, with a bar."""

    panel: bool = False
    colorbar: bool = False

    def size(self, width: int, height: int) -> tuple[int, int]:
        """(W, H) of the drawn frames for input frames of (width, height)."""
        return self.draw(np.zeros((height, width, 3), np.uint8), None, None).shape[1::-1]

    def draw(
        self, rgb: np.ndarray, colours: np.ndarray | None, bar: np.ndarray | None
    ) -> np.ndarray:
        h = rgb.shape[0]
        colours = np.zeros_like(rgb) if colours is None else colours
        if self.colorbar:
            bar = np.zeros((h, 90, 3), np.uint8) if bar is None else bar
            colours = np.concatenate([colours, bar], axis=1)
        return make_panel([rgb, colours]) if self.panel else colours


@dataclass
class VideoResult:
    """What `predict_video` / `predict_camera` did."""

    source: str
    frames: int
    rate: Fraction
    size: tuple[int, int]  # (W, H) of the input frames
    depth_range: DepthRange
    video: Path | None  # the depth video written, if asked for
    files: list[str]  # per-frame files written
    stabilizer: StabilizerStats | None
    camera: DepthCamera  # the clip's camera: K, focal and its source, the focal rule's factor

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "frames": self.frames,
            "rate": float(self.rate),
            "size": list(self.size),
            "vmin": self.depth_range.vmin,
            "vmax": self.depth_range.vmax,
            "video": str(self.video) if self.video else None,
            "files": len(self.files),
            "stabilized": self.stabilizer is not None,
            **self.camera.describe(),
            "intrinsics": self.camera.intrinsics.to_dict(),
        }


def _frame_options(options: OutputOptions, depth_range: DepthRange) -> OutputOptions:
    """Per-frame outputs of a clip: the video kind left out, colours in the clip's range."""
    kinds = tuple(k for k in options.kinds if k != "video")
    return dataclasses.replace(options, kinds=kinds, vmin=depth_range.vmin, vmax=depth_range.vmax)


def _check_target(path: Path, protect: set[Path] | None) -> None:
    if protect and path.resolve() in protect:
        raise DataError(f"output {path} would overwrite an input; choose another --out")


def predict_video(
    predictor: DepthPredictor,
    source: str | Path,
    out_dir: str | Path,
    name: str,
    options: OutputOptions,
    *,
    video: bool = True,
    layout: FrameLayout = FrameLayout(),
    stabilize: bool = True,
    every: int = 1,
    flip_tta: bool = False,
    protect: set[Path] | None = None,
    progress: Callable[[int], None] | None = None,
    camera_spec: CameraSpec | None = None,
) -> VideoResult:
    """Depth for every ``every``-th frame of ``source`` (module docstring): ``NAME.depth.mp4``
    in ``out_dir`` when ``video``, and the per-frame kinds of ``options`` named
    ``NAME_f000123.<ext>``. ``progress(n)`` is called as frames are predicted, then written.
    ``camera_spec``: the clip's focal or field of view (default: the training camera's)."""
    source, out_dir = Path(source), Path(out_dir)
    info = probe(source)
    clip_camera = predictor.camera(None, info.width, info.height, camera_spec, name=str(source))
    target = out_dir / f"{name}{VIDEO_SUFFIX}"
    if video:
        _check_target(target, protect)
    stabilizer = Stabilizer() if stabilize else None
    frames = decode_frames(source, every)
    logs: list[np.ndarray] = []
    indices: list[int] = []
    for (index, _), _, log in predictor.predict_log_stream(
        frames, rgb_of=lambda item: item[1], flip_tta=flip_tta, log_filter=stabilizer
    ):
        logs.append(np.asarray(log, dtype=np.float32))
        indices.append(index)
        if progress:
            progress(1)
    depth_range = clip_range(
        predictor,
        logs,
        (info.width, info.height),
        options.vmin,
        options.vmax,
        clip_camera.depth_factor,
    )
    frame_options = _frame_options(options, depth_range)
    rate = info.rate / every
    written = _write_clip(
        predictor,
        zip_checked(decode_frames(source, every), zip(indices, logs, strict=True), source),
        clip_camera,
        out_dir,
        name,
        frame_options,
        depth_range,
        layout,
        target if video else None,
        rate,
        (info.width, info.height),
        protect,
        progress,
    )
    return VideoResult(
        str(source),
        len(logs),
        rate,
        (info.width, info.height),
        depth_range,
        target if video else None,
        written,
        stabilizer.stats if stabilizer else None,
        clip_camera,
    )


def zip_checked(
    frames: Iterable[tuple[int, np.ndarray]],
    logs: Iterable[tuple[int, np.ndarray]],
    source: Path,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """The second decoding of a clip beside the first pass's depth: (index, rgb, log depth);
    a clip that decodes differently the second time (a file changed meanwhile) is an error."""
    logs = iter(logs)
    for index, rgb in frames:
        first = next(logs, None)
        if first is None or first[0] != index:
            raise DataError(f"video {source} changed while it was being read; run again")
        yield index, rgb, first[1]
    if next(logs, None) is not None:
        raise DataError(f"video {source} changed while it was being read; run again")


def _write_clip(
    predictor: DepthPredictor,
    frames: Iterable[tuple[int, np.ndarray, np.ndarray]],
    camera: DepthCamera,
    out_dir: Path,
    name: str,
    options: OutputOptions,
    depth_range: DepthRange | GrowingRange,
    layout: FrameLayout,
    target: Path | None,
    rate: Fraction,
    size: tuple[int, int],
    protect: set[Path] | None,
    progress: Callable[[int], None] | None,
) -> list[str]:
    """Pass 2 (or the only pass of live input): upsample (in metres for the clip's ``camera``),
    draw, encode, write per-frame files (through `write_outputs`, as images are)."""
    from contextlib import nullcontext

    model = str(predictor.source) if predictor.source is not None else None

    written: list[str] = []
    bar_cache: dict[DepthRange, np.ndarray] = {}
    encoder: Any = (
        VideoWriter(target, rate, layout.size(*size), metadata=_tags(depth_range))
        if target is not None
        else nullcontext()
    )
    with encoder:
        for index, rgb, log in frames:
            h, w = rgb.shape[:2]
            if (w, h) != size:
                raise DataError(
                    f"{name}: frame {index} is {w}x{h}, the clip is {size[0]}x{size[1]}"
                )
            depth = predictor.backend.metric_depth(log, h, w, camera.depth_factor)
            frame_range = (
                depth_range.update(depth) if isinstance(depth_range, GrowingRange) else depth_range
            )
            if options.kinds:
                frame_options = dataclasses.replace(
                    options, vmin=frame_range.vmin, vmax=frame_range.vmax
                )
                written += map(
                    str,
                    write_outputs(
                        out_dir,
                        f"{name}_f{index:06d}",
                        rgb,
                        Prediction(depth, camera, model),
                        frame_options,
                        protect,
                    ),
                )
            if target is not None:
                bar = None
                if layout.colorbar:
                    if frame_range not in bar_cache:
                        bar_cache.clear()
                        bar_cache[frame_range] = _colorbar(h, frame_range.vmin, frame_range.vmax)
                    bar = bar_cache[frame_range]
                encoder.write(layout.draw(rgb, frame_range.colours(depth), bar))
            if progress:
                progress(1)
    return written


def _tags(depth_range: DepthRange | GrowingRange) -> dict[str, str]:
    if isinstance(depth_range, DepthRange):
        return depth_range.metadata()
    return {"comment": "msdepth depth video (live input: the colour range widened over time)"}


def predict_camera(
    predictor: DepthPredictor,
    camera: int,
    out_dir: str | Path,
    name: str,
    options: OutputOptions,
    *,
    video: bool = True,
    layout: FrameLayout = FrameLayout(),
    stabilize: bool = True,
    max_frames: int | None = None,
    flip_tta: bool = False,
    progress: Callable[[int], None] | None = None,
    camera_spec: CameraSpec | None = None,
) -> VideoResult:
    """Live depth from camera number ``camera`` until ``max_frames`` or Ctrl-C, one frame at a
    time (the range only widens: `GrowingRange`). Ctrl-C ends the clip and keeps the video.
    ``camera_spec``: the camera's focal or field of view (default: the training camera's)."""
    import signal
    import threading

    from msdepth.data.video import open_camera

    out_dir = Path(out_dir)
    stream = open_camera(camera, max_frames)
    frames = iter(stream)
    first = next(frames, None)
    if first is None:
        raise DataError(f"camera {camera} delivered no frame; is it in use by another program?")
    height, width = first[1].shape[:2]
    clip_camera = predictor.camera(None, width, height, camera_spec, name=f"camera {camera}")
    stabilizer = Stabilizer() if stabilize else None
    depth_range = GrowingRange(options.vmin, options.vmax)

    def live() -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        def chained() -> Iterator[tuple[int, np.ndarray]]:
            yield first
            yield from frames

        for (index, _), rgb, log in predictor.predict_log_stream(
            chained(), rgb_of=lambda item: item[1], flip_tta=flip_tta, batch_size=1,
            log_filter=stabilizer,
        ):  # fmt: skip
            yield index, rgb, log

    count = 0

    def counted(n: int) -> None:
        nonlocal count
        count += n
        if progress:
            progress(n)

    target = out_dir / f"{name}{VIDEO_SUFFIX}" if video else None
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: stream.stop()) if main_thread else None
    try:
        written = _write_clip(
            predictor, live(), clip_camera, out_dir, name,
            _frame_options(options, DepthRange(1.0, 2.0)), depth_range, layout, target,
            stream.rate, (width, height), None, counted,
        )  # fmt: skip
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    final = depth_range.range or DepthRange(1.0, 2.0)
    return VideoResult(
        f"camera {camera}", count, stream.rate, (width, height), final, target, written,
        stabilizer.stats if stabilizer else None, clip_camera,
    )  # fmt: skip

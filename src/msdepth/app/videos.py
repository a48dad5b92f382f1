"""The page's video tab: a short clip in, the depth video `msdepth predict` writes for it out.

An uploaded clip is kept in its result's hidden folder and checked before it is queued
(`check_clip`: it opens as a video, its frames are within the app's megapixels, it is no longer
than the app's seconds); the job runs `msdepth.inference.video.predict_video`, the function
``predict clip.mp4 --save video`` runs, with the options the tab stands for
(`VideoOptions.predict_flags`), so ``NAME.depth.mp4`` is the file `predict` writes for the same
clip (H.264 from the same frames and settings: the same bytes). Needs PyAV (the ``video``
extra); without it `video_support` says how to install it and the tab shows that.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from msdepth.app.results import PAGE_FOLDER, PageOptions
from msdepth.app.uploads import UploadError, UploadTooLarge
from msdepth.errors import MsdepthError
from msdepth.inference.camera import DepthCamera

# Frames per network call: predict's --batch-size default, so a clip's frames go through the
# network in the groups `predict` sends them in (the app's photos go one at a time).
CLIP_BATCH_SIZE = 8
VIDEO_EXTRA_MESSAGE = (
    "the video tab needs PyAV, the video extra: pip install 'msdepth[video]' "
    "(then start the app again)"
)


def video_support() -> str | None:
    """None when videos can be read and written here, else the line saying how to install it."""
    try:
        import av  # noqa: F401  (the optional video extra)
    except ImportError:
        return VIDEO_EXTRA_MESSAGE
    return None


@dataclass(frozen=True)
class VideoOptions:
    """The video tab's form, as the `predict` flags it stands for."""

    camera: PageOptions = field(
        default_factory=PageOptions
    )  # --fov / --focal / --flip-tta, as for photos
    stabilize: bool = True  # --stabilize (default) / --no-stabilize
    panel: bool = False  # --panel: the input beside the depth
    colorbar: bool = False  # --colorbar

    def predict_flags(self) -> list[str]:
        flags = ["--save", "video", *self.camera.camera_flags()]
        if not self.stabilize:
            flags.append("--no-stabilize")
        if self.panel:
            flags.append("--panel")
        if self.colorbar:
            flags.append("--colorbar")
        return flags


def _readable(exc: MsdepthError, path: Path, filename: str) -> str:
    """The message of ``exc`` with the stored clip's path replaced by the upload's name."""
    return " ".join(str(exc).replace(str(path), filename).split())


def check_clip(path: Path, filename: str, max_pixels: int, max_seconds: float) -> Any:
    """The `VideoInfo` of the uploaded clip at ``path``, or an `UploadError` the page shows:
    not a video this PyAV can open, frames over ``max_pixels``, longer than ``max_seconds``."""
    message = video_support()
    if message is not None:
        raise UploadError(message)
    from msdepth.data.video import probe

    try:
        info = probe(path)
    except MsdepthError as exc:
        text = _readable(exc, path, filename)
        if "cannot be opened" in text:
            text += "; it may be another kind of file with a video's name: choose an mp4, mov, webm or mkv clip"
        raise UploadError(text) from None
    if info.width * info.height > max_pixels:
        raise UploadTooLarge(
            f"{filename}'s frames are {info.width * info.height / 1e6:.1f} megapixels "
            f"({info.width}x{info.height}); this app takes up to {max_pixels / 1e6:g} MP: scale "
            "the clip down first (or start the app with a larger --max-megapixels)"
        )
    seconds = clip_seconds(path, info)
    if seconds is not None and seconds > max_seconds:
        raise UploadTooLarge(
            f"{filename} is {seconds:.1f} s long; this app takes clips up to {max_seconds:g} s: "
            "cut it first (or start the app with a larger --max-video-seconds)"
        )
    return info


def clip_seconds(path: Path, info: Any) -> float | None:
    """The clip's length in seconds: its frame count over its rate, else the container's
    duration (None when neither is recorded)."""
    if info.frames:
        return info.frames / float(info.rate)
    from msdepth.data.video import require_av

    av = require_av(path)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / 1e6  # microseconds
    except av.error.FFmpegError:  # type: ignore[attr-defined]
        return None
    return None


@dataclass
class VideoPrediction:
    """The depth video of one clip in ``folder``; ``cleanup()`` deletes it and the clip."""

    folder: Path
    name: str
    filename: str  # the uploaded clip's name, for the equivalent command
    width: int
    height: int
    frames: int
    rate: Fraction
    vmin: float
    vmax: float
    files: dict[str, Path]  # {"video": NAME.depth.mp4}
    camera: DepthCamera
    stabilized: bool
    options: VideoOptions

    def describe(self, prefix: str, checkpoint: str) -> dict[str, Any]:
        """What the video tab needs, with URLs under ``prefix``."""
        return {
            "kind": "video",
            "name": self.name,
            "width": self.width,
            "height": self.height,
            "frames": self.frames,
            "rate": float(self.rate),
            "range": {"vmin": self.vmin, "vmax": self.vmax},
            "downloads": [
                {"kind": kind, "file": path.name, "url": f"{prefix}/files/{kind}"}
                for kind, path in self.files.items()
            ],
            "fx": self.camera.intrinsics.fx,
            "focal_source": self.camera.focal_source,
            "depth_factor": self.camera.depth_factor,
            "stabilized": self.stabilized,
            "command": shlex.join(
                [
                    *("msdepth", "predict", "--checkpoint", checkpoint, self.filename),
                    *("--out", "out", *self.options.predict_flags()),
                ]
            ),
        }

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def clip_path(folder: Path, filename: str) -> Path:
    """Where an uploaded clip is kept in its result's ``folder`` (hidden beside the output)."""
    suffix = Path(filename.replace("\\", "/")).suffix.lower()
    suffix = suffix if suffix.isascii() and suffix[1:].isalnum() else ".video"
    return folder / PAGE_FOLDER / f"input{suffix}"


def predict_clip_to_folder(
    predictor: Any, clip: Path, filename: str, name: str, options: VideoOptions, folder: Path
) -> VideoPrediction:
    """Write ``NAME.depth.mp4`` of the uploaded ``clip`` into ``folder`` as `predict` does
    (`predict_video`); the folder is deleted when this fails."""
    from msdepth.inference.outputs import OutputOptions
    from msdepth.inference.predictor import DepthPredictor
    from msdepth.inference.video import FrameLayout, predict_video

    batched = DepthPredictor(predictor.backend, predictor.source, CLIP_BATCH_SIZE)
    try:
        clip_result = predict_video(
            batched,
            clip,
            folder,
            name,
            OutputOptions(kinds=("video",), colorbar=options.colorbar),
            layout=FrameLayout(panel=options.panel, colorbar=options.colorbar),
            stabilize=options.stabilize,
            flip_tta=options.camera.flip_tta,
            camera_spec=options.camera.camera_spec(),
        )
    except MsdepthError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise UploadError(_readable(exc, clip, filename)) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    width, height = clip_result.size
    return VideoPrediction(
        folder,
        name,
        filename.replace("\\", "/").rsplit("/", 1)[-1],
        width,
        height,
        clip_result.frames,
        clip_result.rate,
        clip_result.depth_range.vmin,
        clip_result.depth_range.vmax,
        {"video": clip_result.video},
        clip_result.camera,
        clip_result.stabilizer is not None,
        options,
    )

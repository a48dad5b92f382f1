"""Video files through PyAV (FFmpeg bindings, the optional ``video`` extra): what a clip holds,
its frames in order, and writing an H.264 mp4 that is complete or absent.

Every failure of FFmpeg (a corrupt file, a stream no decoder here can read, a clip with no
frames) is a one-line `DataError` naming the file. `VideoWriter` encodes into a temporary file
beside the target and renames it into place only once the encoder has flushed and the container
is closed (`msdepth.fileio.atomic_path`), so a crash or a full disk never leaves an mp4 that
looks complete.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import numpy as np

from msdepth.errors import DataError
from msdepth.fileio import atomic_path

VIDEO_EXTRA_HINT = "reading and writing videos needs PyAV: pip install av"
DEFAULT_RATE = Fraction(30)
# H.264 in yuv420p plays everywhere (browsers, phones); crf 18 is visually lossless and
# "veryfast" keeps encoding a small part of the time per frame (docs/inference.md, Video).
CODEC, PIXEL_FORMAT, CRF, PRESET = "libx264", "yuv420p", 18, "veryfast"


def require_av(what: str | Path) -> ModuleType:
    """The ``av`` module, or a one-line `DataError` naming ``what`` and the extra to install."""
    try:
        import av
    except ImportError:
        raise DataError(f"{what}: {VIDEO_EXTRA_HINT}") from None
    return av


def _reason(exc: BaseException) -> str:
    """FFmpeg's message without the file name PyAV repeats (the caller names the file)."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds: first video stream's size, frame rate, codec, frame count."""

    path: Path
    width: int
    height: int
    rate: Fraction  # frames per second (the stream's average rate)
    codec: str
    frames: int | None  # from the container; None when it does not say


def _open_stream(av: ModuleType, container: Any, path: Path) -> Any:
    if not container.streams.video:
        raise DataError(f"video {path} has no video stream; is it an audio file?")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    if ctx is None or getattr(ctx, "name", None) in (None, "", "none"):
        raise DataError(
            f"video {path} uses a codec this PyAV/FFmpeg cannot decode; convert it, e.g. "
            "ffmpeg -i IN -c:v libx264 OUT.mp4"
        )
    return stream


def probe(path: str | Path) -> VideoInfo:
    """Size, rate, codec and frame count of ``path``'s first video stream (nothing decoded)."""
    path = Path(path)
    av = require_av(path)
    try:
        with av.open(str(path)) as container:
            stream = _open_stream(av, container, path)
            rate = stream.average_rate or stream.guessed_rate or DEFAULT_RATE
            return VideoInfo(
                path,
                int(stream.codec_context.width),
                int(stream.codec_context.height),
                Fraction(rate),
                str(stream.codec_context.name),
                int(stream.frames) or None,
            )
    except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
        raise DataError(f"video {path} cannot be opened ({_reason(exc)})") from None


def decode_frames(path: str | Path, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """(index, (H, W, 3) uint8 RGB) of every ``every``-th frame, decoded lazily, in order.

    A file that cannot be decoded, or holds no frame, is a one-line `DataError`.
    """
    path = Path(path)
    av = require_av(path)
    count = 0
    try:
        with av.open(str(path)) as container:
            stream = _open_stream(av, container, path)
            stream.thread_type = "AUTO"  # frame threads: decoding keeps up with the network
            for index, frame in enumerate(container.decode(stream)):
                count += 1
                if index % every == 0:
                    yield index, frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
        raise DataError(f"video {path} cannot be decoded ({_reason(exc)})") from None
    if count == 0:
        raise DataError(f"video {path} has no frames; re-export or re-record it")


def even_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even sizes: odd ones are padded by one repeated pixel row/column."""
    return width + width % 2, height + height % 2


class VideoWriter:
    """Encode RGB frames of one size into an H.264 mp4 at ``rate`` frames per second.

    Use as a context manager: frames go to a temporary file, renamed to ``path`` when the block
    ends without an exception; on any exception (a full disk included) the temporary file is
    removed and an existing ``path`` is left as it was.
    """

    def __init__(
        self,
        path: str | Path,
        rate: Fraction | float | int,
        size: tuple[int, int],
        crf: int = CRF,
        preset: str = PRESET,
        metadata: dict[str, str] | None = None,
    ):
        self.path = Path(path)
        self.metadata = dict(metadata or {})  # container tags, e.g. "comment", "description"
        self.av = require_av(self.path)
        rate = Fraction(rate).limit_denominator(1001000)
        if not rate > 0 or not math.isfinite(float(rate)):
            raise DataError(f"frame rate of {self.path} must be positive, got {rate}")
        self.rate = rate
        self.size = (int(size[0]), int(size[1]))  # (W, H) of the frames given to `write`
        self.crf, self.preset = crf, preset
        self.frames = 0
        self._atomic: Any = None
        self._container: Any = None
        self._stream: Any = None

    def __enter__(self) -> VideoWriter:
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        try:
            self._container = self.av.open(str(tmp), mode="w", format="mp4")
            self._container.metadata.update(self.metadata)
            stream = self._container.add_stream(
                CODEC, rate=self.rate, options={"crf": str(self.crf), "preset": self.preset}
            )
            stream.width, stream.height = even_size(*self.size)
            stream.pix_fmt = PIXEL_FORMAT
            self._stream = stream
        except BaseException:
            self._abort()
            raise
        return self

    def write(self, rgb: np.ndarray) -> None:
        """Encode one (H, W, 3) uint8 frame of this writer's size."""
        w, h = self.size
        if rgb.shape != (h, w, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"frame must be ({h}, {w}, 3) uint8, got {rgb.shape} {rgb.dtype}")
        if (w, h) != even_size(w, h):
            rgb = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        frame = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.frames
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except (self.av.error.FFmpegError, OSError) as exc:  # type: ignore[attr-defined]
            self._abort()
            raise self._failed(exc) from None
        self.frames += 1

    def _failed(self, exc: BaseException) -> DataError:
        return DataError(
            f"cannot write video {self.path} ({_reason(exc)}); nothing was left there, "
            "free some space or choose another --out"
        )

    def _abort(self) -> None:
        if self._container is not None:
            # the file is removed anyway; the first error is the one to report
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None
        atomic, self._atomic = self._atomic, None
        if atomic is not None:
            atomic.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._abort()
            return
        try:
            for packet in self._stream.encode():  # flush the encoder's delayed frames
                self._container.mux(packet)
            self._container.close()
            self._container = None
        except (self.av.error.FFmpegError, OSError) as exc:  # type: ignore[attr-defined]
            self._abort()
            raise self._failed(exc) from None
        except BaseException:
            self._abort()
            raise
        atomic, self._atomic = self._atomic, None
        atomic.__exit__(None, None, None)  # the rename into place


# ---- live input ---------------------------------------------------------------------------------


def _camera_url(index: int) -> tuple[str, str] | None:
    """(device, FFmpeg input format) of camera ``index`` on this platform, None where PyAV
    needs a device name rather than a number (Windows' dshow): OpenCV opens those."""
    if sys.platform.startswith("linux"):
        return f"/dev/video{index}", "v4l2"
    if sys.platform == "darwin":
        return f"{index}:none", "avfoundation"
    return None


@dataclass
class CameraStream:
    """Frames of a live camera as (index, RGB), until ``max_frames`` or `stop` is called."""

    index: int
    rate: Fraction
    frames: Iterator[np.ndarray]
    max_frames: int | None = None
    stopped: bool = False

    def stop(self) -> None:
        """End the stream after the frame being read (Ctrl-C in `msdepth predict --camera`)."""
        self.stopped = True

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        for count, rgb in enumerate(self.frames):
            if self.stopped or (self.max_frames is not None and count >= self.max_frames):
                break
            yield count, rgb
        close = getattr(self.frames, "close", None)
        if close:
            close()


def open_camera(index: int, max_frames: int | None = None) -> CameraStream:
    """Camera number ``index`` through PyAV (Linux v4l2, macOS avfoundation), else OpenCV
    where it is installed; a one-line `DataError` when neither can open it."""
    if index < 0:
        raise DataError(f"--camera must be a device number >= 0, got {index}")
    reasons = []
    url = _camera_url(index)
    if url is not None:
        try:
            av = require_av(f"camera {index}")
        except DataError as exc:
            reasons.append(str(exc))
        else:
            try:
                container = av.open(url[0], format=url[1])
                stream = _open_stream(av, container, Path(url[0]))
                rate = Fraction(stream.average_rate or stream.guessed_rate or DEFAULT_RATE)

                def frames() -> Iterator[np.ndarray]:
                    try:
                        for frame in container.decode(stream):
                            yield frame.to_ndarray(format="rgb24")
                    finally:
                        container.close()

                return CameraStream(index, rate, frames(), max_frames)
            except (av.error.FFmpegError, DataError) as exc:  # type: ignore[attr-defined]
                reasons.append(f"{url[0]}: {_reason(exc)}")
    try:
        import cv2  # OpenCV, where the user has it: cameras by number on every platform
    except ImportError:
        reasons.append("OpenCV is not installed (pip install opencv-python-headless)")
    else:
        capture = cv2.VideoCapture(index)
        if capture.isOpened():
            rate = Fraction(capture.get(cv2.CAP_PROP_FPS) or 30).limit_denominator(1001)

            def frames() -> Iterator[np.ndarray]:
                try:
                    while True:
                        ok, bgr = capture.read()
                        if not ok:
                            return
                        yield np.ascontiguousarray(bgr[..., ::-1])
                finally:
                    capture.release()

            return CameraStream(index, rate if rate > 0 else DEFAULT_RATE, frames(), max_frames)
        reasons.append("OpenCV cannot open it")
    raise DataError(f"camera {index} cannot be opened ({'; '.join(reasons)}); check the number")

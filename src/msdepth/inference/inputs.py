"""What `msdepth predict` reads: files, folders, glob patterns and videos, as a list of frames.

Every input becomes one or more `InputFrame`s with a unique output name:

- an image file -> its stem (``photos/kitchen.jpg`` -> ``kitchen``);
- a folder -> the images directly inside it, sorted by file name (not recursive);
- a glob pattern (``'shots/**/*.png'``, quoted so that the shell leaves it alone) -> the
  matching images, sorted;
- a video (``.mp4``, ``.mov``, ...) -> every ``--every``-th frame, named ``STEM_f000123``;
  decoding needs the optional PyAV library (``pip install av``).

When two inputs share a stem (``a/img.png`` and ``b/img.png``), the first keeps ``img`` and the
later ones become ``img-2``, ``img-3``, ... in input order, so names are deterministic.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from msdepth.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
VIDEO_EXTRA_HINT = "reading videos needs PyAV: pip install av"


@dataclass(frozen=True)
class InputFrame:
    """One image to predict on: its source file, frame index for videos, and output name."""

    path: Path
    name: str
    frame: int | None = None  # index in the video, None for an image file


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def expand_paths(inputs: list[str | Path]) -> list[Path]:
    """Files, folders and globs -> image and video files, in input order (folders sorted)."""
    found: list[Path] = []
    for raw in inputs:
        text = str(raw)
        path = Path(text)
        if path.is_dir():
            files = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not files:
                raise DataError(
                    f"folder {path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})"
                )
            found.extend(files)
        elif path.is_file():
            if path.suffix.lower() not in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
                raise DataError(
                    f"{path} is neither an image nor a video by its extension "
                    f"({path.suffix or 'none'}); rename it or convert it to PNG/JPEG"
                )
            found.append(path)
        elif _is_glob(text):
            matches = sorted(
                Path(p)
                for p in glob.glob(text, recursive=True)
                if Path(p).is_file() and Path(p).suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
            )
            if not matches:
                raise DataError(f"pattern {text!r} matches no image or video files")
            found.extend(matches)
        else:
            raise DataError(f"input {path} does not exist")
    return found


def unique_names(stems: list[str]) -> list[str]:
    """Make stems unique in order: repeats become ``stem-2``, ``stem-3``, ..."""
    taken: set[str] = set()
    names = []
    for stem in stems:
        name, k = stem, 1
        while name in taken:
            k += 1
            name = f"{stem}-{k}"
        taken.add(name)
        names.append(name)
    return names


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def iter_frames(
    inputs: list[str | Path], every: int = 1
) -> Iterator[tuple[InputFrame, np.ndarray]]:
    """Yield ``(frame, rgb)`` for every input image and every ``every``-th video frame, in
    order, decoding lazily (a long video is never all in memory)."""
    paths = expand_paths(inputs)
    names = iter(unique_names([p.stem for p in paths]))
    for path in paths:
        name = next(names)
        if is_video(path):
            for index, rgb in _decode_video(path, every):
                yield InputFrame(path, f"{name}_f{index:06d}", index), rgb
        else:
            from msdepth.data.images import read_rgb

            yield InputFrame(path, name), read_rgb(path)


def _decode_video(path: Path, every: int) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB frame) for every ``every``-th frame, through PyAV (an optional extra)."""
    try:
        import av  # PyAV: FFmpeg bindings with self-contained wheels
    except ImportError:
        raise DataError(f"{path} is a video; {VIDEO_EXTRA_HINT}") from None
    try:
        with av.open(str(path)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                if index % every == 0:
                    yield index, frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
        raise DataError(f"video {path} cannot be decoded ({exc})") from None

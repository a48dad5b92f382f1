"""Known depths uploaded for alignment: the page's ``predict --align POINTS`` file.

The page uploads the points file (a CSV of ``u,v,depth_m`` in pixels of the photo, or a sparse
depth image of the photo's size) before the photo; `PointsStore` keeps the last few on disk
under their own names, and `read_uploaded_points` reads one for a photo's size with
`msdepth.inference.align.read_points`, the reader `predict` uses, so the points, the fit and
every message (a point outside the image, a depth that is not a positive finite number) are
`predict`'s for a file of that name in the current folder (``--align tape.csv``).
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import shutil
from collections import OrderedDict
from pathlib import Path

from msdepth.app.uploads import UploadError, output_name
from msdepth.errors import DataError, MsdepthError
from msdepth.inference.align import POINT_SUFFIXES, DepthPoints, read_points

KEEP_POINTS = 16  # points files kept for jobs still to be submitted (the page sends one per job)


def points_name(filename: str | None) -> str:
    """The uploaded points file's name as the page's ``--align NAME`` says it: the file's stem
    as outputs are named (`output_name`) and its lower-case extension (which tells a CSV from
    a depth image)."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    suffix = base.rsplit(".", 1)[1].lower() if "." in base.lstrip(".") else ""
    suffix = re.sub(r"[^a-z0-9]", "", suffix)[:8]
    return f"{output_name(base, 'points')}.{suffix}" if suffix else output_name(base, "points")


def is_csv(name: str) -> bool:
    """Whether ``read_points`` reads ``name`` as a CSV of u,v,depth_m (else a depth image)."""
    return Path(name).suffix.lower() in POINT_SUFFIXES


class PointsStore:
    """The last `KEEP_POINTS` uploaded points files, each in its own folder under ``root``."""

    def __init__(self, root: Path, keep: int = KEEP_POINTS):
        self.root = root
        self.keep = keep
        self._files: OrderedDict[str, Path] = OrderedDict()

    def add(self, data: bytes, filename: str) -> tuple[str, str]:
        """Keep ``data`` as the file ``points_name(filename)``; (id, that name)."""
        name = points_name(filename)
        if not data:
            raise UploadError(f"{name} is empty (0 bytes); choose a CSV of u,v,depth_m")
        points_id = secrets.token_hex(8)
        folder = self.root / f"points-{points_id}"
        folder.mkdir(parents=True)
        (folder / name).write_bytes(data)
        self._files[points_id] = folder / name
        while len(self._files) > self.keep:
            _, old = self._files.popitem(last=False)
            shutil.rmtree(old.parent, ignore_errors=True)
        return points_id, name

    def get(self, points_id: str) -> Path | None:
        return self._files.get(points_id)


def read_uploaded_points(
    path: Path, width: int, height: int, depth_format: str = "nyu"
) -> DepthPoints:
    """The points of the stored file ``path`` for a ``width`` x ``height`` photo, named by the
    file's own name (``source``, and in every message) as `predict --align NAME` names them."""
    name = path.name
    try:
        points = read_points(path, width, height, depth_format)
    except MsdepthError as exc:
        raise DataError(str(exc).replace(str(path), name)) from None
    return dataclasses.replace(points, source=name)

"""Writing files so that a crash, a full disk or a bad input never leaves a half-written one.

`atomic_path` hands out a temporary name beside the target (same folder, same extension, so
format-by-extension writers still work); the target is replaced by one rename only when the
write finished, so it holds either its old content or the complete new one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from msdepth.errors import DataError


def ensure_folder(folder: Path, what: str = "output folder") -> Path:
    """Create ``folder`` (and parents), or a one-line `DataError` saying why it cannot be."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{what} {folder} is a file; choose another path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {what} {folder} ({exc.strerror})") from None
    return folder


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` in one rename.

    On any exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path} is a folder; give a file name")
    ensure_folder(path.parent)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()

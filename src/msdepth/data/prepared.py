"""The prepared-dataset format: what `msdepth prepare` and `msdepth synth` write, and training reads.

Layout of a dataset folder::

    DIR/meta.json            format, version, source, image size, intrinsics, per-split counts
    DIR/<split>/rgb.npy      (N, H, W, 3) uint8
    DIR/<split>/depth.npy    (N, H, W) float16 or float32 metres; 0 (or NaN) = invalid
    DIR/<split>/names.json   the source name of each sample (for error messages and outputs)
    DIR/<split>/raw_depth.npy  optional second depth (e.g. NYU rawDepths), same encoding
    DIR/<split>/intrinsics.npy optional (N, 4) float64 fx, fy, cx, cy of each frame, in pixels
                             of the stored images, when frames have their own cameras
                             (``meta.json``: ``intrinsics_per_frame`` true, ``intrinsics`` null)

Arrays are plain ``.npy`` files opened memory-mapped, so random access is cheap and worker
processes share the page cache. A dataset is written under a temporary name and renamed into
place only when complete: a folder with a ``meta.json`` is always whole. What a killed writer
leaves behind (``DIR.tmp-<pid>``, or ``DIR.old-<pid>`` if it died between the two renames that
replace a dataset on systems without an atomic exchange) is tidied by the next writer or reader
of ``DIR`` on the same machine (`recover_interrupted`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import re
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from msdepth.errors import DataError

FORMAT_NAME = "msdepth-prepared"
FORMAT_VERSION = 1
INTRINSICS_FILE = "intrinsics.npy"  # per-frame fx, fy, cx, cy (optional)
DEPTH_DTYPES = {"float16": np.float16, "float32": np.float32}


class RGBDSample(NamedTuple):
    """One image and its metric depth."""

    rgb: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) float32 metres, 0 where invalid
    mask: np.ndarray  # (H, W) bool, True where depth is valid


def valid_depth_mask(depth: np.ndarray) -> np.ndarray:
    """Valid = finite and strictly positive (0, NaN, inf and negatives are "no reading")."""
    return np.isfinite(depth) & (depth > 0)


def store_sample(
    rgb_rows: np.ndarray, depth_rows: np.ndarray, i: int, rgb: np.ndarray, depth: np.ndarray
) -> tuple[int, float, float]:
    """Write sample ``i`` (depth with invalid readings as 0) into the split's arrays; return
    its valid pixel count and valid depth range (inf, 0 when none)."""
    valid = valid_depth_mask(depth)
    rgb_rows[i] = rgb
    clean = np.where(valid, depth, np.float32(0))
    depth_rows[i] = clean
    n_valid = int(np.count_nonzero(valid))
    if not n_valid:
        return 0, float("inf"), 0.0
    lo = float(np.min(clean, where=valid, initial=np.inf))
    return n_valid, lo, float(clean.max())  # invalid readings are 0, below any valid one


# ---- writing -------------------------------------------------------------------------------


@dataclass
class SplitStats:
    count: int = 0
    depth_min: float = float("inf")
    depth_max: float = 0.0
    valid_pixels: int = 0
    total_pixels: int = 0


class SplitWriter:
    """Appends samples of one split into preallocated memory-mapped arrays."""

    def __init__(
        self,
        folder: Path,
        capacity: int,
        hw: tuple[int, int],
        depth_dtype: str,
        raw_depth: bool,
        per_frame_intrinsics: bool = False,
    ):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.capacity = max(int(capacity), 1)
        self.hw = hw
        h, w = hw
        dt = DEPTH_DTYPES[depth_dtype]
        mm = np.lib.format.open_memmap
        self._rgb = mm(
            folder / "rgb.npy", mode="w+", dtype=np.uint8, shape=(self.capacity, h, w, 3)
        )
        self._depth = mm(folder / "depth.npy", mode="w+", dtype=dt, shape=(self.capacity, h, w))
        self._raw = (
            mm(folder / "raw_depth.npy", mode="w+", dtype=dt, shape=(self.capacity, h, w))
            if raw_depth
            else None
        )
        self.names: list[str] = []
        # (fx, fy, cx, cy) of each frame, when frames have their own cameras
        self.frame_intrinsics: list[tuple[float, float, float, float]] | None = (
            [] if per_frame_intrinsics else None
        )
        self.skipped: list[dict[str, str]] = []
        self.stats = SplitStats()

    def append(
        self,
        rgb: np.ndarray,
        depth: np.ndarray,
        name: str,
        raw_depth: np.ndarray | None = None,
        intrinsics: dict[str, float] | None = None,
    ) -> None:
        """Add one sample; depth in metres, anything not finite or <= 0 is stored as 0;
        ``intrinsics`` (fx, fy, cx, cy) when the dataset stores them per frame."""
        i = self.stats.count
        if i >= self.capacity:
            raise DataError(
                f"split {self.folder.name}: more samples than the {self.capacity} announced"
            )
        if rgb.shape != (*self.hw, 3) or rgb.dtype != np.uint8:
            raise DataError(
                f"{name}: RGB must be {self.hw[1]}x{self.hw[0]}x3 uint8, got {rgb.shape} {rgb.dtype}"
            )
        if depth.shape != self.hw:
            raise DataError(f"{name}: depth must be {self.hw[1]}x{self.hw[0]}, got {depth.shape}")
        n_valid, lo, hi = store_sample(self._rgb, self._depth, i, rgb, depth)
        if self._raw is not None:
            if raw_depth is None:
                raise DataError(f"{name}: this split stores raw depth but none was given")
            self._raw[i] = np.where(valid_depth_mask(raw_depth), raw_depth, 0)
        self.count_written(name, n_valid, lo, hi, intrinsics)

    @property
    def files(self) -> tuple[Path, Path]:
        """The split's ``rgb.npy`` and ``depth.npy``: another process may open them with
        ``np.load(path, mmap_mode="r+")`` and write samples by `store_sample`, then report
        each one, in order, to `count_written` (no raw depth on that path)."""
        return self.folder / "rgb.npy", self.folder / "depth.npy"

    def count_written(
        self,
        name: str,
        n_valid: int,
        depth_min: float,
        depth_max: float,
        intrinsics: dict[str, float] | None = None,
    ) -> None:
        """Account for sample number ``stats.count``, already stored by `store_sample`."""
        if self.stats.count >= self.capacity:
            raise DataError(
                f"split {self.folder.name}: more samples than the {self.capacity} announced"
            )
        if (self.frame_intrinsics is None) != (intrinsics is None):
            raise DataError(
                f"{name}: this dataset stores intrinsics "
                + ("per frame and none were given" if intrinsics is None else "once, not per frame")
            )
        if intrinsics is not None:
            self.frame_intrinsics.append(  # type: ignore[union-attr]
                tuple(float(intrinsics[k]) for k in ("fx", "fy", "cx", "cy"))  # type: ignore[arg-type]
            )
        s = self.stats
        s.count += 1
        s.valid_pixels += n_valid
        s.total_pixels += self.hw[0] * self.hw[1]
        if n_valid:
            s.depth_min = min(s.depth_min, depth_min)
            s.depth_max = max(s.depth_max, depth_max)
        self.names.append(name)

    def skip(self, name: str, reason: str) -> None:
        """Record a sample left out (``--skip-bad``); it is listed in ``meta.json``."""
        self.skipped.append({"name": name, "reason": reason})

    def close(self) -> dict[str, Any]:
        """Flush, shrink the arrays to the samples written, and return the split's metadata."""
        n = self.stats.count
        arrays = {"rgb.npy": self._rgb, "depth.npy": self._depth}
        if self._raw is not None:
            arrays["raw_depth.npy"] = self._raw
        for arr in arrays.values():
            arr.flush()
        del arr
        self._rgb = self._depth = self._raw = None  # close the maps before truncating
        if n < self.capacity:
            for fname in arrays:
                truncate_npy(self.folder / fname, n)
        del arrays
        (self.folder / "names.json").write_text(json.dumps(self.names), encoding="utf-8")
        if self.frame_intrinsics is not None:
            np.save(
                self.folder / INTRINSICS_FILE,
                np.array(self.frame_intrinsics, dtype=np.float64).reshape(-1, 4),
            )
        s = self.stats
        return {
            "count": n,
            "depth_min": s.depth_min if n and s.valid_pixels else None,
            "depth_max": s.depth_max if n and s.valid_pixels else None,
            "valid_fraction": s.valid_pixels / s.total_pixels if s.total_pixels else 0.0,
            "raw_depth": (self.folder / "raw_depth.npy").exists(),
            "skipped": len(self.skipped),
            "skipped_files": self.skipped,
        }


def truncate_npy(path: Path, n: int) -> None:
    """Keep the first ``n`` rows of a C-order ``.npy`` file in place (no copy of the data).

    The header is rewritten with the smaller shape, padded to its old length so the data
    offset does not move, and the file is cut after row ``n``.
    """
    with open(path, "r+b") as f:
        version = np.lib.format.read_magic(f)
        readers = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }
        if version not in readers:
            raise DataError(f"{path}: .npy format {version} cannot be shrunk in place")
        shape, fortran, dtype = readers[version](f)
        offset = f.tell()
        if fortran:
            raise DataError(f"{path}: cannot shrink a Fortran-order array")
        header = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                       "shape": (n, *shape[1:])})  # fmt: skip
        prefix = 6 + 2 + (2 if version == (1, 0) else 4)  # magic, version, header length
        room = offset - prefix - 1  # the header text without its final newline
        f.seek(prefix)
        f.write(header.ljust(room).encode("latin1") + b"\n")
        row = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        f.truncate(offset + n * row)


# ---- crash safety --------------------------------------------------------------------------

WRITER_FILE = ".writer"  # "host pid" of the process writing a DIR.tmp-<pid> folder
_LEFTOVER = re.compile(r"^(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _written_here_by_dead_process(folder: Path, pid: int) -> bool:
    """True when ``folder``'s writer ran on this machine and is gone (never another host's)."""
    marker = folder / WRITER_FILE
    try:
        host, _, marker_pid = marker.read_text(encoding="utf-8").partition(" ")
    except OSError:
        host, marker_pid = socket.gethostname(), str(pid)  # killed before the marker was written
    return host == socket.gethostname() and not _pid_alive(int(marker_pid or pid))


def recover_interrupted(out: str | Path) -> None:
    """Tidy what a killed writer of dataset ``out`` left beside it, on this machine.

    ``out.old-<pid>`` (the previous dataset, moved aside by a writer killed before it moved
    the new one in) is put back when ``out`` is missing; ``out.tmp-<pid>`` folders of dead
    writers are removed. Folders of live processes and of other hosts are left alone.
    """
    out = Path(out)
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return
    for path in sorted(entries, key=lambda p: ".old-" not in p.name):  # restore before removing
        m = _LEFTOVER.match(path.name)
        if not m or m.group("name") != out.name or not path.is_dir():
            continue
        pid = int(m.group("pid"))
        if pid == os.getpid() or _pid_alive(pid):
            continue
        if m.group("kind") == "old":
            if not out.exists() and (path / "meta.json").is_file():
                try:
                    os.replace(path, out)
                    continue
                except OSError:
                    pass
            shutil.rmtree(path, ignore_errors=True)
        elif _written_here_by_dead_process(path, pid):
            shutil.rmtree(path, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class DatasetWriter:
    """Writes a prepared dataset atomically: into ``DIR.tmp-<pid>``, renamed to ``DIR`` at the end.

    Use as a context manager; on an exception the temporary folder is removed and an existing
    ``DIR`` is left untouched. ``overwrite=False`` refuses to replace an existing dataset.
    """

    def __init__(
        self,
        out: str | Path,
        *,
        image_size: tuple[int, int],
        source: dict[str, Any],
        intrinsics: dict[str, float] | None = None,
        depth_dtype: str = "float16",
        overwrite: bool = False,
        per_frame_intrinsics: bool = False,
    ):
        self.out = Path(out)
        recover_interrupted(self.out)
        if self.out.parent.exists() and not self.out.parent.is_dir():
            raise DataError(f"cannot write {self.out}: {self.out.parent} is a file, not a folder")
        if self.out.exists() and not self.out.is_dir():
            raise DataError(f"{self.out} is a file; choose another --out")
        if depth_dtype not in DEPTH_DTYPES:
            raise DataError(
                f"depth dtype must be one of {', '.join(DEPTH_DTYPES)}, got {depth_dtype!r}"
            )
        if self.out.exists() and not overwrite:
            raise DataError(f"{self.out} already exists; pass --overwrite to replace it")
        if self.out.exists() and not (self.out / "meta.json").exists() and any(self.out.iterdir()):
            raise DataError(
                f"{self.out} exists and is not a prepared dataset; choose another --out"
            )
        self.image_size = image_size  # (W, H)
        self.source = source
        if per_frame_intrinsics and intrinsics is not None:
            raise DataError("intrinsics are either per frame or one camera for all, not both")
        self.intrinsics = intrinsics
        self.per_frame_intrinsics = per_frame_intrinsics
        self.depth_dtype = depth_dtype
        self.tmp = self.out.with_name(f"{self.out.name}.tmp-{os.getpid()}")
        self.splits: dict[str, SplitWriter] = {}
        self.extra_meta: dict[str, Any] = {}

    def __enter__(self) -> DatasetWriter:
        try:
            if self.tmp.exists():
                shutil.rmtree(self.tmp)
            self.tmp.mkdir(parents=True)
            (self.tmp / WRITER_FILE).write_text(
                f"{socket.gethostname()} {os.getpid()}", encoding="utf-8"
            )
        except OSError as exc:
            raise DataError(f"cannot create {self.tmp} ({exc.strerror}); check --out") from None
        return self

    def split(self, name: str, capacity: int, raw_depth: bool = False) -> SplitWriter:
        """Start a split (``train``, ``test``, ...) announcing at most ``capacity`` samples."""
        if name in self.splits:
            raise DataError(f"split {name!r} written twice")
        w, h = self.image_size
        writer = SplitWriter(
            self.tmp / name, capacity, (h, w), self.depth_dtype, raw_depth,
            self.per_frame_intrinsics,
        )  # fmt: skip
        self.splits[name] = writer
        return writer

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        self._commit()

    def _commit(self) -> None:
        meta = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "source": self.source,
            "image_size": list(self.image_size),
            "depth_dtype": self.depth_dtype,
            "intrinsics": self.intrinsics,
            "intrinsics_per_frame": self.per_frame_intrinsics,
            "splits": {name: sw.close() for name, sw in self.splits.items()},
            **self.extra_meta,
        }
        (self.tmp / WRITER_FILE).unlink()
        with open(self.tmp / "meta.json", "w", encoding="utf-8") as f:
            f.write(json.dumps(meta, indent=2))
            f.flush()
            os.fsync(f.fileno())  # the arrays are flushed by close(); meta.json marks them whole
        _fsync_dir(self.tmp)
        if self.out.exists() and _exchange(self.tmp, self.out):
            shutil.rmtree(self.tmp, ignore_errors=True)  # now holds the previous dataset
        else:
            old = None
            if self.out.exists():
                old = self.out.with_name(f"{self.out.name}.old-{os.getpid()}")
                os.replace(self.out, old)
            os.replace(self.tmp, self.out)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        _fsync_dir(self.out.parent)


# ---- reading -------------------------------------------------------------------------------


def read_meta(path: str | Path) -> dict[str, Any]:
    """The ``meta.json`` of a prepared dataset, checked for format and version."""
    path = Path(path)
    meta_path = path / "meta.json"
    if not path.exists():
        recover_interrupted(path)
    if not path.exists():
        raise DataError(
            f"dataset {path} does not exist; create it with `msdepth prepare` or `msdepth synth`"
        )
    if not meta_path.exists():
        raise DataError(
            f"{path} is not a prepared dataset (no meta.json); run `msdepth prepare` first"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{meta_path} is corrupt ({exc}); prepare the dataset again") from None
    if meta.get("format") != FORMAT_NAME or meta.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{meta_path}: format {meta.get('format')!r} v{meta.get('format_version')} is not "
            f"{FORMAT_NAME} v{FORMAT_VERSION}; prepare the dataset again"
        )
    return meta


class PreparedDataset:
    """Random access to one split of a prepared dataset.

    Arrays are memory-mapped lazily on first access in each process, so the object pickles
    cheaply into DataLoader workers.
    """

    def __init__(self, path: str | Path, split: str | None = None):
        self.path = Path(path)
        self.meta = read_meta(self.path)
        splits = self.meta["splits"]
        if split is None:
            if len(splits) != 1:
                raise DataError(
                    f"{self.path} has splits {', '.join(sorted(splits))}; choose one with --split"
                )
            split = next(iter(splits))
        if split not in splits:
            raise DataError(
                f"{self.path} has no split {split!r}; it has {', '.join(sorted(splits))}"
            )
        self.split = split
        self.folder = self.path / split
        self._count = int(splits[split]["count"])
        self._rgb: np.ndarray | None = None
        self._depth: np.ndarray | None = None
        self._names: list[str] | None = None

    def _open(self) -> None:
        try:
            rgb = np.load(self.folder / "rgb.npy", mmap_mode="r")
            depth = np.load(self.folder / "depth.npy", mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise DataError(
                f"{self.folder}: cannot read arrays ({exc}); prepare the dataset again"
            ) from None
        if len(rgb) != self._count or len(depth) != self._count:
            raise DataError(
                f"{self.folder}: arrays do not match meta.json counts; prepare the dataset again"
            )
        self._rgb, self._depth = rgb, depth

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_rgb"] = state["_depth"] = None
        return state

    @property
    def rgb(self) -> np.ndarray:
        """All images, (N, H, W, 3) uint8, memory-mapped."""
        if self._rgb is None:
            self._open()
        return self._rgb  # type: ignore[return-value]

    @property
    def depth(self) -> np.ndarray:
        """All depth maps, (N, H, W) metres (float16 or float32), memory-mapped; 0 = invalid."""
        if self._depth is None:
            self._open()
        return self._depth  # type: ignore[return-value]

    @property
    def names(self) -> list[str]:
        if self._names is None:
            path = self.folder / "names.json"
            self._names = (
                json.loads(path.read_text(encoding="utf-8"))
                if path.exists()
                else [f"{self.split}-{i:06d}" for i in range(self._count)]
            )
        return self._names

    @property
    def image_size(self) -> tuple[int, int]:
        """(W, H) of the stored images."""
        w, h = self.meta["image_size"]
        return int(w), int(h)

    @property
    def intrinsics(self) -> dict[str, float] | None:
        """The one camera of every frame (``meta.json``), or None (unknown, or per frame)."""
        return self.meta.get("intrinsics")

    @property
    def per_frame_intrinsics(self) -> bool:
        return bool(self.meta.get("intrinsics_per_frame", False))

    def frame_intrinsics(self) -> np.ndarray | None:
        """(N, 4) float64 fx, fy, cx, cy of each frame in pixels of the stored images; the
        dataset's one camera repeated when it has one; None when it has no intrinsics."""
        if self.per_frame_intrinsics:
            path = self.folder / INTRINSICS_FILE
            try:
                table = np.load(path)
            except (OSError, ValueError) as exc:
                raise DataError(
                    f"{path}: cannot read per-frame intrinsics ({exc}); prepare the dataset again"
                ) from None
            if table.shape != (self._count, 4) or not np.all(np.isfinite(table)):
                raise DataError(
                    f"{path} holds {table.shape} intrinsics for {self._count} frames; prepare "
                    "the dataset again"
                )
            return np.asarray(table, dtype=np.float64)
        k = self.intrinsics
        if not k:
            return None
        row = [float(k[name]) for name in ("fx", "fy", "cx", "cy")]
        return np.tile(np.array(row, dtype=np.float64), (self._count, 1))

    def raw_depth(self) -> np.ndarray | None:
        """The optional second depth (e.g. NYU ``rawDepths``), memory-mapped, or None."""
        path = self.folder / "raw_depth.npy"
        return np.load(path, mmap_mode="r") if path.exists() else None

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> RGBDSample:
        if not -self._count <= index < self._count:
            raise IndexError(f"sample {index} out of range for {self._count} samples")
        depth = np.asarray(self.depth[index], dtype=np.float32)
        mask = valid_depth_mask(depth)
        return RGBDSample(
            np.asarray(self.rgb[index]), np.where(mask, depth, 0.0).astype(np.float32), mask
        )


def open_dataset(path: str | Path, split: str | None = None) -> PreparedDataset:
    """Open one split of a prepared dataset (the only split when ``split`` is None)."""
    return PreparedDataset(path, split)

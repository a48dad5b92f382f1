"""Converting real RGB-D sources into a prepared dataset (what `msdepth prepare` runs).

Sources: RGB/depth pairs (from a CSV/list file or folders, see `msdepth.data.pairs`) and the
NYU Depth V2 labelled ``.mat`` with its official ``splits.mat``. Every sample is resized to one
stored size (default: the source halved, NYU 640x480 -> 320x240; see `msdepth.data.resize`),
depth stays in metres, and the dataset is written atomically by `DatasetWriter`: a failure
leaves any existing dataset untouched. Bad samples stop the conversion with an error naming the
file, or, with ``skip_bad``, are skipped and listed in ``meta.json``.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from msdepth.data.pairs import PairSpec, load_pair
from msdepth.data.prepared import DatasetWriter, recover_interrupted, valid_depth_mask
from msdepth.data.resize import half_size, resize_depth, resize_rgb, scale_intrinsics
from msdepth.errors import DataError

# NYU Depth V2 Kinect colour camera at 640x480 (NYU toolbox camera_params.m).
NYU_INTRINSICS = {"fx": 518.8579, "fy": 519.4696, "cx": 325.5824, "cy": 253.7362}
NYU_SIZE = (640, 480)


@dataclass
class PrepareOptions:
    """How samples are converted and stored (the CLI's shared flags)."""

    size: tuple[int, int] | None = None  # (W, H); None: half the source (or the source size)
    keep_size: bool = False  # store at the source resolution
    depth_format: str = "nyu"
    depth_scale: float | None = None
    depth_dtype: str = "float16"
    workers: int = 0
    skip_bad: bool = False
    overwrite: bool = False
    intrinsics: dict[str, float] | None = None  # at the source resolution
    progress: bool | None = None  # None: when stderr is a terminal

    def stored_size(self, source: tuple[int, int]) -> tuple[int, int]:
        if self.keep_size:
            return source
        return self.size if self.size is not None else half_size(*source)


def _bar(total: int, desc: str, progress: bool | None) -> tqdm:
    enabled = sys.stderr.isatty() if progress is None else progress
    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, file=sys.stderr)


# ---- pairs (csv, folder) ---------------------------------------------------------------------


def _decode(job: tuple[PairSpec, str, float | None]) -> tuple[Any, ...]:
    """Worker: decode one pair; errors travel back as text so the parent decides to skip."""
    spec, fmt, scale = job
    try:
        s = load_pair(spec, fmt, scale)
    except DataError as exc:
        return ("bad", str(exc))
    return ("ok", s.rgb, s.depth)


def _decoded(
    pairs: list[PairSpec], options: PrepareOptions
) -> Iterator[tuple[PairSpec, tuple[Any, ...]]]:
    jobs = [(p, options.depth_format, options.depth_scale) for p in pairs]
    if options.workers <= 0:
        for p, job in zip(pairs, jobs, strict=True):
            yield p, _decode(job)
        return
    with multiprocessing.get_context().Pool(options.workers) as pool:
        yield from zip(pairs, pool.imap(_decode, jobs, chunksize=2), strict=True)


def prepare_pairs(
    pairs: list[PairSpec],
    out: str | Path,
    split: str,
    source: dict[str, Any],
    options: PrepareOptions,
    bad_lines: Iterable[tuple[str, str]] = (),
) -> Path:
    """Write ``pairs`` as split ``split`` of a new dataset at ``out``; returns ``out``.

    ``bad_lines`` (CSV lines already refused, ``--skip-bad``) are listed as skipped.
    """
    out = Path(out)
    if not pairs:
        raise DataError("no pairs to prepare")
    check_output(out, options.overwrite)
    stream = _decoded(pairs, options)
    bar = _bar(len(pairs), f"prepare {split}", options.progress)
    writer: DatasetWriter | None = None
    skipped = list(bad_lines)
    try:
        for spec, result in stream:
            bar.update(1)
            if result[0] == "bad":
                if not options.skip_bad:
                    raise DataError(f"{result[1]} (or pass --skip-bad)")
                skipped.append((spec.where, result[1]))
                continue
            rgb, depth = result[1], result[2]
            source_size = (rgb.shape[1], rgb.shape[0])
            if writer is None:
                size = options.stored_size(source_size)
                writer = DatasetWriter(
                    out,
                    image_size=size,
                    source=source,
                    intrinsics=scale_intrinsics(options.intrinsics, source_size, size),
                    depth_dtype=options.depth_dtype,
                    overwrite=options.overwrite,
                ).__enter__()
                writer.extra_meta.update(_resize_meta(source_size, size))
                split_writer = writer.split(split, len(pairs))
            split_writer.append(
                resize_rgb(rgb, writer.image_size),
                resize_depth(depth, writer.image_size),
                spec.rgb.name,
            )
        if writer is None:
            raise DataError(
                f"every one of the {len(pairs)} pairs was bad; nothing to prepare "
                f"(first: {skipped[0][1] if skipped else '?'})"
            )
        for where, reason in skipped:
            split_writer.skip(where, reason)
    except BaseException as exc:
        bar.close()
        stream.close()
        if writer is not None:
            writer.__exit__(type(exc), exc, exc.__traceback__)
        raise
    bar.close()
    writer.__exit__(None, None, None)
    return out


def check_output(out: Path, overwrite: bool) -> None:
    """Refuse early (before any decoding) what `DatasetWriter` would refuse at the end."""
    recover_interrupted(out)
    if out.parent.exists() and not out.parent.is_dir():
        raise DataError(f"cannot write {out}: {out.parent} is a file, not a folder")
    if out.exists() and not overwrite:
        raise DataError(f"{out} already exists; pass --overwrite to replace it")
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} is a file; choose another --out")
    if out.exists() and not (out / "meta.json").exists() and any(out.iterdir()):
        raise DataError(f"{out} exists and is not a prepared dataset; choose another --out")


def _resize_meta(source: tuple[int, int], size: tuple[int, int]) -> dict[str, Any]:
    return {
        "source_size": list(source),
        "resize": {"rgb": "box-average", "depth": "valid-first-nearest"}
        if source != size
        else None,
    }


# ---- NYU Depth V2 labelled .mat --------------------------------------------------------------


def read_nyu_splits(path: str | Path) -> dict[str, np.ndarray]:
    """``{"train": ..., "test": ...}`` 0-based indices from the official ``splits.mat``."""
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise DataError(f"splits file {path} does not exist (the NYU release's splits.mat)")
    try:
        mat = scipy.io.loadmat(path)
    except NotImplementedError:
        raise DataError(f"{path} is a MATLAB v7.3 file; splits.mat is expected in v5") from None
    except Exception as exc:  # scipy raises ValueError, TypeError, ... on corrupt files
        raise DataError(f"{path} is not a readable .mat file ({exc})") from None
    splits = {}
    for split, key in (("train", "trainNdxs"), ("test", "testNdxs")):
        if key not in mat:
            raise DataError(f"{path} has no {key!r}; give the NYU Depth V2 splits.mat")
        values = np.asarray(mat[key]).ravel()
        if (
            values.size == 0
            or not np.issubdtype(values.dtype, np.number)
            or not np.all(np.isfinite(values))
            or np.any(values != np.round(values))
            or values.min() < 1
        ):
            raise DataError(f"{path}: {key} must hold 1-based whole-number image indices")
        splits[split] = values.astype(np.int64) - 1
    if np.intersect1d(splits["train"], splits["test"]).size:
        raise DataError(f"{path}: trainNdxs and testNdxs overlap")
    return splits


def prepare_nyu_mat(
    mat_path: str | Path,
    splits_path: str | Path,
    out: str | Path,
    options: PrepareOptions,
    raw_depth: bool = False,
) -> Path:
    """The labelled NYU set into splits ``train`` (795) and ``test`` (654), streamed per image.

    The ``.mat`` (HDF5) stores ``images`` as (N, 3, W, H) uint8 and ``depths``/``rawDepths``
    as (N, W, H) metres: one image is ``images[i].transpose(2, 1, 0)``, one depth ``depths[i].T``.
    """
    import h5py

    mat_path, out = Path(mat_path), Path(out)
    check_output(out, options.overwrite)
    splits = read_nyu_splits(splits_path)
    if not mat_path.is_file():
        raise DataError(f"{mat_path} does not exist (nyu_depth_v2_labeled.mat)")
    try:
        f = h5py.File(mat_path, "r")
    except OSError as exc:
        raise DataError(
            f"{mat_path} is not an HDF5 / MATLAB v7.3 file ({exc}); give nyu_depth_v2_labeled.mat"
        ) from None
    with f:
        keys = ["images", "depths"] + (["rawDepths"] if raw_depth else [])
        for key in keys:
            if not isinstance(f.get(key), h5py.Dataset):
                raise DataError(f"{mat_path} has no {key!r} dataset; give nyu_depth_v2_labeled.mat")
        images, depths = f["images"], f["depths"]
        raws = f["rawDepths"] if raw_depth else None
        if images.ndim != 4 or images.shape[1] != 3:
            raise DataError(f"{mat_path}: 'images' has shape {images.shape}, expected (N, 3, W, H)")
        if images.dtype != np.uint8:
            raise DataError(f"{mat_path}: 'images' is {images.dtype}, expected uint8 RGB")
        n, _, w, h = images.shape
        for key, ds in (("depths", depths), ("rawDepths", raws)):
            if ds is not None and ds.dtype.kind not in "fiu":
                raise DataError(f"{mat_path}: {key!r} is {ds.dtype}, expected depth in metres")
            if ds is not None and ds.shape != (n, w, h):
                raise DataError(
                    f"{mat_path}: {key!r} has shape {ds.shape}, expected {(n, w, h)} like 'images'"
                )
        for split, idx in splits.items():
            if idx.max() >= n:
                raise DataError(
                    f"{splits_path}: {split} index {idx.max() + 1} is beyond the {n} images of "
                    f"{mat_path}"
                )
        source_size = (w, h)
        size = options.stored_size(source_size)
        intrinsics = options.intrinsics or scale_intrinsics(NYU_INTRINSICS, NYU_SIZE, source_size)
        source = {
            "kind": "nyu-mat",
            "mat": str(mat_path),
            "splits": str(splits_path),
            "raw_depth": raw_depth,
        }
        with DatasetWriter(
            out,
            image_size=size,
            source=source,
            intrinsics=scale_intrinsics(intrinsics, source_size, size),
            depth_dtype=options.depth_dtype,
            overwrite=options.overwrite,
        ) as writer:
            writer.extra_meta.update(_resize_meta(source_size, size))
            writer.extra_meta["nyu_indices"] = {s: [int(i) for i in v] for s, v in splits.items()}
            for split in ("train", "test"):
                sw = writer.split(split, len(splits[split]), raw_depth=raw_depth)
                for i in _bar_iter(splits[split], f"nyu {split}", options.progress):
                    name = f"nyu{int(i):05d}"
                    depth = np.asarray(depths[i], dtype=np.float32).T
                    if not valid_depth_mask(depth).any():
                        reason = f"{mat_path} image {int(i) + 1}: depth has no valid pixel"
                        if not options.skip_bad:
                            raise DataError(f"{reason} (or pass --skip-bad)")
                        sw.skip(name, reason)
                        continue
                    rgb = np.ascontiguousarray(
                        np.asarray(images[i], dtype=np.uint8).transpose(2, 1, 0)
                    )
                    raw = (
                        resize_depth(np.asarray(raws[i], dtype=np.float32).T, size)
                        if raws is not None
                        else None
                    )
                    sw.append(resize_rgb(rgb, size), resize_depth(depth, size), name, raw)
    return out


def _bar_iter(items: np.ndarray, desc: str, progress: bool | None) -> Iterator[int]:
    bar = _bar(len(items), desc, progress)
    try:
        for item in items:
            yield int(item)
            bar.update(1)
    finally:
        bar.close()

"""Where evaluation samples come from: a prepared dataset, a CSV of pairs, or a folder of pairs.

- a prepared dataset folder (``meta.json``; `msdepth.data.prepared`): one split, at the stored
  resolution (320x240 for NYU; the paper's protocol is at 640x480, so evaluate the original
  pairs for numbers comparable with the paper); a sequence (``msdepth synth --sequence``, its
  ``meta.json`` has ``"sequence"``) is marked so, and its frames come in order;
- a CSV/list file of ``rgb_path,depth_path`` lines (`msdepth.data.pairs.list_pairs_csv`);
- a folder holding exactly one such CSV (as ``../shared/data/nyu-test``), or ``rgb/`` (or
  ``color/``, ``image(s)/``) and ``depth/`` sub-folders, or images and depth maps side by side
  paired by name (``00001_colors.png`` + ``00001_depth.png``; `list_pairs_folder`), or an
  RGB folder with ``depth_dir`` for the depth maps.

Pairs are read at their original resolution, lazily, one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from msdepth.errors import DataError
from msdepth.evaluation.protocol import EvalSample

LIST_SUFFIXES = (".csv", ".txt")
# Sub-folder names of a DIR/rgb + DIR/depth layout (KITTI, NYU raw demo data, slambook).
RGB_FOLDERS = ("rgb", "color", "colors", "image", "images")
DEPTH_FOLDERS = ("depth", "depths")


def _subfolder(path: Path, names: tuple[str, ...]) -> Path | None:
    return next((path / n for n in names if (path / n).is_dir()), None)


@dataclass
class SampleSource:
    """A sized, re-iterable stream of `EvalSample`s and a description for reports."""

    kind: str  # "prepared", "csv" or "folder"
    path: Path
    count: int
    resolution: str  # "stored 320x240", "original"
    _iterate: Any
    sequence: dict[str, Any] | None = None  # a video's frames in order (`msdepth synth --sequence`)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[EvalSample]:
        return self._iterate()

    def describe(self) -> dict[str, Any]:
        return {
            "data": str(self.path),
            "source": self.kind,
            "count": self.count,
            "resolution": self.resolution,
        }


def open_samples(
    path: str | Path,
    split: str | None = None,
    depth_format: str = "nyu",
    depth_scale: float | None = None,
    depth_dir: str | Path | None = None,
) -> SampleSource:
    """The evaluation samples at ``path`` (see the module docstring for what is accepted)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"evaluation data {path} does not exist; pass a dataset folder or a CSV")
    if path.is_dir() and (path / "meta.json").is_file():
        if depth_dir is not None or depth_scale is not None:
            raise DataError(
                f"{path} is a prepared dataset (depth already in metres); "
                "drop --depth-dir/--depth-scale"
            )
        return _prepared(path, split)
    from msdepth.data import pairs as pairs_module

    if path.is_file():
        if path.suffix.lower() not in LIST_SUFFIXES:
            raise DataError(f"{path} is not a CSV/list of pairs (.csv, .txt) nor a dataset folder")
        specs = pairs_module.list_pairs_csv(path)
        kind = "csv"
    elif depth_dir is not None:
        specs = pairs_module.list_pairs_folder(path, depth_dir)
        kind = "folder"
    else:
        lists = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
        if len(lists) == 1:
            specs = pairs_module.list_pairs_csv(lists[0])
            path, kind = lists[0], "csv"
        elif len(lists) > 1:
            raise DataError(
                f"{path} holds several CSV files ({', '.join(p.name for p in lists)}); "
                "pass the one to evaluate"
            )
        else:
            rgb_dir = _subfolder(path, RGB_FOLDERS)
            depth_sub = _subfolder(path, DEPTH_FOLDERS)
            if rgb_dir is not None and depth_sub is not None:
                specs = pairs_module.list_pairs_folder(rgb_dir, depth_sub)
            else:
                specs = pairs_module.list_pairs_folder(path, path)
            kind = "folder"

    def iterate() -> Iterator[EvalSample]:
        for spec in specs:
            sample = pairs_module.load_pair(
                spec, depth_format=depth_format, depth_scale=depth_scale
            )
            depth = np.where(sample.mask, sample.depth, 0.0).astype(np.float32)
            yield EvalSample(spec.rgb.stem, sample.rgb, depth, spec.rgb)

    return SampleSource(kind, path, len(specs), "original", iterate)


def _prepared(path: Path, split: str | None) -> SampleSource:
    from msdepth.data.prepared import open_dataset, read_meta

    if split is None and "test" in read_meta(path)["splits"]:
        split = "test"  # the evaluation split when there is one
    ds = open_dataset(path, split)
    w, h = ds.image_size

    def iterate() -> Iterator[EvalSample]:
        for i in range(len(ds)):
            sample = ds[i]
            yield EvalSample(ds.names[i], sample.rgb, sample.depth)

    sequence = ds.meta.get("sequence")
    if not (isinstance(sequence, dict) and sequence.get("split") == ds.split):
        sequence = None
    return SampleSource(
        "prepared", path, len(ds), f"stored {w}x{h} (split {ds.split})", iterate, sequence
    )

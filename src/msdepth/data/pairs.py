"""Lists of RGB/depth file pairs (from a CSV/list file or from folders) and loading one pair.

CSV and list files: one pair per line, either ``rgb_path,depth_path`` (the tutorial's
``train.csv``, DenseDepth's ``nyu2_*.csv``) or, BTS style, ``rgb_path depth_path [focal]``
separated by whitespace (a leading ``/`` on BTS paths is dropped: BTS writes them relative to
its data path). Paths are relative to ``root``, by default the list file's folder. Blank lines
and ``#`` comments are ignored; a first line whose fields have no file extension
(``rgb_path,depth_path``) is a header. Paths that lead outside ``root`` are refused unless
``allow_outside_root``.

Folders: see `match_folder` for the rule that pairs file names.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import NamedTuple

from msdepth.data.depth_formats import decode_depth
from msdepth.data.images import read_rgb
from msdepth.data.prepared import RGBDSample, valid_depth_mask
from msdepth.errors import DataError

RGB_EXTENSIONS = (".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff", ".webp")
DEPTH_EXTENSIONS = (".png", ".pgm", ".tif", ".tiff", ".npy")


class PairSpec(NamedTuple):
    """An RGB file, its depth file, and where the pair came from (for messages)."""

    rgb: Path
    depth: Path
    where: str  # "list.csv line 7" or "pair 00001_colors.png + 00001_depth.png"


# ---- CSV / list files ------------------------------------------------------------------------


def _looks_like_header(fields: list[str]) -> bool:
    return all("." not in Path(f).name for f in fields)


def _inside(path: Path, root: Path) -> bool:
    root_s = os.path.normpath(os.path.abspath(root))
    path_s = os.path.normpath(os.path.abspath(path))
    return os.path.commonpath([root_s, path_s]) == root_s


def list_pairs_csv(
    csv_path: str | Path,
    allow_outside_root: bool = False,
    *,
    root: str | Path | None = None,
    bad_lines: list[tuple[str, str]] | None = None,
) -> list[PairSpec]:
    """The pairs listed in ``csv_path``, in file order.

    A malformed line raises `DataError` naming the file and line, or, when ``bad_lines`` is a
    list, is appended to it as ``(where, reason)`` and skipped (``--skip-bad``).
    """
    csv_path = Path(csv_path)
    base = Path(root) if root is not None else csv_path.parent
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"pair list {csv_path} does not exist") from None
    except IsADirectoryError:
        raise DataError(f"pair list {csv_path} is a folder; give the .csv file") from None
    except UnicodeDecodeError:
        raise DataError(f"pair list {csv_path} is not UTF-8 text") from None
    except OSError as exc:
        raise DataError(f"pair list {csv_path} cannot be read ({exc})") from None

    pairs: list[PairSpec] = []
    first = True
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{csv_path.name} line {number}"
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "," in stripped:
            fields = [f.strip() for f in next(csv.reader(io.StringIO(stripped)))]
        else:  # BTS: "rgb depth focal", paths written with a leading "/"
            fields = [f.lstrip("/") for f in stripped.split()[:2]]
        if first and len(fields) >= 2 and _looks_like_header(fields[:2]):
            first = False
            continue
        first = False
        problem = _check_fields(fields, "," in stripped)
        if problem is None:
            rgb, depth = (base / f for f in fields[:2])
            if not allow_outside_root:
                outside = [p for p in (rgb, depth) if not _inside(p, base)]
                if outside:
                    problem = (
                        f"{outside[0]} is outside {base}; move it under that folder or allow "
                        "paths outside it (--allow-outside-root)"
                    )
        if problem is not None:
            if bad_lines is None:
                raise DataError(f"{csv_path} line {number}: {problem}")
            bad_lines.append((where, problem))
            continue
        pairs.append(PairSpec(rgb, depth, where))
    if not pairs and not bad_lines:
        raise DataError(f"pair list {csv_path} lists no pairs (expected lines rgb_path,depth_path)")
    return pairs


def _check_fields(fields: list[str], comma: bool) -> str | None:
    if comma and len(fields) != 2:
        return f"expected 'rgb_path,depth_path', got {len(fields)} fields"
    if len(fields) < 2:
        return "expected 'rgb_path,depth_path' (or BTS 'rgb depth focal'), got one field"
    if not all(fields[:2]):
        return "an empty path"
    if fields[1].lower() == "none":
        return "no depth for this image ('None')"
    return None


# ---- folders ---------------------------------------------------------------------------------

# A name's role marker, as a prefix or a suffix separated by "_", "-" or ".":
# "00001_colors" / "00001_depth" (DenseDepth), "rgb_00045" / "sync_depth_00045" (BTS),
# "SUN_color" / "SUN_depth", "1" / "1_depth" (TUM).
_MARKERS = r"(sync_depth|depths?|rgb|colou?rs?|images?|img)"
_PREFIX = re.compile(rf"^{_MARKERS}[_\-.](?=.)", re.IGNORECASE)
_SUFFIX = re.compile(rf"(?<=.)[_\-.]{_MARKERS}$", re.IGNORECASE)


def pair_key(stem: str) -> tuple[str, bool]:
    """(the stem without its role marker, whether the marker says "depth")."""
    is_depth = False
    for pattern in (_SUFFIX, _PREFIX):
        match = pattern.search(stem)
        if match:
            is_depth = is_depth or "depth" in match.group(1).lower()
            stem = stem[: match.start()] + stem[match.end() :]
    return stem, is_depth


def _natural(key: str) -> list[object]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key)]


def match_folder(rgb_dir: str | Path, depth_dir: str | Path) -> tuple[list[PairSpec], list[Path]]:
    """Pair files by name: ``(pairs in natural name order, files left without a partner)``.

    Rule: a file's key is its stem without one role marker (prefix or suffix ``rgb``,
    ``color(s)``, ``image``, ``img``, ``depth``, ``sync_depth``, joined by ``_``, ``-`` or
    ``.``, any case); an RGB file and a depth file with the same key are a pair. When both
    folders are one folder, files whose marker says depth are the depth maps and the others
    the images. Only image/depth extensions are considered.
    """
    rgb_dir, depth_dir = Path(rgb_dir), Path(depth_dir)
    for d, what in ((rgb_dir, "RGB"), (depth_dir, "depth")):
        if not d.is_dir():
            raise DataError(f"{what} folder {d} does not exist or is not a folder")
    same = os.path.samefile(rgb_dir, depth_dir)

    def collect(folder: Path, exts: tuple[str, ...], want_depth: bool) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for p in sorted(folder.iterdir()):
            if not p.is_file() or p.suffix.lower() not in exts:
                continue
            key, is_depth = pair_key(p.stem)
            if same and is_depth != want_depth:
                continue
            if key in found:
                raise DataError(
                    f"{found[key].name} and {p.name} in {folder} both match name {key!r}; "
                    "remove one or list the pairs in a CSV (--csv)"
                )
            found[key] = p
        return found

    rgbs = collect(rgb_dir, RGB_EXTENSIONS, want_depth=False)
    depths = collect(depth_dir, DEPTH_EXTENSIONS, want_depth=True)
    pairs = [
        PairSpec(rgbs[k], depths[k], f"pair {rgbs[k].name} + {depths[k].name}")
        for k in sorted(rgbs.keys() & depths.keys(), key=_natural)
    ]
    unmatched = sorted(
        [rgbs[k] for k in rgbs.keys() - depths.keys()]
        + [depths[k] for k in depths.keys() - rgbs.keys()]
    )
    return pairs, unmatched


def list_pairs_folder(
    rgb_dir: str | Path, depth_dir: str | Path, strict: bool = True
) -> list[PairSpec]:
    """RGB/depth pairs matched by file name (see `match_folder`).

    ``strict``: a file without a partner is an error naming it; otherwise it is left out.
    """
    pairs, unmatched = match_folder(rgb_dir, depth_dir)
    if unmatched and strict:
        raise DataError(
            f"{unmatched[0]} has no partner with the same name in the "
            f"{'depth' if unmatched[0].parent == Path(rgb_dir) else 'RGB'} folder "
            f"({len(unmatched)} such file(s)); add it, remove it, or pass --skip-bad"
        )
    if not pairs:
        raise DataError(
            f"no RGB/depth pairs found in {rgb_dir} and {depth_dir}: names must match up to a "
            "marker like _rgb/_colors and _depth (see docs/data.md)"
        )
    return pairs


# ---- one pair --------------------------------------------------------------------------------


def load_pair(
    spec: PairSpec,
    depth_format: str = "nyu",
    depth_scale: float | None = None,
    require_valid: bool = True,
) -> RGBDSample:
    """Decode one pair at its original resolution: RGB uint8, depth float32 metres, mask.

    Raises `DataError` (prefixed by ``spec.where``) for unreadable files, RGB and depth of
    different sizes, and (``require_valid``) a depth map without a single valid pixel.
    """
    try:
        rgb = read_rgb(spec.rgb)
        depth = decode_depth(spec.depth, depth_format, depth_scale)
    except DataError as exc:
        raise DataError(f"{spec.where}: {exc}") from None
    if rgb.shape[:2] != depth.shape:
        raise DataError(
            f"{spec.where}: RGB {spec.rgb} is {rgb.shape[1]}x{rgb.shape[0]} but depth "
            f"{spec.depth} is {depth.shape[1]}x{depth.shape[0]}; they must be registered "
            "images of one size"
        )
    mask = valid_depth_mask(depth)
    if require_valid and not mask.any():
        raise DataError(
            f"{spec.where}: depth {spec.depth} has no valid pixel (all 0, NaN or no-reading "
            f"codes as {depth_format!r}); check --depth-format or remove the pair"
        )
    return RGBDSample(rgb, depth, mask)


__all__ = [
    "PairSpec",
    "list_pairs_csv",
    "list_pairs_folder",
    "load_pair",
    "match_folder",
    "pair_key",
]

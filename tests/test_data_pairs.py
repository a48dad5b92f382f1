"""Pair lists from CSV/BTS files and folders, and loading one pair at its original size."""

import numpy as np
import pytest
from PIL import Image

from msdepth.data.pairs import (
    PairSpec,
    list_pairs_csv,
    list_pairs_folder,
    load_pair,
    match_folder,
    pair_key,
)
from msdepth.errors import DataError


def _pair(folder, stem_rgb, stem_depth, size=(8, 6), mm=1500):
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    Image.new("RGB", (w, h), (10, 20, 30)).save(folder / f"{stem_rgb}.png")
    Image.fromarray(np.full((h, w), mm, np.uint16)).save(folder / f"{stem_depth}.png")


def test_csv_paths_are_relative_to_its_folder_and_header_is_tolerated(tmp_path):
    (tmp_path / "list.csv").write_text("rgb_path,depth_path\na/1.jpg,b/1.png\n\na/2.jpg,b/2.png\n")
    pairs = list_pairs_csv(tmp_path / "list.csv")
    assert [p.rgb for p in pairs] == [tmp_path / "a/1.jpg", tmp_path / "a/2.jpg"]
    assert pairs[1].depth == tmp_path / "b/2.png"
    assert pairs[1].where == "list.csv line 4"


def test_bts_list_with_focal_and_leading_slash(tmp_path):
    (tmp_path / "nyu_test.txt").write_text(
        "/kitchen/rgb_00045.jpg /kitchen/sync_depth_00045.png 518.8579\n"
    )
    (pair,) = list_pairs_csv(tmp_path / "nyu_test.txt")
    assert pair.rgb == tmp_path / "kitchen/rgb_00045.jpg"
    assert pair.depth == tmp_path / "kitchen/sync_depth_00045.png"


def test_root_replaces_the_csv_folder(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data/train.csv").write_text("data/x/1.jpg,data/x/1.png\n")
    (pair,) = list_pairs_csv(tmp_path / "data/train.csv", root=tmp_path)
    assert pair.rgb == tmp_path / "data/x/1.jpg"


def test_bad_csv_line_names_file_and_line(tmp_path):
    (tmp_path / "list.csv").write_text("a.jpg,a.png\nb.jpg\n")
    with pytest.raises(DataError, match=r"list\.csv line 2: .*got one field"):
        list_pairs_csv(tmp_path / "list.csv")
    (tmp_path / "list.csv").write_text("a.jpg,a.png\nb.jpg,b.png,c.png\n")
    with pytest.raises(DataError, match=r"list\.csv line 2: .*3 fields"):
        list_pairs_csv(tmp_path / "list.csv")


def test_bad_lines_are_collected_when_asked(tmp_path):
    (tmp_path / "list.csv").write_text("a.jpg,a.png\nb.jpg,\nc.jpg,c.png\n")
    bad: list[tuple[str, str]] = []
    pairs = list_pairs_csv(tmp_path / "list.csv", bad_lines=bad)
    assert [p.rgb.name for p in pairs] == ["a.jpg", "c.jpg"]
    assert bad == [("list.csv line 2", "an empty path")]


def test_paths_escaping_the_folder_are_refused_unless_allowed(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d/list.csv").write_text("../x.jpg,y.png\n")
    with pytest.raises(DataError, match="outside"):
        list_pairs_csv(tmp_path / "d/list.csv")
    (pair,) = list_pairs_csv(tmp_path / "d/list.csv", allow_outside_root=True)
    assert pair.rgb.resolve() == (tmp_path / "x.jpg").resolve()


def test_missing_or_empty_csv_is_an_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        list_pairs_csv(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("# nothing\n")
    with pytest.raises(DataError, match="lists no pairs"):
        list_pairs_csv(tmp_path / "empty.csv")


@pytest.mark.parametrize(
    ("stem", "key", "is_depth"),
    [
        ("00001_colors", "00001", False),
        ("00001_depth", "00001", True),
        ("rgb_00045", "00045", False),
        ("sync_depth_00045", "00045", True),
        ("SUN_color", "SUN", False),
        ("1_depth", "1", True),
        ("0000000005", "0000000005", False),
        ("rgb", "rgb", False),
    ],
)
def test_pair_key_strips_one_role_marker(stem, key, is_depth):
    assert pair_key(stem) == (key, is_depth)


def test_folder_pairs_in_separate_folders_in_natural_order(tmp_path):
    (tmp_path / "depth").mkdir()
    for i in (10, 2, 1):
        _pair(tmp_path / "rgb", f"rgb_{i}", f"../depth/sync_depth_{i}")
    pairs = list_pairs_folder(tmp_path / "rgb", tmp_path / "depth")
    assert [p.rgb.name for p in pairs] == ["rgb_1.png", "rgb_2.png", "rgb_10.png"]
    assert pairs[2].depth.name == "sync_depth_10.png"


def test_one_folder_with_colors_and_depth_suffixes(tmp_path):
    _pair(tmp_path, "00000_colors", "00000_depth")
    _pair(tmp_path, "1", "1_depth")
    pairs = list_pairs_folder(tmp_path, tmp_path)
    assert [(p.rgb.name, p.depth.name) for p in pairs] == [
        ("00000_colors.png", "00000_depth.png"),
        ("1.png", "1_depth.png"),
    ]


def test_file_without_partner_is_an_error_unless_not_strict(tmp_path):
    _pair(tmp_path, "a_rgb", "a_depth")
    Image.new("RGB", (8, 6)).save(tmp_path / "b_rgb.png")
    with pytest.raises(DataError, match=r"b_rgb\.png has no partner"):
        list_pairs_folder(tmp_path, tmp_path)
    assert len(list_pairs_folder(tmp_path, tmp_path, strict=False)) == 1
    assert [p.name for p in match_folder(tmp_path, tmp_path)[1]] == ["b_rgb.png"]


def test_load_pair_keeps_original_size_and_metres(tmp_path):
    _pair(tmp_path, "a", "a_depth", size=(10, 7), mm=2500)
    s = load_pair(PairSpec(tmp_path / "a.png", tmp_path / "a_depth.png", "t"))
    assert s.rgb.shape == (7, 10, 3) and s.rgb.dtype == np.uint8
    assert s.depth.shape == (7, 10) and np.allclose(s.depth, 2.5) and s.mask.all()


def test_load_pair_refuses_different_sizes_naming_both_files(tmp_path):
    Image.new("RGB", (8, 6)).save(tmp_path / "a.png")
    Image.fromarray(np.ones((5, 8), np.uint16)).save(tmp_path / "a_depth.png")
    spec = PairSpec(tmp_path / "a.png", tmp_path / "a_depth.png", "list.csv line 3")
    with pytest.raises(
        DataError, match=r"list\.csv line 3: RGB .*a\.png is 8x6 but depth .*a_depth\.png is 8x5"
    ):
        load_pair(spec)


def test_load_pair_refuses_all_invalid_depth(tmp_path):
    _pair(tmp_path, "a", "a_depth", mm=0)
    with pytest.raises(DataError, match="no valid pixel"):
        load_pair(PairSpec(tmp_path / "a.png", tmp_path / "a_depth.png", "t"))


def test_load_pair_prefixes_errors_with_where(tmp_path):
    spec = PairSpec(tmp_path / "gone.jpg", tmp_path / "gone.png", "list.csv line 9")
    with pytest.raises(DataError, match=r"^list\.csv line 9: image .*gone\.jpg does not exist"):
        load_pair(spec)


def test_real_nyu_test_csv_and_folder_agree(shared_data):
    root = shared_data / "nyu-test"
    from_csv = list_pairs_csv(root / "nyu2_test.csv")
    from_folder = list_pairs_folder(root / "nyu2_test", root / "nyu2_test")
    assert len(from_csv) == 20
    assert sorted((p.rgb, p.depth) for p in from_csv) == sorted(
        (p.rgb, p.depth) for p in from_folder
    )

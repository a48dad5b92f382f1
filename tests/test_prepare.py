"""`msdepth prepare`: sources into metric, atomic, validated datasets."""

import json
import re

import h5py
import numpy as np
import pytest
import scipy.io
from PIL import Image

from msdepth.cli.main import main
from msdepth.data import open_dataset
from msdepth.data.prepare import read_nyu_splits
from msdepth.errors import DataError


def prepare(*args):
    return main(["prepare", *map(str, args), "--no-progress"])


def _pairs_folder(folder, n=3, size=(16, 12)):
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    for i in range(n):
        Image.new("RGB", (w, h), (i * 40, 20, 30)).save(folder / f"{i:05d}_colors.png")
        depth = np.full((h, w), 1000 + 500 * i, np.uint16)
        Image.fromarray(depth).save(folder / f"{i:05d}_depth.png")
    (folder / "list.csv").write_text(
        "".join(f"{i:05d}_colors.png,{i:05d}_depth.png\n" for i in range(n))
    )
    return folder


# ---- real samples ----------------------------------------------------------------------------


def test_real_nyu_test_images_keep_metric_depth_at_half_size(shared_data, tmp_path):
    root = shared_data / "nyu-test"
    assert prepare("csv", "--csv", root / "nyu2_test.csv", "--out", tmp_path / "ds") == 0
    ds = open_dataset(tmp_path / "ds")  # the only split: test
    assert ds.split == "test" and len(ds) == 20 and ds.image_size == (320, 240)
    for i in (0, 19):
        name = ds.names[i]
        png = np.asarray(Image.open(root / "nyu2_test" / name.replace("colors", "depth")))
        assert png.shape == (480, 640)
        expected = png[1::2, 1::2].astype(np.float32) / 1000  # the block centre, no blending
        assert np.allclose(ds[i].depth, expected, rtol=2**-11, atol=0)
        rgb = Image.open(root / "nyu2_test" / name).convert("RGB")
        assert np.array_equal(ds[i].rgb, np.asarray(rgb.resize((320, 240), Image.BOX)))


@pytest.mark.parametrize(
    ("folder", "rgb", "depth", "fmt"),
    [
        ("nyu-raw-sync", "rgb", "depth", "nyu"),
        ("kitti-annotated", "rgb", "depth", "kitti"),
        ("nyu-raw-pgm", "color", "depth", "pgm"),
        ("tum", ".", ".", "tum"),
        ("sun", ".", ".", "sun"),
        ("nyu-raw-unregistered", ".", ".", "nyu-raw"),
        ("kinect2", ".", ".", "kinect2"),
    ],
)
def test_every_real_format_prepares(shared_data, tmp_path, folder, rgb, depth, fmt):
    base = shared_data / "formats" / folder
    out = tmp_path / "ds"
    assert (
        prepare("folder", "--rgb", base / rgb, "--depth", base / depth, "--depth-format", fmt,
                "--out", out)
        == 0
    )  # fmt: skip
    ds = open_dataset(out)
    src_w, src_h = json.loads((out / "meta.json").read_text())["source_size"]
    assert ds.image_size == (src_w // 2, src_h // 2)
    s = ds[0]
    assert s.mask.mean() > 0.1 and 0.3 < np.median(s.depth[s.mask]) < 40


def test_real_official_splits_are_795_and_654_disjoint(shared_data):
    splits = read_nyu_splits(shared_data / "nyu-splits" / "splits.mat")
    assert len(splits["train"]) == 795 and len(splits["test"]) == 654
    both = np.concatenate([splits["train"], splits["test"]])
    assert np.array_equal(np.sort(both), np.arange(1449))  # 0-based after reading, disjoint


# ---- the NYU labelled .mat (a small synthetic one in the real layout) ------------------------


def _nyu_mat(path, n=6, w=32, h=24, keys=("images", "depths", "rawDepths")):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (n, h, w, 3), dtype=np.uint8)
    depth = rng.uniform(0.5, 9.0, (n, h, w)).astype(np.float32)
    raw = depth.copy()
    raw[:, :4, :6] = 0  # whole 2x2 blocks without a reading stay invalid when halved
    with h5py.File(path, "w") as f:
        data = {
            "images": rgb.transpose(0, 3, 2, 1),  # (N, 3, W, H) as MATLAB writes it
            "depths": depth.transpose(0, 2, 1),  # (N, W, H)
            "rawDepths": raw.transpose(0, 2, 1),
        }
        for k in keys:
            f.create_dataset(k, data=data[k])
    return rgb, depth, raw


def _splits(path, train=(1, 3, 5), test=(2, 4, 6)):
    scipy.io.savemat(
        path,
        {"trainNdxs": np.array(train, float)[:, None], "testNdxs": np.array(test, float)[:, None]},
    )
    return path


def test_nyu_mat_is_transposed_split_and_halved(tmp_path):
    rgb, depth, raw = _nyu_mat(tmp_path / "nyu.mat")
    args = ["nyu-mat", "--mat", tmp_path / "nyu.mat", "--splits", _splits(tmp_path / "s.mat")]
    assert prepare(*args, "--out", tmp_path / "ds", "--raw-depth", "--depth-dtype", "float32") == 0
    train, test = open_dataset(tmp_path / "ds", "train"), open_dataset(tmp_path / "ds", "test")
    assert len(train) == 3 and len(test) == 3 and train.image_size == (16, 12)
    assert test.names == ["nyu00001", "nyu00003", "nyu00005"]  # 1-based 2, 4, 6
    assert np.array_equal(train[1].depth, depth[2][1::2, 1::2])
    assert np.array_equal(test.raw_depth()[0], raw[1][1::2, 1::2])
    block = rgb[2][:2, :2].reshape(-1, 3).mean(0)  # BOX filter = the 2x2 block's mean
    assert np.allclose(train[1].rgb[0, 0], block, atol=1)
    meta = train.meta
    assert meta["intrinsics"]["fx"] == pytest.approx(518.8579 * 16 / 640)


def test_nyu_mat_without_depths_names_file_and_key(tmp_path):
    _nyu_mat(tmp_path / "nyu.mat", keys=("images",))
    with pytest.raises(DataError, match=r"nyu\.mat has no 'depths'"):
        from msdepth.data.prepare import PrepareOptions, prepare_nyu_mat

        prepare_nyu_mat(tmp_path / "nyu.mat", _splits(tmp_path / "s.mat"), tmp_path / "ds",
                        PrepareOptions())  # fmt: skip
    assert not (tmp_path / "ds").exists()


def test_nyu_mat_all_invalid_depth_stops_or_is_skipped(tmp_path, capsys):
    _nyu_mat(tmp_path / "nyu.mat")
    with h5py.File(tmp_path / "nyu.mat", "a") as f:
        f["depths"][2] = 0  # image 3, in train
    args = ["nyu-mat", "--mat", tmp_path / "nyu.mat", "--splits", _splits(tmp_path / "s.mat")]
    assert prepare(*args, "--out", tmp_path / "ds") == 2
    assert "image 3: depth has no valid pixel" in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()
    assert prepare(*args, "--out", tmp_path / "ds", "--skip-bad") == 0
    meta = json.loads((tmp_path / "ds" / "meta.json").read_text())
    assert meta["splits"]["train"]["count"] == 2 and meta["splits"]["train"]["skipped"] == 1


# ---- csv / folder sources --------------------------------------------------------------------


def test_folder_and_csv_give_the_same_dataset(tmp_path):
    src = _pairs_folder(tmp_path / "src")
    assert prepare("folder", "--rgb", src, "--depth", src, "--out", tmp_path / "a") == 0
    assert prepare("csv", "--csv", src / "list.csv", "--out", tmp_path / "b", "--workers", 2) == 0
    a, b = open_dataset(tmp_path / "a"), open_dataset(tmp_path / "b")
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth, b.depth)
    assert np.allclose(a[2].depth, 2.0)


def test_split_size_and_intrinsics_options(tmp_path):
    src = _pairs_folder(tmp_path / "src")
    assert prepare("folder", "--rgb", src, "--depth", src, "--out", tmp_path / "ds",
                   "--split", "val", "--size", "8x4", "--fx", 10, "--fy", 12, "--cx", 7.5,
                   "--cy", 5.5) == 0  # fmt: skip
    ds = open_dataset(tmp_path / "ds", "val")
    assert ds.image_size == (8, 4)
    assert ds.intrinsics == {"fx": 5.0, "fy": 4.0, "cx": 3.5, "cy": 1.5}


def test_keep_size_stores_the_source_resolution(tmp_path):
    src = _pairs_folder(tmp_path / "src")
    assert (
        prepare("folder", "--rgb", src, "--depth", src, "--out", tmp_path / "ds", "--keep-size")
        == 0
    )
    assert open_dataset(tmp_path / "ds").image_size == (16, 12)


def test_depth_scale_replaces_the_divisor(tmp_path):
    src = _pairs_folder(tmp_path / "src", n=1)
    assert (
        prepare("csv", "--csv", src / "list.csv", "--out", tmp_path / "ds", "--depth-scale", 100)
        == 0
    )
    assert np.allclose(open_dataset(tmp_path / "ds")[0].depth, 10.0)


# ---- bad input -------------------------------------------------------------------------------


def _break(src, how):
    if how == "missing":
        (src / "00001_colors.png").unlink()
    elif how == "truncated":
        noisy = np.random.default_rng(0).integers(500, 9000, (12, 16)).astype(np.uint16)
        Image.fromarray(noisy).save(src / "00001_depth.png")  # cut inside the pixel data
        data = (src / "00001_depth.png").read_bytes()
        (src / "00001_depth.png").write_bytes(data[: len(data) // 2])
    elif how == "sizes":
        Image.new("RGB", (10, 10)).save(src / "00001_colors.png")
    elif how == "invalid":
        Image.fromarray(np.zeros((12, 16), np.uint16)).save(src / "00001_depth.png")


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("missing", r"list\.csv line 2: image .*00001_colors\.png does not exist"),
        ("truncated", r"list\.csv line 2: depth .*00001_depth\.png is corrupt or truncated"),
        ("sizes", r"list\.csv line 2: RGB .*00001_colors\.png is 10x10 but depth"),
        ("invalid", r"list\.csv line 2: depth .*00001_depth\.png has no valid pixel"),
    ],
)
def test_bad_pair_stops_with_file_and_line_and_writes_nothing(tmp_path, capsys, how, message):
    src = _pairs_folder(tmp_path / "src")
    _break(src, how)
    assert prepare("csv", "--csv", src / "list.csv", "--out", tmp_path / "ds") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.search(message, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_skip_bad_skips_and_counts_in_meta(tmp_path):
    src = _pairs_folder(tmp_path / "src", n=4)
    _break(src, "truncated")
    (src / "list.csv").write_text((src / "list.csv").read_text() + "only_one_field.png\n")
    assert prepare("csv", "--csv", src / "list.csv", "--out", tmp_path / "ds", "--skip-bad") == 0
    split = json.loads((tmp_path / "ds" / "meta.json").read_text())["splits"]["test"]
    assert split["count"] == 3 and split["skipped"] == 2
    assert [s["name"] for s in split["skipped_files"]] == ["list.csv line 5", "list.csv line 2"]


def test_folder_skip_bad_lists_files_without_partner(tmp_path):
    src = _pairs_folder(tmp_path / "src")
    (src / "00002_depth.png").unlink()
    assert prepare("folder", "--rgb", src, "--depth", src, "--out", tmp_path / "ds") == 2
    assert (
        prepare("folder", "--rgb", src, "--depth", src, "--out", tmp_path / "ds", "--skip-bad") == 0
    )
    split = open_dataset(tmp_path / "ds").meta["splits"]["test"]
    assert split["count"] == 2 and split["skipped_files"][0]["name"].endswith("00002_colors.png")


def test_rerun_needs_overwrite_and_a_failed_rerun_keeps_the_old_dataset(tmp_path):
    src = _pairs_folder(tmp_path / "src")
    args = ["csv", "--csv", src / "list.csv", "--out", tmp_path / "ds"]
    assert prepare(*args) == 0
    before = (tmp_path / "ds" / "depth.npy").exists(), open_dataset(tmp_path / "ds").depth.copy()
    assert prepare(*args) == 2  # exists, no --overwrite
    _break(src, "truncated")
    assert prepare(*args, "--overwrite") == 2  # fails mid-way
    assert np.array_equal(open_dataset(tmp_path / "ds").depth, before[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "src"]
    assert prepare(*args, "--overwrite", "--skip-bad") == 0
    assert len(open_dataset(tmp_path / "ds")) == 2


def test_a_folder_that_is_not_a_dataset_is_never_replaced(tmp_path, capsys):
    src = _pairs_folder(tmp_path / "src")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert prepare("csv", "--csv", src / "list.csv", "--out", tmp_path / "mine", "--overwrite") == 2
    assert "is not a prepared dataset" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"

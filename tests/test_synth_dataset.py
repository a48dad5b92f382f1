"""Synthetic datasets on disk: the prepared format, determinism across workers, the commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from msdepth.cli.main import main
from msdepth.data import open_dataset, read_meta
from msdepth.errors import ConfigError, DataError
from msdepth.synth import synthesize_dataset

SMALL = (64, 48)


def test_dataset_opens_with_meta_intrinsics_and_counts(tmp_path):
    out = synthesize_dataset(
        tmp_path / "s", train=5, test=3, seed=4, size=SMALL, progress=False, workers=1
    )
    meta = read_meta(out)
    assert meta["image_size"] == [64, 48]
    assert meta["source"]["kind"] == "synthetic" and meta["source"]["seed"] == 4
    assert meta["intrinsics"]["fx"] == pytest.approx(518.8579 * 64 / 640)
    assert meta["intrinsics"]["cy"] == pytest.approx(253.7362 * 48 / 480)
    train, test = open_dataset(out, "train"), open_dataset(out, "test")
    assert (len(train), len(test)) == (5, 3)
    sample = test[2]
    assert sample.rgb.shape == (48, 64, 3) and sample.depth.shape == (48, 64)
    assert sample.mask.mean() > 0.3
    assert sample.depth[sample.mask].min() >= 0.5 and sample.depth.max() <= 10.1


def test_dataset_is_identical_for_any_worker_count(tmp_path):
    kwargs = dict(train=20, test=2, seed=9, size=SMALL, progress=False)  # 2 chunks of train
    one = synthesize_dataset(tmp_path / "one", workers=1, **kwargs)
    two = synthesize_dataset(tmp_path / "two", workers=2, **kwargs)
    for split in ("train", "test"):
        for name in ("rgb.npy", "depth.npy"):
            assert np.array_equal(np.load(one / split / name), np.load(two / split / name))
        # workers write their frames into the files themselves and report statistics only
        assert (one / split / "names.json").read_text() == (two / split / "names.json").read_text()
    assert read_meta(one)["splits"] == read_meta(two)["splits"]


def test_test_split_does_not_depend_on_the_train_count(tmp_path):
    a = synthesize_dataset(tmp_path / "a", train=1, test=2, seed=1, size=SMALL, progress=False)
    b = synthesize_dataset(tmp_path / "b", train=3, test=2, seed=1, size=SMALL, progress=False)
    assert np.array_equal(np.load(a / "test" / "rgb.npy"), np.load(b / "test" / "rgb.npy"))


@pytest.mark.parametrize(
    "kwargs",
    [dict(train=-1, test=2), dict(train=0, test=0), dict(train=1, test=1, size=(8, 8))],
)
def test_bad_requests_are_config_errors(tmp_path, kwargs):
    with pytest.raises(ConfigError):
        synthesize_dataset(tmp_path / "x", progress=False, **kwargs)


def test_existing_output_needs_overwrite(tmp_path):
    synthesize_dataset(tmp_path / "s", train=1, test=0, size=SMALL, progress=False)
    with pytest.raises(DataError, match="--overwrite"):
        synthesize_dataset(tmp_path / "s", train=1, test=0, size=SMALL, progress=False)
    synthesize_dataset(tmp_path / "s", train=2, test=0, size=SMALL, progress=False, overwrite=True)
    assert len(open_dataset(tmp_path / "s")) == 2


def test_synth_command_writes_dataset_and_contact_sheet(tmp_path, capsys):
    out, sheet = tmp_path / "demo", tmp_path / "sheet.png"
    args = ["synth", "--out", str(out), "--train", "3", "--test", "2", "--size", "64x48"]
    code = main([*args, "--seed", "2", "--workers", "1", "--quiet", "--contact-sheet", str(sheet)])
    assert code == 0
    assert len(open_dataset(out, "test")) == 2
    # 2 test samples on one row: two RGB | depth pairs of 160x120 tiles with a 6 px gap
    assert Image.open(sheet).size == (2 * 320 + 6, 120)
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--size", "320by240"], "WIDTHxHEIGHT"),
        (["--train", "-3"], ">= 0"),
        (["--workers", "0"], "--workers"),
    ],
)
def test_synth_command_bad_arguments_are_one_line_errors(tmp_path, capsys, extra, message):
    code = main(["synth", "--out", str(tmp_path / "x"), "--test", "1", "--quiet", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_synth_command_refuses_existing_output(tmp_path, capsys):
    args = ["synth", "--out", str(tmp_path / "x"), "--train", "1", "--test", "0", "--quiet"]
    assert main([*args, "--size", "64x48"]) == 0
    assert main([*args, "--size", "64x48"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_show_command_lays_out_rgb_depth_pairs(tmp_path, tiny_dataset):
    data = tiny_dataset
    sheet = tmp_path / "sheet.png"
    args = ["show", str(data), "--out", str(sheet), "--count", "5", "--columns", "2"]
    assert main([*args, "--tile", "40x30", "--split", "train"]) == 0
    image = np.asarray(Image.open(sheet))
    # 3 rows (2 + 2 + 1 pairs), each pair 2 tiles of 40x30; 6 px gaps between pairs and rows
    assert image.shape == (3 * 30 + 2 * 6, 2 * 80 + 6, 3)
    assert (image[-30:, 80:] == 255).all()  # the missing 6th pair is left white


def test_show_command_defaults_to_the_test_split(tmp_path, tiny_dataset):
    # the fixture has 8 train and 4 test samples: one row of 4 pairs means the test split
    assert main(["show", str(tiny_dataset), "--out", str(tmp_path / "s.png")]) == 0
    assert Image.open(tmp_path / "s.png").size == (4 * 320 + 3 * 6, 120)


def test_show_command_on_a_missing_dataset_is_a_one_line_error(tmp_path, capsys):
    assert main(["show", str(tmp_path / "nope"), "--out", str(tmp_path / "s.png")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_contact_sheet_of_a_synthetic_dataset_is_a_real_image(tmp_path: Path):
    from msdepth.data.contact_sheet import contact_sheet

    out = synthesize_dataset(tmp_path / "s", train=0, test=4, size=SMALL, progress=False)
    sheet = contact_sheet(out, split="test", count=4, tile=(64, 48), columns=4)
    assert sheet.shape == (48, 4 * 128 + 3 * 6, 3)
    assert sheet.std() > 10

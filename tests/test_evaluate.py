"""`msdepth evaluate`: the protocol's crop, range, averaging and sources, and its report."""

import json

import numpy as np
import pytest
from PIL import Image

import msdepth
from fake_models import constant_checkpoint, random_checkpoint
from msdepth.cli.main import main
from msdepth.data.prepared import DatasetWriter
from msdepth.errors import DataError
from msdepth.evaluation import EvalSample, EvalSettings, evaluate, open_samples

# A constant model predicting log(2) gives 2 * 96/320 = 0.6 m on whole frames (SMALL geometry).
PREDICTED = 2.0 * 96 / 320


@pytest.fixture
def constant_model(tmp_path):
    return msdepth.load(constant_checkpoint(tmp_path / "c.safetensors", 2.0))


def flat_sample(depth, name="s", size=(480, 640)):
    rgb = np.full((*size, 3), 128, dtype=np.uint8)
    return EvalSample(name, rgb, np.asarray(depth, dtype=np.float32))


def test_a_model_that_predicts_the_ground_truth_scores_perfectly(constant_model):
    result = evaluate(constant_model, [flat_sample(np.full((480, 640), PREDICTED))])
    assert result.metrics["delta1"] == 1.0
    assert result.metrics["abs_rel"] == pytest.approx(0.0, abs=1e-6)
    assert result.metrics["rmse"] == pytest.approx(0.0, abs=1e-6)


def test_only_pixels_inside_the_eigen_crop_count(constant_model):
    gt = np.full((480, 640), 5.0)
    gt[45:471, 41:601] = PREDICTED  # right inside the crop, wrong outside it
    sample = flat_sample(gt)
    assert evaluate(constant_model, [sample]).metrics["delta1"] == 1.0
    uncropped = evaluate(constant_model, [sample], EvalSettings(crop="none")).metrics
    assert uncropped["delta1"] == pytest.approx((426 * 560) / (480 * 640))


def test_ground_truth_outside_min_and_max_depth_is_ignored(constant_model):
    gt = np.full((480, 640), PREDICTED)
    gt[:, :320] = 12.0  # beyond 10 m
    gt[0:100, 320:] = 0.0  # missing
    assert evaluate(constant_model, [flat_sample(gt)]).metrics["abs_rel"] == pytest.approx(
        0.0, abs=1e-6
    )
    far = evaluate(constant_model, [flat_sample(gt)], EvalSettings(max_depth=80.0)).metrics
    assert far["abs_rel"] > 0.5


def test_metrics_are_averaged_per_image_not_pooled(constant_model):
    small = flat_sample(np.full((48, 64), PREDICTED), "exact", size=(48, 64))
    large = flat_sample(np.full((480, 640), 2 * PREDICTED), "double")  # abs_rel 0.5
    result = evaluate(constant_model, [small, large], EvalSettings(crop="none"))
    assert result.metrics["abs_rel"] == pytest.approx(0.25, rel=1e-5)
    assert result.pooled["abs_rel"] == pytest.approx(
        0.5 * 480 * 640 / (480 * 640 + 48 * 64), rel=1e-5
    )
    assert [row["name"] for row in result.per_image] == ["exact", "double"]


def test_median_scaling_removes_a_global_scale_error(constant_model):
    sample = flat_sample(np.full((480, 640), 3 * PREDICTED))
    settings = EvalSettings(median_scaling=True)
    assert evaluate(constant_model, [sample], settings).metrics["abs_rel"] == pytest.approx(
        0.0, abs=1e-6
    )


def test_prediction_is_upsampled_to_the_ground_truth_resolution(constant_model):
    rgb = np.full((60, 80, 3), 128, dtype=np.uint8)
    sample = EvalSample("s", rgb, np.full((480, 640), PREDICTED, dtype=np.float32))
    assert evaluate(constant_model, [sample]).metrics["delta1"] == 1.0


def test_no_valid_pixel_anywhere_is_a_clear_error(constant_model):
    with pytest.raises(DataError, match="no image had a valid ground-truth pixel"):
        evaluate(constant_model, [flat_sample(np.zeros((480, 640)))])


def write_pairs(folder, n=3, size=(64, 48), depth_m=PREDICTED):
    folder.mkdir(parents=True)
    for i in range(n):
        w, h = size
        Image.fromarray(np.full((h, w, 3), 90 + i, np.uint8)).save(folder / f"{i:03d}_colors.png")
        mm = np.full((h, w), round(depth_m * 1000), np.uint16)
        Image.fromarray(mm).save(folder / f"{i:03d}_depth.png")
    return folder


def test_a_folder_of_pairs_is_evaluated_at_original_resolution_without_preparing(tmp_path):
    source = open_samples(write_pairs(tmp_path / "pairs"))
    assert source.kind == "folder" and len(source) == 3
    samples = list(source)
    assert samples[0].name == "000_colors" and samples[0].depth.shape == (48, 64)
    assert samples[0].depth[0, 0] == pytest.approx(0.6)


def test_a_csv_of_pairs_with_a_depth_scale(tmp_path):
    write_pairs(tmp_path / "pairs", n=2)
    (tmp_path / "list.csv").write_text(
        "pairs/000_colors.png,pairs/000_depth.png\npairs/001_colors.png,pairs/001_depth.png\n"
    )
    source = open_samples(tmp_path / "list.csv", depth_scale=100.0)
    assert source.kind == "csv" and len(source) == 2
    assert next(iter(source)).depth[0, 0] == pytest.approx(6.0)


def write_prepared(path, depth_m):
    with DatasetWriter(path, image_size=(320, 240), source={"kind": "test"}) as writer:
        for split in ("train", "test"):
            sw = writer.split(split, 2)
            for i in range(2):
                rgb = np.full((240, 320, 3), 100 + i, np.uint8)
                sw.append(rgb, np.full((240, 320), depth_m, np.float32), f"{split}-{i}")
    return path


def test_prepared_datasets_default_to_the_test_split_at_stored_resolution(tmp_path):
    source = open_samples(write_prepared(tmp_path / "ds", PREDICTED))
    assert source.kind == "prepared" and source.resolution.startswith("stored 320x240")
    assert [s.name for s in source] == ["test-0", "test-1"]


def test_cli_prints_the_paper_table_and_writes_the_json_report(tmp_path, capsys):
    ckpt = constant_checkpoint(tmp_path / "c.safetensors", 2.0)
    data = write_prepared(tmp_path / "ds", PREDICTED)
    report = tmp_path / "r.json"
    code = main(["evaluate", "--quiet", "--checkpoint", str(ckpt), "--data", str(data),
                 "--json", str(report), "--flip-tta", "--pooled"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    header = out.splitlines()[2 if "note:" in out else 1].split()
    assert header == ["d1", "d2", "d3", "abs_rel", "sq_rel", "rmse", "rmse_log", "si_log"]
    assert "paper NYU coarse " in out and "paper NYU coarse+fine" in out
    assert "0.611    0.887    0.971    0.215" in out
    assert "stored 320x240" in out and "pixel-pooled" in out
    data_json = json.loads(report.read_text())
    assert data_json["metrics"]["delta1"] == 1.0
    assert data_json["settings"]["flip_tta"] is True
    assert data_json["settings"]["crop"] == "eigen" and data_json["settings"]["max_depth"] == 10.0
    assert data_json["settings"]["source"] == "prepared"
    assert len(data_json["per_image"]) == 2


def test_kitti_flag_switches_to_the_garg_crop_80_metres_and_the_kitti_row(tmp_path, capsys):
    ckpt = random_checkpoint(tmp_path / "m.safetensors")
    data = write_prepared(tmp_path / "ds", 30.0)
    report = tmp_path / "r.json"
    code = main(["evaluate", "--quiet", "--checkpoint", str(ckpt), "--data", str(data),
                 "--kitti", "--json", str(report)])  # fmt: skip
    assert code == 0
    assert "paper KITTI coarse+fine" in capsys.readouterr().out
    settings = json.loads(report.read_text())["settings"]
    assert settings["crop"] == "garg" and settings["max_depth"] == 80.0


def test_missing_data_is_a_one_line_error(tmp_path, capsys):
    ckpt = random_checkpoint(tmp_path / "m.safetensors")
    code = main(["evaluate", "--checkpoint", str(ckpt), "--data", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert code == 2 and "does not exist" in err and err.count("\n") == 1


def test_rgb_and_depth_subfolders_are_paired_by_name(tmp_path):
    write_pairs(tmp_path / "flat", n=2)
    (tmp_path / "ds" / "rgb").mkdir(parents=True)
    (tmp_path / "ds" / "depth").mkdir()
    for i in range(2):
        (tmp_path / "flat" / f"{i:03d}_colors.png").rename(tmp_path / "ds" / "rgb" / f"{i}.png")
        (tmp_path / "flat" / f"{i:03d}_depth.png").rename(tmp_path / "ds" / "depth" / f"{i}.png")
    source = open_samples(tmp_path / "ds")
    assert source.kind == "folder" and [s.name for s in source] == ["0", "1"]


def test_a_depth_scale_for_a_prepared_dataset_is_refused(tmp_path):
    with pytest.raises(DataError, match="drop --depth-dir/--depth-scale"):
        open_samples(write_prepared(tmp_path / "ds", 1.0), depth_scale=1000.0)

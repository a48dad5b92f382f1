"""Alignment to known distances: scale (median of ratios) and scale-shift in inverse depth."""

import numpy as np
import pytest
from PIL import Image

from msdepth.errors import DataError
from msdepth.inference.align import DepthPoints, fit_alignment, read_points


def points_of(depth, n=60, seed=0, source="test"):
    rng = np.random.default_rng(seed)
    h, w = depth.shape
    u, v = rng.integers(0, w, n), rng.integers(0, h, n)
    return DepthPoints(u, v, depth[v, u].astype(np.float64), source)


@pytest.fixture
def scene():
    rng = np.random.default_rng(1)
    return rng.uniform(1.0, 6.0, (40, 50))


def test_scale_alignment_recovers_a_wrong_scale_and_reports_held_out_error(scene):
    fit = fit_alignment(scene / 1.7, points_of(scene))
    assert fit.mode == "scale" and fit.scale == pytest.approx(1.7)
    assert fit.held_out == 12 and fit.fit_points == 48  # one point in five held out
    assert fit.before["held_out_abs_rel"] == pytest.approx(1 - 1 / 1.7)
    assert fit.after["held_out_abs_rel"] == pytest.approx(0, abs=1e-6)
    np.testing.assert_allclose(fit.apply(scene / 1.7), scene, rtol=1e-6)


def test_scale_alignment_is_robust_to_a_few_wrong_points(scene):
    points = points_of(scene)
    wrong = points.depth.copy()
    wrong[:10] *= 5  # a sixth of the points measured wrong
    fit = fit_alignment(scene * 2, DepthPoints(points.u, points.v, wrong, "t"))
    assert fit.scale == pytest.approx(0.5)


def test_scale_shift_recovers_an_affine_error_in_inverse_depth_and_rejects_outliers(scene):
    wrong = 1.0 / (0.6 / scene + 0.1)  # what a relative-depth model is off by
    points = points_of(scene, n=100)
    measured = points.depth.copy()
    measured[:5] = 50.0  # outliers
    fit = fit_alignment(wrong, DepthPoints(points.u, points.v, measured, "t"), "scale-shift")
    assert fit.rejected >= 4
    np.testing.assert_allclose(fit.apply(wrong), scene, rtol=1e-6)


def test_a_csv_of_points_reads_with_or_without_a_header(tmp_path):
    (tmp_path / "p.csv").write_text("u,v,depth_m\n0,0,1.5\n49.4,39,2\n")
    points = read_points(tmp_path / "p.csv", 50, 40)
    assert points.u.tolist() == [0, 49] and points.v.tolist() == [0, 39]
    assert points.depth.tolist() == [1.5, 2.0]


def test_a_sparse_depth_image_gives_its_valid_pixels_as_points(tmp_path):
    mm = np.zeros((40, 50), np.uint16)
    mm[3, 7], mm[20, 30] = 1500, 2500
    Image.fromarray(mm).save(tmp_path / "lidar.png")
    points = read_points(tmp_path / "lidar.png", 50, 40, depth_format="nyu")
    assert sorted(
        zip(points.u.tolist(), points.v.tolist(), points.depth.tolist(), strict=True)
    ) == [
        (7, 3, 1.5),
        (30, 20, 2.5),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("50,3,1.0", r"p.csv line 2: point \(50, 3\) is outside the 50x40 image"),
        ("-1,3,1.0", r"outside the 50x40 image; u must be in 0..49"),
        ("3,3,nan", "depth nan is not a positive finite number"),
        ("3,3,inf", "depth inf is not a positive finite number"),
        ("3,3,-2", "depth -2 is not a positive finite number"),
        ("3,3", "expected three numbers"),
    ],
)
def test_bad_points_are_one_clear_line_naming_the_file_and_line(tmp_path, line, message):
    (tmp_path / "p.csv").write_text(f"1,1,1.0\n{line}\n")
    with pytest.raises(DataError, match=message):
        read_points(tmp_path / "p.csv", 50, 40)


def test_a_depth_image_of_another_size_is_refused(tmp_path):
    Image.fromarray(np.ones((10, 10), np.uint16)).save(tmp_path / "d.png")
    with pytest.raises(DataError, match="is 10x10, the input is 50x40"):
        read_points(tmp_path / "d.png", 50, 40)


@pytest.mark.parametrize(("mode", "enough"), [("scale", 2), ("scale-shift", 3)])
def test_fewer_points_than_the_fit_needs_is_a_clear_error(scene, mode, enough):
    fit_alignment(scene, points_of(scene, n=enough), mode)
    with pytest.raises(DataError, match=f"the {mode} fit needs at least {enough}"):
        fit_alignment(scene, points_of(scene, n=enough - 1), mode)

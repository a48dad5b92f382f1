"""The field's depth metrics, against values worked out by hand."""

import math

import numpy as np
import pytest
import torch

from msdepth.metrics import MetricAccumulator, crop_mask, depth_metrics, eigen_crop, garg_crop

GT = np.array([[1.0, 2.0], [4.0, 5.0]])
PRED = np.array([[2.0, 2.0], [3.0, 5.0]])


def test_hand_worked_values_for_a_2x2_image():
    m = depth_metrics(PRED, GT)
    # ratios max(p/g, g/p): 2, 1, 4/3, 1
    assert m["delta1"] == pytest.approx(0.5)
    assert m["delta2"] == pytest.approx(0.75)  # 4/3 < 1.5625
    assert m["delta3"] == pytest.approx(0.75)  # 2 > 1.953125
    assert m["abs_rel"] == pytest.approx((1 / 1 + 0 + 1 / 4 + 0) / 4)
    assert m["sq_rel"] == pytest.approx((1 / 1 + 0 + 1 / 4 + 0) / 4)
    assert m["rmse"] == pytest.approx(math.sqrt((1 + 0 + 1 + 0) / 4))
    d = np.log([2.0, 1.0, 0.75, 1.0])
    assert m["rmse_log"] == pytest.approx(math.sqrt((d**2).mean()))
    assert m["log10"] == pytest.approx(np.abs(np.log10([2.0, 1.0, 0.75, 1.0])).mean())
    assert m["silog"] == pytest.approx(100 * math.sqrt((d**2).mean() - d.mean() ** 2))


def test_perfect_prediction_has_zero_error():
    m = depth_metrics(GT, GT)
    assert m["delta1"] == 1.0
    for key in ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog"):
        assert m[key] == pytest.approx(0.0, abs=1e-12)


def test_invalid_ground_truth_and_mask_are_excluded():
    gt = np.array([[1.0, 0.0], [np.nan, 20.0]])  # 0, NaN and > 10 m are invalid
    pred = np.array([[2.0, 100.0], [100.0, 100.0]])
    assert depth_metrics(pred, gt)["abs_rel"] == pytest.approx(1.0)
    mask = np.array([[False, True], [True, True]])
    assert math.isnan(depth_metrics(pred, gt, mask=mask)["abs_rel"])


def test_predictions_are_clamped_to_the_depth_range():
    gt = np.array([[5.0]])
    assert depth_metrics(np.array([[50.0]]), gt)["rmse"] == pytest.approx(5.0)  # 50 -> 10
    assert depth_metrics(np.array([[-1.0]]), gt)["rmse"] == pytest.approx(5.0 - 1e-3)


def test_median_scaling_removes_a_global_scale():
    m = depth_metrics(GT * 3.0, GT, median_scaling=True)
    assert m["abs_rel"] == pytest.approx(0.0, abs=1e-12)


def test_accepts_torch_tensors():
    m = depth_metrics(torch.tensor(PRED), torch.tensor(GT))
    assert m["delta1"] == pytest.approx(0.5)


def test_accumulator_averages_per_image_or_pools_pixels():
    acc = MetricAccumulator()
    acc.update(np.array([[2.0]]), np.array([[1.0]]))  # abs rel 1
    acc.update(np.array([[1.0, 1.0, 1.0]]), np.array([[1.0, 1.0, 1.0]]))  # abs rel 0
    assert acc.compute()["abs_rel"] == pytest.approx(0.5)
    assert acc.compute(pooled=True)["abs_rel"] == pytest.approx(0.25)
    assert acc.compute(pooled=True)["rmse"] == pytest.approx(math.sqrt(1 / 4))


def test_accumulator_skips_images_without_valid_pixels():
    acc = MetricAccumulator()
    assert acc.update(np.array([[2.0]]), np.array([[0.0]])) is None
    acc.update(np.array([[2.0]]), np.array([[2.0]]))
    assert acc.skipped == 1 and len(acc) == 1
    assert acc.compute()["delta1"] == 1.0


def test_eigen_crop_on_nyu_480x640():
    mask = eigen_crop((480, 640))
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (45, 470, 41, 600)
    assert mask.sum() == (471 - 45) * (601 - 41)


def test_garg_crop_is_fractional():
    mask = garg_crop((375, 1242))
    rows, cols = np.nonzero(mask)
    assert rows.min() == int(0.40810811 * 375) and rows.max() == int(0.99189189 * 375) - 1
    assert cols.min() == int(0.03594771 * 1242) and cols.max() == int(0.96405229 * 1242) - 1


def test_unknown_crop_name_is_refused():
    assert crop_mask("none", (4, 4)) is None
    with pytest.raises(ValueError, match="unknown crop"):
        crop_mask("square", (4, 4))


# ---- flicker ------------------------------------------------------------------------------------


def test_flicker_is_the_mean_log_change_where_the_truth_stood_still():
    from msdepth.metrics import flicker

    gt0 = np.array([[2.0, 2.0], [3.0, 4.0]])
    gt1 = np.array([[2.0, 2.01], [3.3, 4.0]])  # +0.5 % counts, +10 % does not
    p0 = np.array([[2.0, 2.0], [3.0, 4.0]])
    p1 = np.array([[2.2, 1.9], [9.0, 4.0]])
    value, n = flicker(p0, p1, gt0, gt1)
    assert n == 3
    assert value == pytest.approx((math.log(1.1) + abs(math.log(0.95)) + 0.0) / 3)


def test_flicker_of_a_prediction_that_follows_a_still_truth_is_zero():
    from msdepth.metrics import FlickerAccumulator

    acc = FlickerAccumulator()
    for _ in range(4):
        acc.update(GT * 1.3, GT)  # wrong scale but steady: no flicker
    assert acc.compute() == pytest.approx(0.0) and len(acc.per_pair) == 3


def test_flicker_is_nan_when_no_pixel_stood_still():
    from msdepth.metrics import FlickerAccumulator, flicker

    assert math.isnan(flicker(GT, GT, GT, GT * 2)[0])
    acc = FlickerAccumulator()
    acc.update(GT, GT)
    assert acc.update(GT, GT * 2) is None and acc.skipped == 1 and math.isnan(acc.compute())

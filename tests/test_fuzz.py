"""Property-based tests (hypothesis) of the depth decoders, the augmentation and the metrics.

Examples are few and deadlines off so the suite stays fast and stable on a loaded CI machine;
hypothesis still explores the edge values (0, 65535, NaN, inf, negatives, extreme parameters).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from msdepth.config import AugmentConfig
from msdepth.data.augment import AugmentParams, apply_params, sample_params
from msdepth.data.depth_formats import FORMATS, decode_depth
from msdepth.metrics import METRIC_NAMES, depth_metrics

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SHAPES = st.tuples(st.integers(1, 12), st.integers(1, 12))
UINT16_FORMATS = ["nyu", "kitti", "tum", "sun", "pgm", "kinect2"]


def _decoded(write, name: str, fmt: str, scale: float | None = None) -> np.ndarray:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        write(path)
        return decode_depth(path, fmt, scale)


# ---- depth decoders ------------------------------------------------------------------------------


@FUZZ
@given(
    raw=arrays(np.uint16, SHAPES),
    fmt=st.sampled_from(UINT16_FORMATS),
    scale=st.none() | st.floats(1e-3, 1e6),
)
def test_uint16_decoders_give_finite_non_negative_metres_and_zero_only_where_invalid(
    raw, fmt, scale
):
    ext = ".pgm" if fmt == "pgm" else ".png"
    metres = _decoded(lambda p: Image.fromarray(raw).save(p), f"d{ext}", fmt, scale)
    assert metres.shape == raw.shape and metres.dtype == np.float32
    assert np.isfinite(metres).all() and (metres >= 0).all()
    spec = FORMATS[fmt]
    source = spec.to_metres(raw) if spec.to_metres is not None else raw
    invalid = (np.asarray(source) == 0) | np.isin(raw, spec.invalid_codes)
    assert (metres[invalid] == 0).all()
    # every other reading is kept unless it underflows float32 (tiny values over a huge scale)
    divisor = scale or spec.divisor
    expected = (np.asarray(source, np.float64) / divisor).astype(np.float32)
    assert ((metres > 0) == (~invalid & (expected > 0))).all()


@FUZZ
@given(
    depth=arrays(
        np.float32,
        SHAPES,
        elements=st.floats(width=32, allow_nan=True, allow_infinity=True),
    )
)
def test_npy_decoder_zeroes_exactly_the_nan_inf_and_non_positive_values(depth):
    metres = _decoded(lambda p: np.save(p, depth), "d.npy", "npy")
    valid = np.isfinite(depth) & (depth > 0)
    assert np.isfinite(metres).all() and (metres >= 0).all()
    assert (metres[~valid] == 0).all()
    assert np.array_equal(metres[valid], depth[valid])


@FUZZ
@given(raw=arrays(np.uint16, SHAPES))
def test_nyu_raw_disparity_decodes_to_metres_within_the_sensor_range(raw):
    def write(path: Path) -> None:
        h, w = raw.shape
        path.write_bytes(f"P5\n{w} {h}\n65535\n".encode() + raw.astype("<u2").tobytes())

    metres = _decoded(write, "d.pgm", "nyu-raw")
    assert np.isfinite(metres).all() and (metres >= 0).all() and (metres <= 10.0).all()
    assert (metres[raw == 2047] == 0).all()


# ---- augmentation: one geometry for RGB, depth and mask ------------------------------------------

H, W = 48, 64  # source
IN_HW, OUT_HW = (24, 32), (12, 16)  # network input and output: output is input / 2


def _coordinate_images() -> tuple[torch.Tensor, torch.Tensor]:
    """RGB whose red/green encode each pixel's column/row; depth encodes them too."""
    yy, xx = np.mgrid[0:H, 0:W]
    rgb = np.stack([xx * 4, yy * 5, np.full_like(xx, 200)], -1).astype(np.uint8)
    depth = (1.0 + xx + 100.0 * yy).astype(np.float32)  # unique per pixel, all valid
    return torch.from_numpy(rgb)[None], torch.from_numpy(depth)[None]


@st.composite
def augment_params(draw) -> AugmentParams:
    f = st.floats
    return AugmentParams(
        scale=torch.tensor([draw(f(1.0, 2.0))]),
        angle=torch.tensor([draw(f(-0.3, 0.3))]),
        shift_x=torch.tensor([draw(f(-1.0, 1.0))]),
        shift_y=torch.tensor([draw(f(-1.0, 1.0))]),
        flip=torch.tensor([draw(st.booleans())]),
        color=torch.tensor([[1.0, 1.0, 1.0]]),
    )


@FUZZ
@given(params=augment_params())
def test_rgb_depth_and_mask_share_one_geometry_and_depth_is_divided_by_the_scale(params):
    rgb, depth = _coordinate_images()
    batch = apply_params(rgb, depth, params, IN_HW, OUT_HW)
    s = float(params.scale)
    d = batch.depth[0, 0] * s  # undo the 1/s: the source pixel's code
    assert torch.equal(batch.mask[0, 0], batch.depth[0, 0] > 0)
    assert (batch.depth >= 0).all() and torch.isfinite(batch.depth).all()
    valid = batch.mask[0, 0]
    code = torch.round(d[valid]).long()
    # depth codes are exact source pixels (nearest sampling): 1 + x + 100 y
    x_src, y_src = (code - 1) % 100, (code - 1) // 100
    assert ((x_src >= 0) & (x_src < W) & (y_src >= 0) & (y_src < H)).all()
    assert torch.allclose(d[valid], code.float(), atol=1e-3 * code.float().max())
    # RGB at the same place (the mean of the 2x2 input block of each output pixel) agrees
    image = batch.image[0] * 255.0  # colour factor 1
    block = 0.25 * (image[:, 0::2, 0::2] + image[:, 1::2, 0::2] + image[:, 0::2, 1::2]
                    + image[:, 1::2, 1::2])  # fmt: skip
    xs = torch.zeros(OUT_HW).masked_scatter(valid, x_src.float())
    ys = torch.zeros(OUT_HW).masked_scatter(valid, y_src.float())
    # away from the source's border, where bilinear RGB blends with the zero padding
    inside = valid & (xs >= 2) & (xs <= W - 3) & (ys >= 2) & (ys <= H - 3)
    assert inside.sum() >= valid.sum() // 3
    tol = 1.0 + 1.0 / s  # nearest vs bilinear: about one source pixel apart
    assert (torch.abs(block[0][inside] / 4 - xs[inside]) <= tol).all()
    assert (torch.abs(block[1][inside] / 5 - ys[inside]) <= tol).all()


@FUZZ
@given(
    scale_max=st.floats(1.0, 3.0),
    rotation=st.floats(0.0, 30.0),
    flip=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_any_configured_ranges_give_finite_batches_with_mask_equal_to_positive_depth(
    scale_max, rotation, flip, seed
):
    cfg = AugmentConfig(scale_max=scale_max, rotation_deg=rotation, flip_prob=flip)
    params = sample_params(2, cfg, torch.Generator().manual_seed(seed))
    rgb, depth = _coordinate_images()
    depth = depth.clone()
    depth[0, ::3, ::5] = float("nan")  # invalid readings stay invalid, never blend
    batch = apply_params(rgb.repeat(2, 1, 1, 1), depth.repeat(2, 1, 1), params, IN_HW, OUT_HW)
    assert torch.isfinite(batch.image).all() and torch.isfinite(batch.depth).all()
    assert ((batch.image >= 0) & (batch.image <= 1)).all()
    assert torch.equal(batch.mask, batch.depth > 0)


# ---- metrics -----------------------------------------------------------------------------------

POSITIVE = st.floats(0.015625, 50.0, width=32)


@FUZZ
@given(
    gt=arrays(
        np.float32, SHAPES, elements=st.floats(width=32, allow_nan=True, allow_infinity=True)
    ),
    pred=arrays(
        np.float32, SHAPES, elements=st.floats(width=32, allow_nan=True, allow_infinity=True)
    ),
)
def test_metrics_are_finite_or_all_nan_for_any_input(gt, pred):
    pred = np.resize(pred, gt.shape)
    m = depth_metrics(pred, gt, min_depth=1e-3, max_depth=80.0)
    values = np.array([m[k] for k in METRIC_NAMES])
    g = gt.astype(np.float64)  # the metrics compare in float64
    has_valid = (np.isfinite(g) & (g > 1e-3) & (g < 80.0)).any()
    assert np.isfinite(values).all() if has_valid else np.isnan(values).all()


@FUZZ
@given(gt=arrays(np.float32, SHAPES, elements=POSITIVE))
def test_a_perfect_prediction_has_zero_error_and_all_deltas_one(gt):
    m = depth_metrics(gt, gt, min_depth=1e-3, max_depth=80.0)
    for name in METRIC_NAMES:
        expected = 1.0 if name.startswith("delta") else 0.0
        assert math.isclose(m[name], expected, abs_tol=1e-9), (name, m[name])


@FUZZ
@given(
    gt=arrays(np.float32, SHAPES, elements=POSITIVE),
    noise=st.floats(0.5, 2.0),
    k=st.floats(0.1, 1.5),
)
def test_relative_and_scale_invariant_metrics_ignore_a_joint_scale(gt, noise, k):
    pred = gt * np.float32(noise)
    a = depth_metrics(pred, gt, min_depth=1e-6, max_depth=1e6)
    b = depth_metrics(pred * np.float32(k), gt * np.float32(k), min_depth=1e-6, max_depth=1e6)
    for name in ("abs_rel", "silog", "delta1", "rmse_log"):
        assert math.isclose(a[name], b[name], rel_tol=1e-4, abs_tol=1e-4), name

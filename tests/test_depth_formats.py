"""Depth encodings decode to metres, with every kind of "no reading" as 0."""

import numpy as np
import pytest
from PIL import Image

from msdepth.data.depth_formats import DEPTH_FORMATS, decode_depth
from msdepth.errors import DataError


def _png16(path, values):
    Image.fromarray(np.asarray(values, dtype=np.uint16)).save(path)
    return path


def test_every_format_has_a_description():
    assert set(DEPTH_FORMATS) == {"nyu", "kitti", "tum", "sun", "pgm", "nyu-raw", "kinect2", "npy"}
    assert all(DEPTH_FORMATS.values())


@pytest.mark.parametrize(
    ("fmt", "divisor"), [("nyu", 1000), ("kitti", 256), ("tum", 5000), ("kinect2", 10000)]
)
def test_uint16_formats_divide_by_their_scale_and_zero_is_invalid(tmp_path, fmt, divisor):
    path = _png16(tmp_path / "d.png", [[0, 1280, 2560, 5000]])
    d = decode_depth(path, fmt)
    assert d.dtype == np.float32 and d.shape == (1, 4)
    assert np.allclose(d, np.array([[0, 1280, 2560, 5000]]) / divisor)


def test_scale_overrides_the_divisor(tmp_path):
    path = _png16(tmp_path / "d.png", [[500, 1000]])
    assert np.allclose(decode_depth(path, "nyu", scale=100), [[5.0, 10.0]])


def test_kinect2_saturation_code_is_invalid(tmp_path):
    path = _png16(tmp_path / "d.png", [[65535, 20000]])
    assert np.array_equal(decode_depth(path, "kinect2"), np.array([[0, 2.0]], np.float32))


def test_sun_bit_rotation_is_undone(tmp_path):
    mm = np.array([[1500, 0, 9870]], dtype=np.uint32)
    rotated = ((mm << 3) | (mm >> 13)) & 0xFFFF
    path = _png16(tmp_path / "d.png", rotated)
    assert np.allclose(decode_depth(path, "sun"), mm / 1000)


def test_pgm_is_big_endian_millimetres(tmp_path):
    path = tmp_path / "d.pgm"
    path.write_bytes(b"P5\n# comment\n3 1\n65535\n" + np.array([0, 1000, 2500], ">u2").tobytes())
    assert np.allclose(decode_depth(path, "pgm"), [[0, 1.0, 2.5]])


def test_nyu_raw_is_little_endian_disparity_with_2047_invalid(tmp_path):
    raw = np.array([[2047, 900, 1000, 1092]], "<u2")
    path = tmp_path / "d.pgm"
    path.write_bytes(b"P5 4 1 65535\n" + raw.tobytes())
    d = decode_depth(path, "nyu-raw")
    assert d[0, 0] == 0  # no reading
    assert np.isclose(d[0, 1], 351.3 / (1092.5 - 900), rtol=1e-6)
    assert np.isclose(d[0, 2], 351.3 / (1092.5 - 1000), rtol=1e-6)
    assert d[0, 3] == 0  # 702 m: beyond the sensor, invalid


def test_truncated_nyu_raw_names_the_file(tmp_path):
    path = tmp_path / "d.pgm"
    path.write_bytes(b"P5 640 480 65535\n" + b"\0" * 100)
    with pytest.raises(DataError, match=r"d\.pgm is truncated"):
        decode_depth(path, "nyu-raw")


def test_npy_nan_inf_and_negative_are_invalid(tmp_path):
    path = tmp_path / "d.npy"
    np.save(path, np.array([[np.nan, np.inf, -1.0, 0.0, 2.25]], np.float32))
    assert np.array_equal(decode_depth(path, "npy"), np.array([[0, 0, 0, 0, 2.25]], np.float32))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match=r"nope\.png does not exist"):
        decode_depth(tmp_path / "nope.png")


def test_truncated_png_is_named(tmp_path):
    path = _png16(tmp_path / "d.png", np.arange(64 * 64).reshape(64, 64) * 7)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match=r"d\.png is corrupt or truncated"):
        decode_depth(path)


def test_unknown_format_lists_the_known_ones(tmp_path):
    with pytest.raises(DataError, match="choose one of nyu, kitti"):
        decode_depth(tmp_path / "d.png", "exr")


def test_rgb_image_as_depth_is_refused(tmp_path):
    path = tmp_path / "d.png"
    Image.new("RGB", (4, 4)).save(path)
    with pytest.raises(DataError, match="single-channel 16-bit"):
        decode_depth(path)


def test_eight_bit_depth_needs_an_explicit_scale(tmp_path):
    path = tmp_path / "d.png"
    Image.fromarray(np.array([[0, 255]], np.uint8)).save(path)
    with pytest.raises(DataError, match="--depth-scale"):
        decode_depth(path)
    assert np.allclose(decode_depth(path, scale=25.5), [[0, 10.0]])


# ---- the real samples in ../shared/data/formats (one folder per encoding) ---------------------

REAL = [
    # folder, depth file, format, plausible median metres, plausible valid fraction
    ("nyu-raw-sync", "depth/sync_depth_00000.png", "nyu", (1.0, 6.0), (0.5, 0.95)),
    ("kitti-annotated", "depth/0000000005.png", "kitti", (5.0, 40.0), (0.1, 0.4)),
    ("tum", "1_depth.png", "tum", (0.5, 5.0), (0.5, 0.95)),
    ("sun", "SUN_depth.png", "sun", (1.0, 6.0), (0.5, 0.95)),
    ("nyu-raw-pgm", "depth/1.pgm", "pgm", (1.0, 6.0), (0.5, 0.95)),
    ("nyu-raw-unregistered", "NYU_depth.pgm", "nyu-raw", (1.0, 6.0), (0.8, 0.99)),
    ("kinect2", "sample_depth.png", "kinect2", (1.0, 6.0), (0.7, 0.95)),
]


@pytest.mark.parametrize(("folder", "name", "fmt", "median", "valid"), REAL)
def test_real_sample_decodes_to_plausible_metres(shared_data, folder, name, fmt, median, valid):
    d = decode_depth(shared_data / "formats" / folder / name, fmt)
    ok = d > 0
    assert d.dtype == np.float32 and np.isfinite(d).all()
    assert valid[0] < ok.mean() < valid[1]
    assert median[0] < np.median(d[ok]) < median[1]


def test_real_nyu_raw_matches_the_documented_reading(shared_data):
    path = shared_data / "formats" / "nyu-raw-unregistered" / "NYU_depth.pgm"
    raw = np.fromfile(path, "<u2", offset=17).reshape(480, 640)
    d = decode_depth(path, "nyu-raw")
    ok = raw != 2047
    assert np.array_equal(d > 0, ok)
    assert np.allclose(d[ok], 351.3 / (1092.5 - raw[ok].astype(np.float64)), rtol=1e-6)

"""Reading images of any mode, and depth pictures."""

import numpy as np
import pytest
from PIL import Image

from msdepth.data.images import read_rgb
from msdepth.errors import DataError
from msdepth.visualize import colorize_depth, make_panel


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16", "RGB"])
def test_any_image_mode_becomes_rgb_uint8(tmp_path, mode):
    arr = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    image = (
        Image.fromarray(arr).convert(mode)
        if mode != "I;16"
        else Image.fromarray(arr.astype(np.uint16) * 200)
    )
    path = tmp_path / "im.png"
    image.save(path)
    rgb = read_rgb(path)
    assert rgb.shape == (6, 8, 3) and rgb.dtype == np.uint8


def test_exif_rotation_is_honoured(tmp_path):
    image = Image.fromarray(np.zeros((4, 10, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees
    image.save(tmp_path / "r.jpg", exif=exif)
    assert read_rgb(tmp_path / "r.jpg").shape == (10, 4, 3)


def test_truncated_and_non_image_files_name_the_file(tmp_path):
    Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 100).save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut"):
        read_rgb(tmp_path / "cut.png")
    (tmp_path / "text.jpg").write_text("hello")
    with pytest.raises(DataError, match="text"):
        read_rgb(tmp_path / "text.jpg")
    with pytest.raises(DataError, match="does not exist"):
        read_rgb(tmp_path / "missing.png")


def test_colorized_depth_is_bright_near_and_grey_where_invalid():
    depth = np.array([[1.0, 5.0, 0.0]])
    rgb = colorize_depth(depth)
    assert rgb.shape == (1, 3, 3)
    assert rgb[0, 0].sum() > rgb[0, 1].sum()
    assert tuple(rgb[0, 2]) == (40, 40, 40)


def test_panel_puts_images_side_by_side_at_one_height():
    panel = make_panel([np.zeros((10, 20, 3), np.uint8), np.ones((5, 5), np.float32)], gap=2)
    assert panel.shape == (10, 20 + 2 + 10, 3)

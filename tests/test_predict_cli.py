"""`msdepth predict`: inputs (files, folders, globs, videos) and every output file."""

import sys

import numpy as np
import pytest
from PIL import Image

from fake_models import random_checkpoint
from msdepth.cli.main import main
from msdepth.inference.inputs import expand_paths, unique_names
from test_pointcloud import read_ply


@pytest.fixture
def checkpoint(tmp_path):
    return random_checkpoint(tmp_path / "m.safetensors")


def write_images(folder, names, size=(64, 48)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(names))
    for name in names:
        rgb = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(rgb).save(folder / name)
    return folder


def predict(*args):
    return main(["predict", "--quiet", *map(str, args)])


def test_every_output_is_named_after_its_input(tmp_path, checkpoint):
    images = write_images(tmp_path / "in", ["kitchen.png"], size=(80, 60))
    out = tmp_path / "out"
    code = predict(
        "--checkpoint", checkpoint, images / "kitchen.png", "--out", out,
        "--save", "color,png16,npy", "--save", "panel,ply",
    )  # fmt: skip
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "kitchen.color.png",
        "kitchen.depth.png",
        "kitchen.npy",
        "kitchen.panel.png",
        "kitchen.ply",
    ]


def test_depth_comes_out_at_the_input_resolution_in_all_formats(tmp_path, checkpoint):
    write_images(tmp_path / "in", ["a.jpg"], size=(100, 30))
    out = tmp_path / "out"
    predict("--checkpoint", checkpoint, tmp_path / "in" / "a.jpg", "--out", out,
            "--save", "npy,png16,color")  # fmt: skip
    depth = np.load(out / "a.npy")
    assert depth.shape == (30, 100) and depth.dtype == np.float32
    mm = np.asarray(Image.open(out / "a.depth.png"))
    assert mm.dtype == np.uint16 and mm.shape == (30, 100)
    np.testing.assert_array_equal(mm, np.round(depth.astype(np.float64) * 1000).astype(np.uint16))
    color = np.asarray(Image.open(out / "a.color.png"))
    assert color.shape == (30, 100, 3)


def test_colour_bar_widens_the_colour_image(tmp_path, checkpoint):
    write_images(tmp_path / "in", ["a.png"], size=(120, 90))
    out = tmp_path / "out"
    predict("--checkpoint", checkpoint, tmp_path / "in", "--out", out, "--save", "color",
            "--colorbar")  # fmt: skip
    color = np.asarray(Image.open(out / "a.color.png"))
    assert color.shape[0] == 90 and color.shape[1] > 120


def test_point_cloud_has_one_vertex_per_valid_pixel(tmp_path, checkpoint):
    write_images(tmp_path / "in", ["a.png"], size=(40, 30))
    out = tmp_path / "out"
    predict("--checkpoint", checkpoint, tmp_path / "in", "--out", out, "--save", "ply,npy",
            "--fov", "60", "--keep-edges")  # fmt: skip
    header, xyz, _ = read_ply(out / "a.ply")
    assert "element vertex 1200" in header
    np.testing.assert_allclose(np.sort(xyz[:, 2]), np.sort(np.load(out / "a.npy").ravel()))


def test_max_depth_leaves_far_points_out_of_the_point_cloud(tmp_path, checkpoint):
    write_images(tmp_path / "in", ["a.png"], size=(40, 30))
    out = tmp_path / "out"
    predict("--checkpoint", checkpoint, tmp_path / "in", "--out", out, "--save", "npy")
    limit = float(np.median(np.load(out / "a.npy")))
    predict("--checkpoint", checkpoint, tmp_path / "in", "--out", out, "--save", "ply",
            "--ply-ascii", "--max-depth", limit, "--keep-edges")  # fmt: skip
    header, xyz, _ = read_ply(out / "a.ply")
    assert "format ascii 1.0" in header
    assert len(xyz) == int((np.load(out / "a.npy") <= limit).sum())


def test_folders_globs_and_files_expand_in_a_deterministic_order(tmp_path):
    write_images(tmp_path / "d", ["b.png", "a.png"])
    (tmp_path / "d" / "notes.txt").write_text("not an image")
    write_images(tmp_path / "e", ["c.jpg"])
    found = expand_paths([tmp_path / "d", str(tmp_path / "e" / "*.jpg")])
    assert [p.name for p in found] == ["a.png", "b.png", "c.jpg"]


def test_inputs_sharing_a_stem_get_numbered_names(tmp_path, checkpoint):
    write_images(tmp_path / "x", ["img.png"])
    write_images(tmp_path / "y", ["img.png"])
    out = tmp_path / "out"
    predict("--checkpoint", checkpoint, tmp_path / "x" / "img.png", tmp_path / "y" / "img.png",
            "--out", out, "--save", "npy")  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["img-2.npy", "img.npy"]
    assert unique_names(["a", "a", "a-2", "b"]) == ["a", "a-2", "a-2-2", "b"]


def test_outputs_never_overwrite_an_input(tmp_path, checkpoint, capsys):
    folder = write_images(tmp_path / "in", ["a.png"])
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(folder / "a.depth.png")
    code = predict("--checkpoint", checkpoint, folder, "--out", folder, "--save", "png16")
    assert code == 2
    assert "would overwrite an input" in capsys.readouterr().err


def test_missing_inputs_are_one_line_errors(tmp_path, checkpoint, capsys):
    code = predict("--checkpoint", checkpoint, tmp_path / "nothing.png", "--out", tmp_path / "o")
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "does not exist" in err
    code = predict("--checkpoint", checkpoint, str(tmp_path / "*.png"), "--out", tmp_path / "o")
    assert code == 2 and "matches no image" in capsys.readouterr().err


def test_videos_without_the_optional_decoder_name_the_extra_to_install(
    tmp_path, checkpoint, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "av", None)  # as if PyAV were not installed
    (tmp_path / "clip.mp4").write_bytes(b"\x00" * 32)
    code = predict("--checkpoint", checkpoint, tmp_path / "clip.mp4", "--out", tmp_path / "o")
    assert code == 2 and "pip install av" in capsys.readouterr().err


def write_video(path, frames=12, size=(64, 48)):
    av = pytest.importorskip("av", reason="PyAV (the video extra) is not installed")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(frames):
            rgb = np.full((size[1], size[0], 3), 20 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_every_nth_video_frame_gets_a_depth_map_at_the_video_size(tmp_path, checkpoint):
    video = write_video(tmp_path / "walk.mp4")
    out = tmp_path / "out"
    code = predict("--checkpoint", checkpoint, video, "--out", out, "--save", "npy", "--every", "4")
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["walk_f000000.npy", "walk_f000004.npy", "walk_f000008.npy"]
    assert np.load(out / names[0]).shape == (48, 64)


def test_a_corrupt_video_is_a_one_line_error(tmp_path, checkpoint, capsys):
    pytest.importorskip("av", reason="PyAV (the video extra) is not installed")
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 64)
    code = predict("--checkpoint", checkpoint, tmp_path / "broken.mp4", "--out", tmp_path / "o")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "broken.mp4" in err[0]


def test_unknown_output_kind_is_refused_by_the_parser(tmp_path, checkpoint, capsys):
    with pytest.raises(SystemExit):
        predict("--checkpoint", checkpoint, tmp_path, "--out", tmp_path, "--save", "jpeg")
    assert "unknown output 'jpeg'" in capsys.readouterr().err

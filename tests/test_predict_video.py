"""`msdepth predict --save video`: a depth video with the input's frames, rate and size, one colour
range in metres for the clip, stabilised by default; bad videos are one clear line each and no
half-written mp4 is ever left looking complete (`msdepth.inference.video`, `msdepth.data.video`)."""

from __future__ import annotations

import errno
import json
import math
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import bad_inputs as bad
from fake_models import SMALL, constant_checkpoint, random_checkpoint
from msdepth.cli.main import main
from msdepth.inference.camera import NYU_KINECT

av = pytest.importorskip("av", reason="PyAV (the video extra) is not installed")

from msdepth.data.video import VideoWriter, decode_frames, probe  # noqa: E402
from msdepth.inference.video import DepthRange, metres_from_colours  # noqa: E402

SIZE = (64, 48)
RATE = Fraction(25, 2)
KINECT_AT_320 = NYU_KINECT["fx"] * 320 / 640
TRAINED = {**SMALL, "model.train_focal": KINECT_AT_320, "model.train_focal_source": "test"}


@pytest.fixture(scope="module")
def checkpoint(module_tmp):
    return random_checkpoint(module_tmp / "m.safetensors")


def moving_clip(path: Path, frames: int = 10, size=SIZE, rate=RATE) -> Path:
    """A textured picture panning right by 2 pixels a frame (the depth changes with it)."""
    w, h = size
    rng = np.random.default_rng(0)
    wide = np.kron(rng.integers(0, 256, (h // 8, (w + 2 * frames) // 8 + 1, 3)), np.ones((8, 8, 1)))
    with VideoWriter(path, rate, size) as video:
        for i in range(frames):
            video.write(np.ascontiguousarray(wide[:h, 2 * i : 2 * i + w].astype(np.uint8)))
    return path


def predict(*args) -> int:
    return main(["predict", "--quiet", "--device", "cpu", *map(str, args)])


def test_the_depth_video_has_the_inputs_frame_count_rate_and_size(tmp_path, checkpoint):
    clip = moving_clip(tmp_path / "walk.mp4")
    assert (
        predict("--checkpoint", checkpoint, clip, "--out", tmp_path / "out", "--save", "video") == 0
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["walk.depth.mp4"]
    info = probe(tmp_path / "out" / "walk.depth.mp4")
    assert (info.width, info.height, info.rate) == (*SIZE, RATE)
    assert sum(1 for _ in decode_frames(tmp_path / "out" / "walk.depth.mp4")) == 10


def test_decoded_colours_read_back_to_the_metres_of_the_depth_maps(tmp_path, checkpoint):
    clip = moving_clip(tmp_path / "walk.mp4")
    out = tmp_path / "out"
    assert predict("--checkpoint", checkpoint, clip, "--out", out, "--save", "video,npy") == 0
    depth_range = DepthRange.of_video(out / "walk.depth.mp4")
    frames = dict(decode_frames(out / "walk.depth.mp4"))
    for index in (0, 9):  # one range for the clip: the first and the last frame both read back
        truth = np.load(out / f"walk_f{index:06d}.npy")
        metres, error = metres_from_colours(frames[index], depth_range)
        inside = (truth > depth_range.vmin) & (truth < depth_range.vmax) & (error < 30)
        assert inside.mean() > 0.6  # the 2-98 % range, and yuv420p smudges sharp edges
        ratio = metres[inside] / truth[inside]
        assert np.median(np.abs(ratio - 1)) < 0.03 and np.percentile(np.abs(ratio - 1), 90) < 0.1


def test_the_clip_range_is_one_range_over_all_frames(tmp_path, checkpoint):
    clip = moving_clip(tmp_path / "walk.mp4")
    out = tmp_path / "out"
    predict("--checkpoint", checkpoint, clip, "--out", out, "--save", "video,npy")
    all_depth = np.concatenate([np.load(p).ravel() for p in sorted(out.glob("*.npy"))])
    depth_range = DepthRange.of_video(out / "walk.depth.mp4")
    lo, hi = np.percentile(all_depth, [2, 98])
    assert depth_range.vmin == pytest.approx(lo, rel=0.03)
    assert depth_range.vmax == pytest.approx(hi, rel=0.03)


def test_explicit_vmin_vmax_are_the_clips_range(tmp_path, checkpoint):
    clip = moving_clip(tmp_path / "walk.mp4")
    predict("--checkpoint", checkpoint, clip, "--out", tmp_path / "o", "--save", "video",
            "--vmin", "0.5", "--vmax", "7")  # fmt: skip
    assert DepthRange.of_video(tmp_path / "o" / "walk.depth.mp4") == DepthRange(0.5, 7.0)


def test_panel_puts_the_input_beside_the_depth(tmp_path, checkpoint):
    clip = moving_clip(tmp_path / "walk.mp4")
    out = tmp_path / "out"
    predict("--checkpoint", checkpoint, clip, "--out", out, "--save", "video", "--panel")
    info = probe(out / "walk.depth.mp4")
    assert (info.width, info.height) == (2 * SIZE[0] + 4, SIZE[1])  # input | 4 px gap | depth
    source = dict(decode_frames(clip))[3].astype(int)
    panel = dict(decode_frames(out / "walk.depth.mp4"))[3].astype(int)
    assert np.abs(panel[:, : SIZE[0]] - source).mean() < 12  # the input, through two encodings


def test_every_nth_frame_keeps_the_clips_duration(tmp_path, checkpoint):
    clip = moving_clip(tmp_path / "walk.mp4", frames=9)
    out = tmp_path / "out"
    predict("--checkpoint", checkpoint, clip, "--out", out, "--save", "video", "--every", "3")
    info = probe(out / "walk.depth.mp4")
    assert info.rate == RATE / 3 and sum(1 for _ in decode_frames(out / "walk.depth.mp4")) == 3


def test_stabilization_is_on_for_videos_and_can_be_turned_off(tmp_path, checkpoint):
    clip = moving_clip(tmp_path / "walk.mp4")
    for flag, name in (("--stabilize", "on"), ("--no-stabilize", "off")):
        predict("--checkpoint", checkpoint, clip, "--out", tmp_path / name, "--save", "npy", flag)
    predict("--checkpoint", checkpoint, clip, "--out", tmp_path / "default", "--save", "npy")
    second = "walk_f000005.npy"
    on, off, default = (np.load(tmp_path / d / second) for d in ("on", "off", "default"))
    np.testing.assert_array_equal(on, default)
    assert not np.allclose(on, off)
    # the first frame has no past: the same either way
    np.testing.assert_array_equal(
        *(np.load(tmp_path / d / "walk_f000000.npy") for d in ("on", "off"))
    )


def test_json_lists_the_video_its_range_and_the_frame_files(tmp_path, checkpoint):
    clip = moving_clip(tmp_path / "walk.mp4")
    report = tmp_path / "r.json"
    predict("--checkpoint", checkpoint, clip, "--out", tmp_path / "o", "--save", "video,npy",
            "--json", report)  # fmt: skip
    result = json.loads(report.read_text())
    (video,) = result["videos"]
    assert video["frames"] == 10 and video["rate"] == 12.5 and video["stabilized"]
    assert DepthRange(video["vmin"], video["vmax"]) == DepthRange.of_video(video["video"])
    assert len(result["files"]) == 10


def test_a_clip_has_one_camera_and_fov_sets_every_frames_metres_and_k(tmp_path):
    """A constant-output model (2 m) that knows its training camera: the metres of each frame
    are exactly 2 m x the focal rule's factor for --fov, and every file and the run say so."""
    ckpt = constant_checkpoint(tmp_path / "c.safetensors", 2.0, TRAINED)
    clip = moving_clip(tmp_path / "walk.mp4", frames=3)
    out, report = tmp_path / "o", tmp_path / "r.json"
    assert predict("--checkpoint", ckpt, clip, "--out", out, "--save", "video,npy,json",
                   "--fov", "80", "--json", report) == 0  # fmt: skip
    f80 = (SIZE[0] / 2) / math.tan(math.radians(40))
    factor = f80 * SMALL["model.input_width"] / SIZE[0] / KINECT_AT_320
    for index in range(3):
        np.testing.assert_allclose(np.load(out / f"walk_f{index:06d}.npy"), 2.0 * factor, rtol=1e-5)
        meta = json.loads((out / f"walk_f{index:06d}.json").read_text())
        assert meta["focal_source"] == "--fov 80" and meta["focal_rule"]
        assert meta["intrinsics"]["fx"] == pytest.approx(f80)
    (video,) = json.loads(report.read_text())["videos"]
    assert video["focal_source"] == "--fov 80" and video["depth_factor"] == pytest.approx(factor)


def test_focal_exif_on_a_video_is_a_one_line_error(tmp_path, checkpoint, capsys):
    clip = moving_clip(tmp_path / "walk.mp4", frames=2)
    code = predict("--checkpoint", checkpoint, clip, "--out", tmp_path / "o", "--save", "video",
                   "--focal", "exif")  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "walk.mp4" in err and "--fov" in err, err
    assert not (tmp_path / "o" / "walk.depth.mp4").exists()


def test_save_video_without_a_video_input_is_a_one_line_error(tmp_path, checkpoint, capsys):
    image = bad.rgb_png(tmp_path / "a.png")
    assert (
        predict("--checkpoint", checkpoint, image, "--out", tmp_path / "o", "--save", "video") == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no input is a video" in err


# ---- bad videos: one line, exit 2, nothing left that looks complete -----------------------------


def empty_avi(path: Path) -> Path:
    """An AVI with a video stream and no frame in it."""
    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    return path


def trackless_mp4(path: Path) -> Path:
    """An mp4 container holding no video track at all."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    return path


def zeros(path: Path) -> Path:
    path.write_bytes(b"\x00" * 4096)
    return path


def unknown_codec_avi(path: Path) -> Path:
    """An AVI whose video stream says it is in a codec no decoder here knows (FourCC 'ZZ9Q')."""
    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), "rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = path.read_bytes()
    for tag in (b"FMP4", b"fmp4"):
        data = data.replace(tag, b"ZZ9Q")
    path.write_bytes(data)
    return path


def truncated_mp4(path: Path) -> Path:
    moving_clip(path, frames=30)
    return bad.truncated(path)


BAD_VIDEOS = {  # kind: (make, suffix, the one line says)
    "corrupt": (zeros, ".mp4", r"cannot be (opened|decoded)"),
    "truncated": (truncated_mp4, ".mp4", r"cannot be (opened|decoded)|has no frames"),
    "no-frames": (empty_avi, ".avi", r"has no frames"),
    "no-video-track": (trackless_mp4, ".mp4", r"has no video stream"),
    "unknown-codec": (unknown_codec_avi, ".avi", r"codec this PyAV/FFmpeg cannot decode"),
}


@pytest.mark.parametrize("kind", sorted(BAD_VIDEOS))
def test_a_bad_video_is_one_clear_line_and_writes_nothing(kind, tmp_path, checkpoint, capsys):
    make, suffix, pattern = BAD_VIDEOS[kind]
    clip = make(tmp_path / f"clip{suffix}")
    out = tmp_path / "out"
    out.mkdir()
    (out / "clip.depth.mp4").write_bytes(b"an earlier depth video")
    before = bad.snapshot(tmp_path)
    code = predict("--checkpoint", checkpoint, clip, "--out", out, "--save", "video,npy")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert f"clip{suffix}" in err and re.search(pattern, err), err
    assert bad.snapshot(tmp_path) == before


def test_a_disk_that_fills_while_writing_leaves_no_video(tmp_path, checkpoint, capsys, monkeypatch):
    clip = moving_clip(tmp_path / "walk.mp4")
    out = tmp_path / "out"
    out.mkdir()
    (out / "walk.depth.mp4").write_bytes(b"an earlier depth video")
    muxed = []

    def mux_until_full(self, packet):
        muxed.append(packet)
        if len(muxed) > 3:  # the encoder delays frames: fail once a few packets went out
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_mux(self, packet)

    real_mux = av.container.OutputContainer.mux
    monkeypatch.setattr(av.container.OutputContainer, "mux", mux_until_full)
    code = predict("--checkpoint", checkpoint, clip, "--out", out, "--save", "video")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "walk.depth.mp4" in err and "No space left on device" in err
    assert muxed, "the writer never reached the disk"
    assert sorted(p.name for p in out.iterdir()) == ["walk.depth.mp4"]  # no temporary file
    assert (out / "walk.depth.mp4").read_bytes() == b"an earlier depth video"


def test_a_failed_encoder_flush_also_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "v.mp4"
    target.write_bytes(b"old")
    real_close = av.container.OutputContainer.close

    def close_full(self):
        real_close(self)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(av.container.OutputContainer, "close", close_full)
    from msdepth.errors import DataError

    with pytest.raises(DataError, match="No space left"), VideoWriter(target, 10, (32, 32)) as v:
        v.write(np.zeros((32, 32, 3), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]
    assert target.read_bytes() == b"old"


# ---- live input ---------------------------------------------------------------------------------


def test_a_camera_that_does_not_exist_is_a_one_line_error(tmp_path, checkpoint, capsys):
    code = predict("--checkpoint", checkpoint, "--camera", "97", "--out", tmp_path / "o",
                   "--save", "video")  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "camera 97 cannot be opened" in err, err


def test_live_camera_writes_a_depth_video(tmp_path, checkpoint):
    if not any(Path("/dev").glob("video*")):
        pytest.skip("no camera device here (/dev/video*)")
    out = tmp_path / "o"
    code = predict("--checkpoint", checkpoint, "--camera", "0", "--frames", "5", "--out", out,
                   "--save", "video")  # fmt: skip
    assert code == 0
    assert sum(1 for _ in decode_frames(out / "camera0.depth.mp4")) == 5


def test_the_live_path_on_frames_from_a_file(tmp_path, checkpoint, monkeypatch):
    """The camera pipeline (one pass, a range that only widens) fed by a clip instead."""
    import msdepth.data.video as video_io
    from msdepth.inference import load
    from msdepth.inference.outputs import OutputOptions
    from msdepth.inference.video import predict_camera

    clip = moving_clip(tmp_path / "walk.mp4")
    frames = (rgb for _, rgb in decode_frames(clip))
    monkeypatch.setattr(video_io, "open_camera",
                        lambda index, max_frames: video_io.CameraStream(index, RATE, frames, 6))  # fmt: skip
    result = predict_camera(
        load(checkpoint), 0, tmp_path / "o", "cam", OutputOptions(kinds=("npy",))
    )
    assert result.frames == 6 and len(result.files) == 6
    assert sum(1 for _ in decode_frames(tmp_path / "o" / "cam.depth.mp4")) == 6
    assert result.depth_range.vmin < result.depth_range.vmax

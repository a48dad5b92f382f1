"""`msdepth app` without a browser: uploads, the queue, the HTTP API and the command.

The browser drives the same server in test_app_browser.py; here each behaviour is checked at
the level where it is decided, over real HTTP on 127.0.0.1 where it concerns the server.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clips import panning_clip
from fake_models import random_checkpoint
from msdepth.app.jobs import JobQueue, QueueFull
from msdepth.app.uploads import UploadError, UploadTooLarge, decode_upload, output_name
from msdepth.cli.main import main
from msdepth.data.images import read_rgb
from msdepth.inference import load

pytest.importorskip("starlette", reason="the app extra is not installed: pip install -e '.[app]'")
pytest.importorskip("uvicorn", reason="the app extra is not installed: pip install -e '.[app]'")

from app_server import running_app  # (needs the app extra)
from msdepth.app.server import AppSettings


# ---- uploads ---------------------------------------------------------------------------------
def _photo(
    path: Path, size: tuple[int, int] = (160, 120), seed: int = 0, noise: bool = True, **save
) -> Path:
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    blue = rng.integers(0, 256, (h, w)) if noise else (xx + yy) % 256
    rgb = np.stack([xx * 255 // w, yy * 255 // h, blue], -1)
    Image.fromarray(rgb.astype(np.uint8)).save(path, **save)
    return path


def test_an_upload_decodes_to_the_pixels_predict_reads_from_the_file(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees to display
    photo = _photo(tmp_path / "photo.jpg", exif=exif.tobytes(), quality=90)
    decoded = decode_upload(photo.read_bytes(), "photo.jpg")
    expected = read_rgb(photo)
    assert decoded.shape == (160, 120, 3)  # the EXIF rotation is applied, as predict does
    np.testing.assert_array_equal(decoded, expected)


def test_a_text_file_named_jpg_is_refused_with_a_message_naming_it():
    with pytest.raises(UploadError, match=r"notes\.jpg is not an image this app can read"):
        decode_upload(b"shopping list: milk, eggs\n", "notes.jpg")


def test_a_photo_over_the_pixel_limit_is_refused_before_it_is_decoded(tmp_path):
    photo = _photo(tmp_path / "big.png", size=(400, 300))
    with pytest.raises(UploadTooLarge, match=r"big\.png is 0\.1 megapixels \(400x300\).*0\.1 MP"):
        decode_upload(photo.read_bytes(), "big.png", max_pixels=100_000)
    assert decode_upload(photo.read_bytes(), "big.png", max_pixels=120_000).shape == (300, 400, 3)


def test_a_truncated_photo_is_refused_as_corrupt(tmp_path):
    data = _photo(tmp_path / "cut.png").read_bytes()
    with pytest.raises(UploadError, match=r"cut\.png is corrupt or truncated"):
        decode_upload(data[: len(data) // 2], "cut.png")


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("kitchen.jpg", "kitchen"),
        ("C:\\photos\\my room.jpeg", "my room"),
        ("../../etc/passwd", "passwd"),
        ("a.b.png", "a.b"),
        ("<script>.png", "script"),
        ("", "image"),
        (".hidden", "hidden"),
    ],
)
def test_output_names_follow_the_file_stem_and_stay_inside_the_folder(filename, name):
    assert output_name(filename) == name


# ---- the queue -------------------------------------------------------------------------------
def test_jobs_run_one_at_a_time_in_the_order_they_came():
    jobs = JobQueue(keep=10)
    gate = threading.Event()
    running, most, order = [0], [0], []
    lock = threading.Lock()

    def work(i):
        def run():
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            gate.wait(5)
            time.sleep(0.01)
            with lock:
                running[0] -= 1
                order.append(i)
            return i

        return run

    try:
        submitted = [jobs.submit(work(i)) for i in range(4)]
        time.sleep(0.1)
        assert [jobs.position(j) for j in submitted] == [0, 1, 2, 3]
        assert [j.state for j in submitted] == ["running", "queued", "queued", "queued"]
        gate.set()
        for job in submitted:
            assert job.done.wait(10)
        assert order == [0, 1, 2, 3]
        assert most[0] == 1
        assert [j.result for j in submitted] == [0, 1, 2, 3]
    finally:
        jobs.close()


def test_a_full_queue_refuses_with_a_message_and_a_failed_job_does_not_stop_the_next():
    jobs = JobQueue(max_waiting=1)
    gate = threading.Event()
    try:
        first = jobs.submit(lambda: gate.wait(5))
        time.sleep(0.1)
        second = jobs.submit(lambda: (_ for _ in ()).throw(UploadError("bad photo")))
        with pytest.raises(QueueFull, match="1 requests are waiting"):
            jobs.submit(lambda: None)
        gate.set()
        assert second.done.wait(10)
        assert (second.state, second.error) == ("error", "bad photo")
        third = jobs.submit(lambda: "fine")
        assert third.done.wait(10)
        assert first.state == "done" and (third.state, third.result) == ("done", "fine")
    finally:
        jobs.close()


def test_only_the_last_results_are_kept_and_dropped_ones_are_cleaned_up():
    class Result:
        cleaned = 0

        def cleanup(self):
            Result.cleaned += 1

    jobs = JobQueue(keep=2)
    try:
        done = [jobs.submit(Result) for _ in range(5)]
        for job in done:
            assert job.done.wait(10)
        time.sleep(0.05)
        assert [jobs.get(j.id) is not None for j in done] == [False, False, False, True, True]
        assert Result.cleaned == 3
    finally:
        jobs.close()
    assert Result.cleaned == 5


# ---- the server ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoint(module_tmp: Path) -> Path:
    return random_checkpoint(module_tmp / "model.safetensors")


@pytest.fixture(scope="module")
def app_url(checkpoint: Path):
    settings = AppSettings(
        checkpoint=str(checkpoint), max_megapixels=0.5, max_upload_mb=1, max_video_seconds=2
    )
    with running_app(load(checkpoint, batch_size=1), settings) as url:
        yield url


def _request(url: str, data: bytes | None = None, timeout: float = 60) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def _submit(app_url: str, data: bytes, query: str, route: str = "jobs") -> tuple[int, dict]:
    status, body, _ = _request(f"{app_url}api/{route}?{query}", data)
    return status, json.loads(body)


def _wait(app_url: str, job_id: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, body, _ = _request(f"{app_url}api/jobs/{job_id}")
        job = json.loads(body)
        assert status == 200, job
        if job["state"] in ("done", "error"):
            return job
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_downloads_are_the_files_predict_writes_for_the_same_image_and_options(
    app_url, checkpoint, tmp_path
):
    photo = _photo(tmp_path / "desk.png", size=(200, 150), seed=3)
    status, job = _submit(app_url, photo.read_bytes(), "filename=desk.png&fov=70")
    assert status == 202, job
    result = _wait(app_url, job["id"])["result"]
    assert (result["width"], result["height"]) == (200, 150)
    assert "--fov 70" in result["command"]
    out = tmp_path / "predicted"
    save = result["command"].split("--save ")[1].split()[0]
    code = main(
        [
            *("predict", "--checkpoint", str(checkpoint), str(photo), "--out", str(out)),
            *("--save", save, "--fov", "70", "--quiet"),
        ]
    )
    assert code == 0
    assert {"png16", "npy", "ply", "json"} <= {d["kind"] for d in result["downloads"]}
    assert result["focal_source"] == "--fov 70"
    for download in result["downloads"]:
        status, body, headers = _request(app_url.rstrip("/") + download["url"])
        assert status == 200
        assert download["file"] in headers["content-disposition"]
        assert body == (out / download["file"]).read_bytes(), download["kind"]


def test_a_photos_exif_focal_is_used_as_predict_uses_a_files(app_url, checkpoint, tmp_path):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 26  # FocalLengthIn35mmFilm: a phone's main camera
    photo = _photo(tmp_path / "phone.jpg", size=(160, 120), seed=6, exif=exif)
    _, job = _submit(app_url, photo.read_bytes(), "filename=phone.jpg")
    result = _wait(app_url, job["id"])["result"]
    assert result["focal_source"] == "EXIF FocalLengthIn35mmFilm 26 mm"
    assert result["fx"] == pytest.approx(26 * 200 / 43.2666, rel=1e-4)  # diagonal 200 px
    out = tmp_path / "predicted"
    save = result["command"].split("--save ")[1].split()[0]
    args = ["predict", "--checkpoint", str(checkpoint), str(photo), "--out", str(out)]
    assert main([*args, "--save", save, "--quiet"]) == 0
    for download in result["downloads"]:
        _, body, _ = _request(app_url.rstrip("/") + download["url"])
        assert body == (out / download["file"]).read_bytes(), download["kind"]


def test_a_field_of_view_and_a_focal_length_together_are_refused(app_url, tmp_path):
    photo = _photo(tmp_path / "both.png")
    status, body = _submit(app_url, photo.read_bytes(), "filename=both.png&fov=60&focal=300")
    assert status == 400 and "not both" in body["error"]


def test_the_colour_image_is_predicts_for_the_range_asked(app_url, checkpoint, tmp_path):
    photo = _photo(tmp_path / "wall.png", size=(120, 90), seed=4)
    _, job = _submit(app_url, photo.read_bytes(), "filename=wall.png")
    result = _wait(app_url, job["id"])["result"]
    status, body, _ = _request(
        app_url.rstrip("/") + result["color_url"] + "?vmin=0.5&vmax=4&colorbar=1"
    )
    assert status == 200
    out = tmp_path / "predicted"
    args = ["predict", "--checkpoint", str(checkpoint), str(photo), "--out", str(out)]
    main([*args, "--save", "color", "--colorbar", "--vmin", "0.5", "--vmax", "4", "--quiet"])
    assert body == (out / "wall.color.png").read_bytes()
    _, plain, _ = _request(app_url.rstrip("/") + result["color_url"])
    assert Image.open(io.BytesIO(plain)).size == (120, 90)  # the page's image: no bar
    status, body, _ = _request(app_url.rstrip("/") + result["color_url"] + "?vmin=3&vmax=1")
    assert status == 400 and "0 < min < max" in json.loads(body)["error"]


def test_the_3d_points_are_the_ply_points_of_every_kth_pixel(app_url, tmp_path):
    photo = _photo(tmp_path / "room.png", size=(100, 80), seed=5)
    _, job = _submit(app_url, photo.read_bytes(), "filename=room.png")
    result = _wait(app_url, job["id"])["result"]
    _, points, _ = _request(app_url.rstrip("/") + result["points_url"])
    n = result["view_points"]
    assert n == 100 * 80 and len(points) == 15 * n  # small enough: every pixel
    xyz = np.frombuffer(points[: 12 * n], "<f4").reshape(n, 3)
    ply_url = next(d["url"] for d in result["downloads"] if d["kind"] == "ply")
    _, ply, _ = _request(app_url.rstrip("/") + ply_url)
    body = ply[ply.index(b"end_header\n") + len(b"end_header\n") :]
    vertices = np.frombuffer(body, dtype=[("xyz", "<f4", 3), ("rgb", "u1", 3)])
    np.testing.assert_array_equal(xyz, vertices["xyz"])
    np.testing.assert_array_equal(
        np.frombuffer(points[12 * n :], np.uint8).reshape(n, 3), vertices["rgb"]
    )


def test_bad_uploads_get_a_readable_error_and_the_next_upload_works(app_url, tmp_path):
    status, body = _submit(app_url, b"not a photo at all\n", "filename=notes.jpg")
    assert status == 400 and "notes.jpg is not an image this app can read" in body["error"]
    big = _photo(tmp_path / "big.png", size=(1000, 600), noise=False)  # over this app's 0.5 MP
    status, body = _submit(app_url, big.read_bytes(), "filename=big.png")
    assert status == 413 and "big.png is 0.6 megapixels (1000x600)" in body["error"]
    status, body = _submit(app_url, b"\0" * (2 * 2**20), "filename=huge.png")
    assert status == 413 and "1 MB upload limit" in body["error"]
    status, body = _submit(app_url, big.read_bytes()[:100], "filename=x.png&fov=500")
    assert status == 400 and "between 0 and 180 degrees" in body["error"]
    status, body = _submit(app_url, b"", "filename=empty.jpg")
    assert status == 400 and "empty.jpg is empty" in body["error"]
    status, job = _submit(app_url, _photo(tmp_path / "ok.png").read_bytes(), "filename=ok.png")
    assert status == 202
    assert _wait(app_url, job["id"])["state"] == "done"


def test_several_users_queue_and_each_gets_their_own_result(app_url, tmp_path):
    photos = [_photo(tmp_path / f"p{i}.png", size=(64 + 16 * i, 48), seed=i) for i in range(3)]
    answers: list = [None] * 3

    def user(i):
        _, job = _submit(app_url, photos[i].read_bytes(), f"filename=p{i}.png")
        answers[i] = _wait(app_url, job["id"])

    threads = [threading.Thread(target=user, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [a["result"]["name"] for a in answers] == ["p0", "p1", "p2"]
    assert [a["result"]["width"] for a in answers] == [64, 80, 96]


def test_the_model_card_says_what_the_checkpoint_records(app_url):
    status, body, _ = _request(f"{app_url}api/model")
    assert status == 200
    model = json.loads(body)
    card = model["card"]
    assert (
        card["input_size"] == "96x72" and card["stage"] == "fine" and card["steps"] == {"fine": 1}
    )
    assert "not recorded" in card["training_data"]
    assert len(model["colormap"]) == 256 and model["colormap"][0] == "#000004"  # magma: far


def test_the_page_and_its_scripts_are_served_and_name_nothing_outside(app_url):
    status, page, _ = _request(app_url)
    assert status == 200 and b"msdepth" in page
    for name in ("app.js", "viewer.js", "style.css"):
        status, body, _ = _request(f"{app_url}static/{name}")
        assert status == 200
        assert b"http://" not in body and b"https://" not in body, name
    assert b"http://" not in page and b"https://" not in page


@pytest.mark.slow
def test_example_rooms_are_rendered_by_the_synthetic_renderer(app_url):
    from msdepth.app.examples import EXAMPLE_SPLIT
    from msdepth.synth import render_sample

    # the first example of a fresh checkout compiles the renderer's kernels (numba, cold cache):
    # seconds on a free core, more than a minute on a loaded 2-core machine
    status, body, _ = _request(f"{app_url}api/examples/room-2.png", timeout=600)
    assert status == 200
    rgb, _ = render_sample(0, EXAMPLE_SPLIT, 1, size=(640, 480))
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(body))), rgb)
    status, body, _ = _request(f"{app_url}api/examples/room-9.png")
    assert status == 404 and "room-1" in json.loads(body)["error"]


def test_a_loopback_app_answers_only_loopback_host_names(app_url):
    port = app_url.rsplit(":", 1)[1].strip("/")
    request = urllib.request.Request(app_url, headers={"Host": f"rebound.example:{port}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400
    status, _, _ = _request(f"http://localhost:{port}/api/model")
    assert status == 200


# ---- alignment to known depths ----------------------------------------------------------------
def _upload_points(app_url: str, path: Path) -> str:
    status, body, _ = _request(f"{app_url}api/points?filename={path.name}", path.read_bytes())
    assert status == 201, body
    return json.loads(body)["id"]


def _tape(path: Path, rows: list[tuple[float, float, float]]) -> Path:
    path.write_text("u,v,depth_m\n" + "".join(f"{u},{v},{d}\n" for u, v, d in rows))
    return path


def _lidar(path: Path, size: tuple[int, int]) -> Path:
    """A sparse depth image (NYU millimetres, 0 = no reading) with a reading every 15 pixels."""
    w, h = size
    mm = np.zeros((h, w), np.uint16)
    yy, xx = np.mgrid[0:h:15, 0:w:15]
    mm[yy, xx] = (1500 + 10 * xx + 20 * yy).astype(np.uint16)
    Image.fromarray(mm).save(path)
    return path


@pytest.mark.parametrize(("points", "mode"), [("tape.csv", "scale"), ("lidar.png", "scale-shift")])
def test_aligned_downloads_are_the_files_predict_writes_with_align(
    app_url, checkpoint, tmp_path, monkeypatch, points, mode
):
    photo = _photo(tmp_path / "hall.png", size=(150, 100), seed=8)
    if points.endswith(".csv"):
        rows = [(10 * i + 5, 7 * i + 3, 1.5 + 0.2 * i) for i in range(12)]
        known = _tape(tmp_path / points, rows)
    else:
        known = _lidar(tmp_path / points, (150, 100))
    points_id = _upload_points(app_url, known)
    _, job = _submit(
        app_url, photo.read_bytes(), f"filename=hall.png&points={points_id}&align_mode={mode}"
    )
    result = _wait(app_url, job["id"])["result"]
    assert result["aligned"] and result["alignment"]["mode"] == mode
    assert result["alignment"]["source"] == points
    assert result["alignment"]["held_out"] >= 1
    assert f"--align {points} --align-mode {mode}" in result["command"]
    monkeypatch.chdir(tmp_path)  # predict names the points as given: --align tape.csv
    save = result["command"].split("--save ")[1].split()[0]
    args = ["predict", "--checkpoint", str(checkpoint), "hall.png", "--out", "predicted"]
    assert main([*args, "--save", save, "--align", points, "--align-mode", mode, "--quiet"]) == 0
    for download in result["downloads"]:
        _, body, _ = _request(app_url.rstrip("/") + download["url"])
        assert body == (tmp_path / "predicted" / download["file"]).read_bytes(), download["kind"]
    meta = json.loads((tmp_path / "predicted" / "hall.json").read_text())
    assert meta["aligned"] is True


@pytest.mark.parametrize(
    ("rows", "what"),
    [
        ([(5, 5, 2.0), (500, 5, 2.0), (9, 9, 3.0)], "outside the 120x90 image"),
        ([(5, 5, 2.0), (6, 6, float("nan")), (9, 9, 3.0)], "not a positive finite number"),
        ([(5, 5, 2.0)], "needs at least 2"),
    ],
)
def test_a_bad_points_file_gets_predicts_message_and_the_next_upload_works(
    app_url, checkpoint, tmp_path, monkeypatch, capsys, rows, what
):
    photo = _photo(tmp_path / "shelf.png", size=(120, 90), seed=9)
    points_id = _upload_points(app_url, _tape(tmp_path / "tape.csv", rows))
    status, job = _submit(app_url, photo.read_bytes(), f"filename=shelf.png&points={points_id}")
    error = job["error"] if status != 202 else _wait(app_url, job["id"])["error"]
    monkeypatch.chdir(tmp_path)
    args = ["predict", "--checkpoint", str(checkpoint), "shelf.png", "--out", "predicted"]
    assert main([*args, "--align", "tape.csv", "--quiet"]) == 2
    said = capsys.readouterr().err.strip()
    assert what in error and "\n" not in error
    assert said == f"msdepth predict: error: {error}"
    status, job = _submit(app_url, photo.read_bytes(), "filename=shelf.png")
    assert status == 202
    done = _wait(app_url, job["id"])
    assert done["state"] == "done" and done["result"]["aligned"] is False


# ---- the video tab ---------------------------------------------------------------------------
def test_a_clip_gives_the_depth_video_predict_writes(app_url, checkpoint, tmp_path):
    av = pytest.importorskip("av", reason="PyAV (the video extra) is not installed")
    clip = panning_clip(tmp_path / "walk.mp4", frames=10, size=(64, 48))
    status, job = _submit(app_url, clip.read_bytes(), "filename=walk.mp4&fov=60", "videos")
    assert status == 202, job
    result = _wait(app_url, job["id"])["result"]
    assert result["kind"] == "video" and result["frames"] == 10
    (download,) = result["downloads"]
    assert download["file"] == "walk.depth.mp4"
    status, body, headers = _request(app_url.rstrip("/") + download["url"])
    assert status == 200 and headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(body)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 10 and frames[0].shape == (48, 64, 3)
    out = tmp_path / "predicted"
    flags = result["command"].split("--out out ")[1].split()
    assert flags == ["--save", "video", "--fov", "60"]
    assert main(["predict", "--checkpoint", str(checkpoint), str(clip), "--out", str(out),
                 *flags, "--quiet"]) == 0  # fmt: skip
    assert body == (out / "walk.depth.mp4").read_bytes()


def test_an_undecodable_or_too_long_clip_gets_a_message_and_the_next_works(app_url, tmp_path):
    pytest.importorskip("av", reason="PyAV (the video extra) is not installed")
    status, body = _submit(
        app_url, b"a text file with a video's name\n", "filename=trip.mp4", "videos"
    )
    assert status == 400, body
    assert body["error"].startswith("video trip.mp4 cannot be opened")
    assert "choose an mp4" in body["error"] and "/" not in body["error"].split("(")[0]
    long = panning_clip(tmp_path / "long.mp4", frames=30, rate=10)  # 3 s; this app takes 2
    status, body = _submit(app_url, long.read_bytes(), "filename=long.mp4", "videos")
    assert (
        status == 413 and "long.mp4 is 3.0 s long; this app takes clips up to 2 s" in body["error"]
    )
    short = panning_clip(tmp_path / "short.mp4", frames=4)
    status, job = _submit(app_url, short.read_bytes(), "filename=short.mp4", "videos")
    assert status == 202
    assert _wait(app_url, job["id"])["state"] == "done"


def test_without_the_video_extra_the_video_tab_says_how_to_install_it(app_url, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "av", None)  # as if PyAV were not installed
    _, body, _ = _request(f"{app_url}api/model")
    video = json.loads(body)["video"]
    assert video["available"] is False and "pip install 'msdepth[video]'" in video["message"]
    status, body = _submit(app_url, b"\0" * 100, "filename=clip.mp4", "videos")
    assert status == 400 and body["error"] == video["message"]


# ---- the command -----------------------------------------------------------------------------
def test_the_app_listens_on_this_machine_only_unless_told():
    from msdepth.cli.main import build_parser

    args = build_parser().parse_args(["app", "--checkpoint", "run"])
    assert (args.host, args.port, args.device) == ("127.0.0.1", 7860, "auto")


def test_a_port_in_use_is_a_one_line_error(checkpoint, capsys):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        code = main(["app", "--checkpoint", str(checkpoint), "--port", str(port), "--quiet"])
    finally:
        taken.close()
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith(f"msdepth app: error: cannot listen on 127.0.0.1:{port}")
    assert "--port 0" in err and len(err.splitlines()) == 1


def test_a_missing_checkpoint_is_a_one_line_error(tmp_path, capsys):
    code = main(["app", "--checkpoint", str(tmp_path / "nope"), "--port", "0"])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_without_the_app_extra_the_command_says_how_to_install_it(checkpoint, monkeypatch, capsys):
    import sys

    monkeypatch.delitem(sys.modules, "msdepth.app.server")
    for module in [m for m in sys.modules if m.split(".")[0] in ("starlette", "uvicorn")]:
        monkeypatch.setitem(sys.modules, module, None)  # as if never installed
    code = main(["app", "--checkpoint", str(checkpoint), "--port", "0"])
    assert code == 2
    assert "pip install 'msdepth[app]'" in capsys.readouterr().err

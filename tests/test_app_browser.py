"""`msdepth app` driven by a real headless browser (Debian's chromium through Playwright).

The app is served on a free port of 127.0.0.1 with a small model; the browser uploads a real
photo, waits for the depth, downloads the 16-bit PNG and compares it with `msdepth predict`'s,
opens the 3D view, reads the depth under the pointer, and is refused an undecodable and a
40-megapixel upload with a readable message before the next upload works; in the video tab it
uploads a clip and plays its depth video. Every request the page makes is recorded: none may
leave 127.0.0.1. Skips with the reason when Playwright or
chromium is missing (`make test` and `.ci/run` install both).
"""

from __future__ import annotations

import base64
import io
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from clips import panning_clip
from conftest import SHARED_DATA
from fake_models import random_checkpoint
from msdepth.cli.main import main
from msdepth.inference import load

pytest.importorskip("starlette", reason="the app extra is not installed: pip install -e '.[app]'")
playwright = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: pip install -e '.[dev]'"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("CI"):
    pytest.fail("CI must run the browser test: .ci/run installs chromium", pytrace=False)
if CHROMIUM is None:
    pytest.skip(
        "no chromium on PATH for the browser test: apt-get install chromium (make test and "
        ".ci/run do this where they run as root)",
        allow_module_level=True,
    )

from app_server import running_app  # noqa: E402
from msdepth.app.results import DOWNLOAD_KINDS  # noqa: E402
from msdepth.app.server import AppSettings  # noqa: E402

pytestmark = pytest.mark.slow
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-unsafe-swiftshader",  # WebGL on the CPU, as a machine without a GPU has it
]
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def checkpoint(module_tmp: Path) -> Path:
    return random_checkpoint(module_tmp / "model.safetensors")


@pytest.fixture(scope="module")
def photo(module_tmp: Path) -> Path:
    """A real photo: an NYU test image where ../shared/data has them, else a rendered room."""
    nyu = SHARED_DATA / "nyu-test" / "nyu2_test" / "00000_colors.png"
    if nyu.is_file():
        return nyu
    from msdepth.synth import render_sample

    rgb, _ = render_sample(7, "test", 0, size=(640, 480))
    path = module_tmp / "room.png"
    Image.fromarray(rgb).save(path)
    return path


@pytest.fixture(scope="module")
def app_url(checkpoint: Path):
    settings = AppSettings(checkpoint=str(checkpoint))
    with running_app(load(checkpoint, batch_size=1), settings) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Page:
    """A fresh browser page on the app, recording every request and console message."""

    def __init__(self, browser, url: str, downloads: Path):
        self.context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.requests: list[str] = []
        self.console: list[tuple[str, str]] = []
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e))))
        self.downloads = downloads
        self.page.goto(url)
        self.page.wait_for_selector("#examples button")  # the model card has loaded

    def upload(self, path: Path) -> None:
        self.page.set_input_files("#file-input", str(path))

    def wait_for_depth(self, name: str) -> None:
        self.page.wait_for_function(
            "name => document.querySelector('#depth-image').dataset.ready === '1'"
            " && document.querySelector('#message').textContent.startsWith(name + ':')",
            arg=name,
        )

    def message(self) -> tuple[str, bool]:
        text = self.page.text_content("#message") or ""
        is_error = self.page.eval_on_selector("#message", "m => m.classList.contains('error')")
        return text, is_error

    def errors(self) -> list[tuple[str, str]]:
        return [(kind, text) for kind, text in self.console if kind in ("error", "pageerror")]

    def hosts(self) -> set[str]:
        return {
            urlsplit(url).hostname or url for url in self.requests if not url.startswith("blob:")
        }


def _canvas_pixels(page, selector: str) -> np.ndarray:
    """The pixels an <img> or <canvas> shows, read back as a PNG through a 2D canvas, (H, W, 3)."""
    url = page.eval_on_selector(
        selector,
        """el => {
            const c = document.createElement('canvas');
            c.width = el.naturalWidth || el.width; c.height = el.naturalHeight || el.height;
            c.getContext('2d').drawImage(el, 0, 0);
            return c.toDataURL('image/png');
        }""",
    )
    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_upload_depth_download_and_3d_view_in_a_real_browser(
    browser, app_url, checkpoint, photo, tmp_path
):
    view = Page(browser, app_url, tmp_path)
    page = view.page
    view.upload(photo)
    view.wait_for_depth(photo.stem)

    width, height = Image.open(photo).size
    shown = _canvas_pixels(page, "#depth-image")
    assert shown.shape[:2] == (height, width)  # the depth image is the photo's size
    assert len(np.unique(shown.reshape(-1, 3), axis=0)) > 50  # not blank

    with page.expect_download() as download:
        page.click("#download-png16")
    saved = tmp_path / "from-browser.png"
    download.value.save_as(saved)
    assert download.value.suggested_filename == f"{photo.stem}.depth.png"
    out = tmp_path / "predicted"
    code = main(
        [
            *("predict", "--checkpoint", str(checkpoint), str(photo), "--out", str(out)),
            # the page's downloads: the PNG's text chunk lists every file written beside it
            *("--save", ",".join(DOWNLOAD_KINDS), "--quiet"),
        ]
    )
    assert code == 0
    assert saved.read_bytes() == (out / f"{photo.stem}.depth.png").read_bytes()
    depth_mm = np.asarray(Image.open(saved))
    assert depth_mm.dtype == np.uint16 and depth_mm.shape == (height, width)

    box = page.locator("#depth-image").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("document.querySelector('#hover').textContent.endsWith(' m')")
    where, value = page.text_content("#hover").split(": ")
    x, y = (int(v) for v in where.removeprefix("pixel (").rstrip(")").split(", "))
    assert abs(x - width // 2) <= 1 and abs(y - height // 2) <= 1
    assert abs(float(value.removesuffix(" m")) - depth_mm[y, x] / 1000) <= 0.001

    page.click("#tab-3d")
    page.wait_for_selector("#viewer[data-points]")
    page.wait_for_timeout(300)
    rendered = _canvas_pixels(page, "#viewer").astype(int)
    background = rendered[0, 0]
    assert (np.abs(rendered - background).sum(axis=2) > 30).mean() > 0.05  # points drawn
    viewer = page.locator("#viewer").bounding_box()
    page.mouse.move(viewer["x"] + 300, viewer["y"] + 300)
    page.mouse.down()
    page.mouse.move(viewer["x"] + 420, viewer["y"] + 330, steps=5)
    page.mouse.up()
    turned = _canvas_pixels(page, "#viewer").astype(int)
    assert np.abs(turned - rendered).sum() > 0  # dragging turns the cloud

    assert view.errors() == []
    assert view.hosts() == {"127.0.0.1"}, sorted(view.requests)
    view.context.close()


def test_undecodable_and_40_megapixel_uploads_get_a_message_then_the_next_works(
    browser, app_url, photo, tmp_path
):
    not_a_photo = tmp_path / "holiday.jpg"
    not_a_photo.write_text("This is a text file with an image's name.\n")
    huge = tmp_path / "panorama.jpg"  # 40 megapixels, as a camera writes them
    Image.new("RGB", (8000, 5000), (120, 140, 160)).save(huge, quality=85)

    view = Page(browser, app_url, tmp_path)
    view.upload(not_a_photo)
    view.page.wait_for_function("document.querySelector('#message').classList.contains('error')")
    text, is_error = view.message()
    assert is_error and text.startswith("holiday.jpg is not an image this app can read")

    view.upload(huge)
    view.page.wait_for_function(
        "document.querySelector('#message').textContent.startsWith('panorama.jpg')"
    )
    text, is_error = view.message()
    assert is_error
    assert "panorama.jpg is 40.0 megapixels (8000x5000)" in text and "resize" in text

    view.upload(photo)
    view.wait_for_depth(photo.stem)
    assert view.message()[1] is False
    # the browser logs each refused request's status, and nothing else
    assert [
        text
        for _, text in view.errors()
        if "status of 400" not in text and "status of 413" not in text
    ] == []
    assert view.hosts() == {"127.0.0.1"}
    view.context.close()


def test_a_clip_in_the_video_tab_plays_as_a_depth_video_in_a_real_browser(
    browser, app_url, tmp_path
):
    pytest.importorskip("av", reason="PyAV (the video extra) is not installed")
    clip = panning_clip(tmp_path / "walk.mp4", frames=12, size=(160, 120), rate=12)
    view = Page(browser, app_url, tmp_path)
    page = view.page
    page.click("#tab-video")
    page.set_input_files("#video-input", str(clip))
    page.wait_for_selector("#depth-video[data-ready='1']")
    size = page.eval_on_selector("#depth-video", "v => [v.videoWidth, v.videoHeight, v.duration]")
    assert size[:2] == [160, 120] and abs(size[2] - 1.0) < 0.1  # 12 frames at 12 fps
    assert (page.text_content("#video-message") or "").startswith("walk: 12 frames")
    link = page.get_attribute("#download-video", "download")
    assert link == "walk.depth.mp4"
    assert view.errors() == []
    assert view.hosts() == {"127.0.0.1"}, sorted(view.requests)
    view.context.close()

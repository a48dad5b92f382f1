"""The README's picture of `msdepth app`: the page with one of its example rooms predicted.

    python docs/make_app_screenshot.py --checkpoint demo-out/run [--example room-1]

Serves the app on a free local port, opens it in Debian's chromium (Playwright), clicks the
example room, waits for the depth, points at the middle of it, and writes
docs/images/app.png (and, with --3d, docs/images/app_3d.png of the 3D view).
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the test helper that serves the app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--example", default="room-3")
    parser.add_argument("--out", type=Path, default=HERE / "images" / "app.png")
    parser.add_argument("--3d", dest="three_d", action="store_true", help="also the 3D view")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from app_server import running_app
    from msdepth.app.server import AppSettings
    from msdepth.inference import load

    predictor = load(args.checkpoint, batch_size=1)
    settings = AppSettings(checkpoint=args.checkpoint)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with running_app(predictor, settings) as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 760})
        page.set_default_timeout(300_000)
        page.goto(url)
        page.click(f"#example-{args.example}")
        page.wait_for_function("document.querySelector('#depth-image').dataset.ready === '1'")
        box = page.locator("#depth-image").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.6)
        page.wait_for_function("document.querySelector('#hover').textContent.endsWith(' m')")
        _save(page.screenshot(), args.out)
        if args.three_d:
            page.click("#tab-3d")
            page.wait_for_selector("#viewer[data-points]")
            viewer = page.locator("#viewer").bounding_box()
            page.mouse.move(viewer["x"] + 450, viewer["y"] + 300)
            page.mouse.down()
            page.mouse.move(viewer["x"] + 510, viewer["y"] + 285, steps=8)
            page.mouse.up()
            _save(page.screenshot(), args.out.with_name(args.out.stem + "_3d.png"))
        browser.close()


def _save(png: bytes, path: Path) -> None:
    """A small PNG: the screenshot quantised to 256 colours."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()

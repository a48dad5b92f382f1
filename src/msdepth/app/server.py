"""The app's web server: one page of its own, a small JSON API, served by Starlette and uvicorn.

| route | what |
|---|---|
| ``GET /`` | the page (``static/index.html``; its script, style and 3D viewer are in ``static/``) |
| ``GET /api/model`` | the model card (`model_card`) and the page's settings |
| ``GET /api/examples/NAME.png`` | a built-in synthetic room (`examples`) |
| ``POST /api/points?filename=`` | known depths for ``--align`` (a CSV of u,v,depth_m or a sparse depth image) as the body; ``{"id", "name"}`` |
| ``POST /api/jobs?filename=&fov=&focal=&flip=&points=&align_mode=&depth_format=`` | the image's bytes as the body: decoded (or refused with a readable ``error``), the points read for its size, then queued; ``{"id", "position"}`` |
| ``POST /api/videos?filename=&fov=&focal=&flip=&stabilize=&panel=&colorbar=`` | a clip's bytes as the body: checked (`videos.check_clip`), then queued as a job |
| ``GET /api/jobs/ID`` | ``{"state": queued|running|done|error, "position", "result", "error"}`` |
| ``GET /api/results/ID/files/KIND`` | a download, the file `predict` writes (``png16``, ``npy``, ``ply``, ..., ``video``) |
| ``GET /api/results/ID/color.png?vmin=&vmax=&colorbar=`` | the colour depth over a range |
| ``GET /api/results/ID/points.bin`` | the 3D view's thinned points: float32 xyz, then uint8 rgb |

Nothing is fetched from elsewhere: the page uses system fonts and its own scripts, so it works
with no internet, and tests check that no request leaves 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from msdepth.app.examples import EXAMPLES, example_png
from msdepth.app.jobs import JobQueue, QueueFull
from msdepth.app.model_card import model_card
from msdepth.app.points import PointsStore, read_uploaded_points
from msdepth.app.results import PageOptions, Prediction, colormap_hex, predict_to_folder
from msdepth.app.uploads import (
    DEFAULT_MAX_MEGAPIXELS,
    DEFAULT_MAX_UPLOAD_MB,
    DEFAULT_MAX_VIDEO_SECONDS,
    UploadError,
    UploadTooLarge,
    decode_upload,
    output_name,
    upload_exif,
)
from msdepth.app.videos import (
    VideoOptions,
    check_clip,
    clip_path,
    predict_clip_to_folder,
    video_support,
)
from msdepth.errors import ConfigError, DataError, MsdepthError
from msdepth.inference.align import ALIGN_MODES

STATIC = Path(__file__).resolve().parent / "static"
NO_CACHE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class AppSettings:
    """Limits of one app: upload size, pixels, waiting requests, results kept."""

    checkpoint: str = "RUN"  # how the page's equivalent `predict` command names the model
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    max_video_seconds: float = DEFAULT_MAX_VIDEO_SECONDS
    max_waiting: int = 32
    keep_results: int = 8
    # Host headers answered; None = any. For a loopback address only loopback names, so that a
    # web page elsewhere cannot reach the app through a DNS name rebound to 127.0.0.1.
    allowed_hosts: tuple[str, ...] | None = ("127.0.0.1", "localhost", "[::1]", "::1")


def create_app(predictor: Any, settings: AppSettings | None = None) -> Starlette:
    """The Starlette application serving ``predictor`` (a `DepthPredictor`)."""
    settings = settings or AppSettings()
    card = model_card(predictor)
    colormap = colormap_hex()
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["root"] = Path(tempfile.mkdtemp(prefix="msdepth-app-"))
        state["jobs"] = JobQueue(settings.max_waiting, settings.keep_results)
        state["points"] = PointsStore(state["root"])
        try:
            yield
        finally:
            await run_in_threadpool(state["jobs"].close)
            shutil.rmtree(state["root"], ignore_errors=True)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers=NO_CACHE)

    async def model(request: Request) -> Response:
        from msdepth.data.depth_formats import DEPTH_FORMATS

        video_message = video_support()
        return JSONResponse(
            {
                "card": card,
                "colormap": colormap,
                "examples": [
                    {"name": name, "url": f"/api/examples/{name}.png"} for name in EXAMPLES
                ],
                "max_megapixels": settings.max_megapixels,
                "max_upload_mb": settings.max_upload_mb,
                "align_modes": list(ALIGN_MODES),
                "depth_formats": DEPTH_FORMATS,
                "video": {
                    "available": video_message is None,
                    "message": video_message,
                    "max_seconds": settings.max_video_seconds,
                },
            }
        )

    async def example(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in EXAMPLES:
            return _error(404, f"there is no example {name!r}; choose one of {', '.join(EXAMPLES)}")
        data = await run_in_threadpool(example_png, name)
        return Response(data, media_type="image/png")

    def upload_limit() -> int:
        return int(settings.max_upload_mb * 2**20)

    async def add_points(request: Request) -> Response:
        filename = request.query_params.get("filename") or "points.csv"
        try:
            data = await _read_body(request, upload_limit(), filename)
            points_id, name = await run_in_threadpool(state["points"].add, data, filename)
        except UploadError as exc:
            return _error(exc.status, str(exc))
        return JSONResponse({"id": points_id, "name": name}, 201)

    async def submit(request: Request) -> Response:
        query = request.query_params
        filename = query.get("filename") or "image"
        try:
            stored = None
            if query.get("points"):
                stored = state["points"].get(query["points"])
                if stored is None:
                    raise DataError("the points file is no longer kept; choose it again")
            options = PageOptions(
                **_camera_fields(query),
                points_name=stored.name if stored is not None else None,
                align_mode=query.get("align_mode") or "scale",
                depth_format=query.get("depth_format") or "nyu",
            )
            data = await _read_body(request, upload_limit(), filename)
            rgb = await run_in_threadpool(
                decode_upload, data, filename, int(settings.max_megapixels * 1e6)
            )
            exif = await run_in_threadpool(upload_exif, data)
            points = None
            if stored is not None:
                height, width = rgb.shape[:2]
                points = await run_in_threadpool(
                    read_uploaded_points, stored, width, height, options.depth_format
                )
        except UploadError as exc:
            return _error(exc.status, str(exc))
        except MsdepthError as exc:
            return _error(400, str(exc))
        root = state["root"]
        try:
            job = state["jobs"].submit(
                lambda: predict_to_folder(predictor, rgb, filename, options, root, exif, points)
            )
        except QueueFull as exc:
            return _error(503, str(exc))
        return JSONResponse({"id": job.id, "position": state["jobs"].position(job)}, 202)

    async def queue_video(request: Request, filename: str, folder: Path) -> Any:
        """Check the tab's options and the clip (stored in ``folder``), then queue it."""
        query = request.query_params
        flag = _flag(query)
        options = VideoOptions(
            PageOptions(**_camera_fields(query)),
            stabilize=flag("stabilize", True),
            panel=flag("panel", False),
            colorbar=flag("colorbar", False),
        )
        message = video_support()
        if message is not None:
            raise UploadError(message)
        data = await _read_body(request, upload_limit(), filename)
        if not data:
            raise UploadError(f"{filename} is empty (0 bytes); choose a video clip")
        clip = clip_path(folder, filename)
        clip.parent.mkdir()
        await run_in_threadpool(clip.write_bytes, data)
        del data
        max_pixels = int(settings.max_megapixels * 1e6)
        await run_in_threadpool(check_clip, clip, filename, max_pixels, settings.max_video_seconds)
        name = output_name(filename)
        return state["jobs"].submit(
            lambda: predict_clip_to_folder(predictor, clip, filename, name, options, folder)
        )

    async def submit_video(request: Request) -> Response:
        filename = request.query_params.get("filename") or "clip.mp4"
        folder = Path(tempfile.mkdtemp(prefix="result-", dir=state["root"]))
        try:
            job = await queue_video(request, filename, folder)
        except BaseException as exc:
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(exc, UploadError):
                return _error(exc.status, str(exc))
            if isinstance(exc, QueueFull):
                return _error(503, str(exc))
            if isinstance(exc, MsdepthError):
                return _error(400, str(exc))
            raise
        return JSONResponse({"id": job.id, "position": state["jobs"].position(job)}, 202)

    async def job_status(request: Request) -> Response:
        jobs: JobQueue = state["jobs"]
        job = jobs.get(request.path_params["id"])
        if job is None:
            return _error(404, "this result is no longer kept; run the prediction again")
        body: dict[str, Any] = {"state": job.state}
        if job.state == "queued":
            body["position"] = jobs.position(job)
        elif job.state == "done":
            body["result"] = job.result.describe(f"/api/results/{job.id}", settings.checkpoint)
        elif job.state == "error":
            body["error"] = job.error
        return JSONResponse(body, headers=NO_CACHE)

    def finished(request: Request) -> Any:
        job = state["jobs"].get(request.path_params["id"])
        return job.result if job is not None and job.state == "done" else None

    async def download(request: Request) -> Response:
        result = finished(request)
        kind = request.path_params["kind"]
        if result is None or kind not in result.files:
            return _error(404, "this result is no longer kept; run the prediction again")
        path = result.files[kind]
        return FileResponse(path, filename=path.name, media_type=_media_type(path))

    async def color(request: Request) -> Response:
        result = finished(request)
        if not isinstance(result, Prediction):
            return _error(404, "this result is no longer kept; run the prediction again")
        query = request.query_params
        try:
            vmin = _number(query.get("vmin"), "colour range start")
            vmax = _number(query.get("vmax"), "colour range end")
            vmin = result.vmin if vmin is None else vmin
            vmax = result.vmax if vmax is None else vmax
            colorbar = query.get("colorbar") in ("1", "true")
            path = await run_in_threadpool(result.color_png, vmin, vmax, colorbar)
        except DataError as exc:
            return _error(400, str(exc))
        headers = {"Content-Disposition": f'inline; filename="{path.name}"'}
        return FileResponse(path, media_type="image/png", headers=headers)

    async def points(request: Request) -> Response:
        result = finished(request)
        if not isinstance(result, Prediction):
            return _error(404, "this result is no longer kept; run the prediction again")
        return FileResponse(
            result.page_folder / "points.bin", media_type="application/octet-stream"
        )

    routes = [
        Route("/", page),
        Route("/api/model", model),
        Route("/api/examples/{name}.png", example),
        Route("/api/points", add_points, methods=["POST"]),
        Route("/api/jobs", submit, methods=["POST"]),
        Route("/api/videos", submit_video, methods=["POST"]),
        Route("/api/jobs/{id}", job_status),
        Route("/api/results/{id}/files/{kind}", download),
        Route("/api/results/{id}/color.png", color),
        Route("/api/results/{id}/points.bin", points),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = []
    if settings.allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts))
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def _camera_fields(query: Any) -> dict[str, Any]:
    """The form's camera fields (``fov``, ``focal``, ``flip``) as `PageOptions` arguments."""
    return {
        "fov": _number(query.get("fov"), "field of view"),
        "focal": _number(query.get("focal"), "focal length"),
        "flip_tta": _flag(query)("flip", False),
    }


def _flag(query: Any) -> Any:
    """``flag(name, default)``: a check box of the form (1/true/on, 0/false/off, absent)."""

    def flag(name: str, default: bool) -> bool:
        value = (query.get(name) or "").strip().lower()
        if not value:
            return default
        return value in ("1", "true", "on", "yes")

    return flag


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())}, status_code=status)


def _number(text: str | None, what: str) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise DataError(f"{what} must be a finite number, got {text!r}")
    return value


async def _read_body(request: Request, limit: int, filename: str) -> bytes:
    """The request body, refused past ``limit`` bytes (the rest is read and dropped: see
    `_discard_rest`)."""
    too_big = UploadTooLarge(
        f"{filename} is larger than this app's {limit / 2**20:g} MB upload limit; "
        "resize the photo first (or start the app with a larger --max-upload-mb)"
    )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            await _discard_rest(request, size, limit)
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


async def _discard_rest(request: Request, size: int, limit: int) -> None:
    """Read and drop the rest of a refused body, so that the client, still sending, reads the
    413 and its message instead of a reset connection; past 16x the limit (or 1 GB) the
    connection is cut instead: such a client is not a page uploading a photo."""
    cap = min(16 * limit, 2**30)
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            return


def _media_type(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".png"):
        return "image/png"
    if name.endswith(".json"):
        return "application/json"
    if name.endswith(".mp4"):
        return "video/mp4"
    return "application/octet-stream"


def open_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0 = any free port), or a one-line error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host!r} is not an address of this machine ({exc})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port "
            "(--port 0 takes any free one)"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/"


def make_server(app: Starlette, quiet: bool = True) -> Any:
    """A uvicorn server for ``app``; ``server.run(sockets=[sock])`` serves until
    ``server.should_exit`` is set (Ctrl+C sets it)."""
    import uvicorn

    config = uvicorn.Config(
        app, log_level="warning" if quiet else "info", access_log=not quiet, lifespan="on"
    )
    return uvicorn.Server(config)

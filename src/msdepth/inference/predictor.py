"""`DepthPredictor`: images in, metric depth maps at each image's own size out.

``msdepth.load(path)`` returns one; ``predictor.predict(image, focal=None, fov=None)`` takes a
file path, a PIL image or an (H, W, 3) uint8 array and returns float32 metres of shape (H, W);
``predictor.infer(...)`` returns a `Prediction` (depth, K, metadata; optionally aligned to known
depths). The method (resize, network, log-space bilinear upsampling, the focal rule) is
`msdepth.inference.whole_frame` and `msdepth.inference.camera`, the same for PyTorch and ONNX
and the same that `msdepth evaluate` scores.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from msdepth.config import Config
from msdepth.errors import DataError
from msdepth.inference.align import DepthPoints, fit_alignment, read_points
from msdepth.inference.backends import Backend, OnnxBackend, TorchBackend
from msdepth.inference.camera import (
    CameraSpec,
    DepthCamera,
    depth_camera,
    exif_focal,
    read_exif,
)
from msdepth.inference.canonical_view import from_canonical, to_canonical
from msdepth.inference.result import Prediction
from msdepth.inference.whole_frame import scale_correction, to_network_input

T = TypeVar("T")
ImageLike = Any  # str | Path | PIL.Image.Image | np.ndarray


def as_rgb(image: ImageLike) -> np.ndarray:
    """A path, PIL image or array -> (H, W, 3) uint8 RGB (grey arrays are repeated to 3 channels)."""
    from PIL import Image

    from msdepth.data.images import read_rgb, rgb_from_pil

    if isinstance(image, (str, Path)):
        return read_rgb(image)
    if isinstance(image, Image.Image):
        return rgb_from_pil(image)
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise DataError(
                f"image arrays must be uint8 (0..255), got {image.dtype}; "
                "convert with (x * 255).round().astype(np.uint8)"
            )
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] != 3:
            raise DataError(f"image arrays must be (H, W, 3) RGB, got shape {image.shape}")
        return image
    raise DataError(
        f"cannot predict on a {type(image).__name__}; pass a path, a PIL image or an "
        "(H, W, 3) uint8 array"
    )


class DepthPredictor:
    """A model plus the whole-frame method; see `msdepth.inference.whole_frame`."""

    def __init__(self, backend: Backend, source: str | Path | None = None, batch_size: int = 8):
        if batch_size < 1:
            raise DataError(f"batch size must be at least 1, got {batch_size}")
        self.backend = backend
        self.source = Path(source) if source is not None else None
        self.batch_size = batch_size

    @property
    def config(self) -> Config:
        return self.backend.config

    @property
    def device(self) -> str:
        return self.backend.device

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) the network takes."""
        return self.config.model.input_width, self.config.model.input_height

    @property
    def scale_correction(self) -> float:
        """The whole-frame factor ``input_width / reference_width``: the focal rule's factor
        for an image of the training camera's field of view (or of unknown focal)."""
        return scale_correction(self.config.model)

    def camera(
        self,
        image: ImageLike,
        width: int,
        height: int,
        spec: CameraSpec | None = None,
        name: str | None = None,
    ) -> DepthCamera:
        """K and depth factor for ``image`` (``width`` x ``height`` as shown): ``spec``'s
        focal or field of view, else the image's EXIF (paths and PIL images), else the
        training camera (`msdepth.inference.camera`)."""
        spec = spec or CameraSpec()
        exif = None if isinstance(spec.focal, float) or spec.fov is not None else read_exif(image)
        label = name or (str(image) if isinstance(image, (str, Path)) else "image")
        focal = spec.focal_length(width, height, exif, label)
        why = exif_focal(exif, width, height)[1] if focal is None and exif else ""
        return depth_camera(self.config.model, width, height, focal, spec, why)

    def __repr__(self) -> str:
        w, h = self.input_size
        return f"DepthPredictor({self.source}, backend={self.backend.name}, input={w}x{h}, device={self.device})"

    # ---- the network at its own resolution ---------------------------------------------------
    def predict_log_depth(self, images: list[ImageLike], flip_tta: bool = False) -> np.ndarray:
        """Network output (N, h, w) log depth for whole frames; ``flip_tta`` averages the
        prediction of each image and of its mirror image (mirrored back), in log space."""
        w, h = self.input_size
        batch = np.stack([to_network_input(as_rgb(im), w, h) for im in images])
        if not flip_tta:
            return self.backend(batch)
        both = self.backend(np.concatenate([batch, batch[..., ::-1]]))
        n = len(images)
        return 0.5 * (both[:n] + both[n:, :, ::-1])

    # ---- full-resolution metric depth ----------------------------------------------------------
    def predict(
        self,
        image: ImageLike,
        flip_tta: bool = False,
        focal: float | str | None = None,
        fov: float | None = None,
    ) -> np.ndarray:
        """float32 metres at the image's size (H, W). ``focal``: horizontal focal length in
        pixels of the image (or ``"exif"``: from its EXIF, required); ``fov``: horizontal field
        of view in degrees; neither: EXIF when usable, else the training camera."""
        return self.infer(image, flip_tta=flip_tta, focal=focal, fov=fov).depth

    __call__ = predict

    def infer(
        self,
        image: ImageLike,
        focal: float | str | None = None,
        fov: float | None = None,
        *,
        camera: CameraSpec | None = None,
        align: str | Path | DepthPoints | None = None,
        align_mode: str = "scale",
        depth_format: str = "nyu",
        flip_tta: bool = False,
    ) -> Prediction:
        """One call for people who build on msdepth: a `Prediction` with depth, K and metadata.

        ``camera`` gives the full camera (focal or fov, plus fy, cx, cy) instead of
        ``focal``/``fov``. ``align``: known depths (a CSV of u,v,depth_m, a sparse depth image
        in ``depth_format``, or `DepthPoints`) to fit the prediction to with ``align_mode``
        ``"scale"`` or ``"scale-shift"`` (`msdepth.inference.align`).
        """
        spec = camera if camera is not None else CameraSpec(focal=focal, fov=fov)
        (_, result), *_ = self.infer_stream(
            [image], camera_of=lambda item, w, h: self.camera(item, w, h, spec), flip_tta=flip_tta
        )
        if align is not None:
            result = self.align(result, align, align_mode, depth_format)
        return result

    def align(
        self,
        prediction: Prediction,
        points: str | Path | DepthPoints,
        mode: str = "scale",
        depth_format: str = "nyu",
    ) -> Prediction:
        """``prediction`` fitted to known depths (`msdepth.inference.align`)."""
        h, w = prediction.depth.shape
        if not isinstance(points, DepthPoints):
            points = read_points(points, w, h, depth_format)
        fit = fit_alignment(prediction.depth, points, mode)
        return Prediction(
            fit.apply(prediction.depth), prediction.camera, prediction.model, fit,
            dict(prediction.extra),
        )  # fmt: skip

    def predict_batch(
        self,
        images: Iterable[ImageLike],
        flip_tta: bool = False,
        batch_size: int | None = None,
        focal: float | str | None = None,
        fov: float | None = None,
    ) -> list[np.ndarray]:
        """One float32 depth map per image, each at its own size; run in batches; ``focal``
        or ``fov`` as for `predict` (the same camera for every image)."""
        spec = CameraSpec(focal=focal, fov=fov)
        return [
            p.depth
            for _, p in self.infer_stream(
                images,
                camera_of=lambda item, w, h: self.camera(item, w, h, spec),
                flip_tta=flip_tta,
                batch_size=batch_size,
            )
        ]

    def predict_stream(
        self,
        items: Iterable[T],
        rgb_of: Callable[[T], ImageLike] | None = None,
        size_of: Callable[[T], tuple[int, int]] | None = None,
        flip_tta: bool = False,
        batch_size: int | None = None,
        camera_of: Callable[[T, int, int], DepthCamera] | None = None,
        log_filter: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    ) -> Iterator[tuple[T, np.ndarray]]:
        """Yield ``(item, depth)`` in order, reading ``rgb_of(item)`` lazily, ``batch_size`` at
        a time (so a long list of files is never all in memory). Depth comes at the image's
        size, or at ``size_of(item)`` = (H, W) when given (evaluation: the ground truth's).
        ``camera_of(item, W, H)`` gives each image's camera (default: the training camera's
        field of view, the factor ``scale_correction``). ``log_filter(log_depth, rgb)``, called
        once per item in order, may change the network's log depth first (e.g.
        `msdepth.inference.stabilize.Stabilizer` for video frames)."""
        for item, prediction in self.infer_stream(
            items,
            rgb_of,
            size_of,
            camera_of,
            flip_tta=flip_tta,
            batch_size=batch_size,
            log_filter=log_filter,
        ):
            yield item, prediction.depth

    def infer_stream(
        self,
        items: Iterable[T],
        rgb_of: Callable[[T], ImageLike] | None = None,
        size_of: Callable[[T], tuple[int, int]] | None = None,
        camera_of: Callable[[T, int, int], DepthCamera] | None = None,
        flip_tta: bool = False,
        batch_size: int | None = None,
        log_filter: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    ) -> Iterator[tuple[T, Prediction]]:
        """`predict_stream` yielding `Prediction`s: depth with the K and metadata of each.

        An image narrower than the training camera (``DepthCamera.shrink < 1``) goes through
        the network as its canonical view (`msdepth.inference.canonical_view`)."""
        model = str(self.source) if self.source is not None else None
        rgb_of = rgb_of or (lambda item: item)
        seen: deque[tuple[np.ndarray, DepthCamera]] = deque()

        def network_rgb(item: T) -> np.ndarray:
            rgb = as_rgb(rgb_of(item))
            rh, rw = rgb.shape[:2]
            camera = (
                camera_of(item, rw, rh)
                if camera_of
                else depth_camera(self.config.model, rw, rh, None)
            )
            seen.append((rgb, camera))
            return rgb if camera.shrink >= 1 else to_canonical(rgb, camera.shrink)

        for item, _, log in self.predict_log_stream(
            items, network_rgb, flip_tta=flip_tta, batch_size=batch_size
        ):
            rgb, camera = seen.popleft()
            rh, rw = rgb.shape[:2]
            if camera.shrink < 1:
                log = from_canonical(log, camera.shrink)
            if log_filter is not None:
                log = log_filter(log, rgb)
            h, w = size_of(item) if size_of else (rh, rw)
            if (h, w) != (rh, rw):
                camera = dataclasses.replace(
                    camera, intrinsics=camera.intrinsics.scaled(w / rw, h / rh)
                )
            depth = self.backend.metric_depth(log, h, w, camera.depth_factor)
            yield item, Prediction(depth, camera, model)

    def predict_log_stream(
        self,
        items: Iterable[T],
        rgb_of: Callable[[T], ImageLike] | None = None,
        flip_tta: bool = False,
        batch_size: int | None = None,
        log_filter: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    ) -> Iterator[tuple[T, np.ndarray, np.ndarray]]:
        """Yield ``(item, rgb, log_depth)`` in order: the network's output at its own
        resolution, batched and lazy as `infer_stream` (which upsamples these and applies
        the focal rule)."""
        size = batch_size or self.batch_size
        rgb_of = rgb_of or (lambda item: item)
        pending: list[tuple[T, np.ndarray]] = []

        def flush() -> Iterator[tuple[T, np.ndarray, np.ndarray]]:
            log_depth = self.predict_log_depth([rgb for _, rgb in pending], flip_tta=flip_tta)
            for (item, rgb), log in zip(pending, log_depth, strict=True):
                yield item, rgb, (log if log_filter is None else log_filter(log, rgb))
            pending.clear()

        for item in items:
            pending.append((item, as_rgb(rgb_of(item))))
            if len(pending) == size:
                yield from flush()
        if pending:
            yield from flush()


def load(
    path: str | Path, device: str = "auto", batch_size: int = 8, threads: int | None = None
) -> DepthPredictor:
    """A predictor from a checkpoint file, a run folder, or an ``.onnx`` file from `export`.

    ``device``: ``auto`` (CUDA where PyTorch sees a GPU, else CPU), ``cpu``, ``cuda[:N]``.
    """
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        return DepthPredictor(OnnxBackend(path, threads=threads), path, batch_size)
    from msdepth.checkpoint import load_model
    from msdepth.inference.backends import check_device

    device = check_device(device)
    model, info = load_model(path, device=device)
    return DepthPredictor(TorchBackend(model, info.config, device), info.path, batch_size)

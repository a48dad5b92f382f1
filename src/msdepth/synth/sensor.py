"""What a Kinect adds to a perfect rendering: depth noise and holes; exposure, blur, image noise.

Depth (after Nguyen, Izadi and Lovell, 3DIMPVT 2012): axial noise sigma(z) = 1.2 mm +
1.9 mm (z - 0.4)^2; no reading nearer than 0.5 m or beyond 10 m, at grazing angles, on dark
and glossy surfaces, in the projector's shadow beside depth edges, and in a few random blobs.
Noise comes from fixed tables cropped at random offsets (drawn from the image's own generator):
as deterministic as drawing it, and far cheaper than 300k normal samples per image.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

MIN_DEPTH = 0.5  # metres: the Kinect's near limit
MAX_DEPTH = 10.0  # metres: beyond this NYU (and we) store no depth
_TABLE = 512


@lru_cache(maxsize=1)
def _noise_tables() -> tuple[np.ndarray, np.ndarray]:
    """A white Gaussian field and a smooth (blob-scale) one, unit variance, fixed forever;
    each stored tiled 2 x 2 so that any window up to the table size is a plain slice."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0x4B494E45)
    white = rng.standard_normal((_TABLE, _TABLE), dtype=np.float32)
    smooth = gaussian_filter(rng.standard_normal((_TABLE, _TABLE)), 5.0, mode="wrap")
    smooth = (smooth / smooth.std()).astype(np.float32)
    white, smooth = np.tile(white, (2, 2)), np.tile(smooth, (2, 2))
    for t in (white, smooth):
        t.flags.writeable = False
    return white, smooth


def noise_crop(table: np.ndarray, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """An (h, w) window of a noise table at a random offset (tiled when the image is larger)."""
    n = table.shape[0] // 2
    y, x = rng.integers(0, n, size=2)
    if h > n or w > n:
        table = np.tile(table, (-(-(h + n) // (2 * n)), -(-(w + n) // (2 * n))))
    return table[y : y + h, x : x + w]


def kinect_depth(
    depth: np.ndarray,
    grazing: np.ndarray,
    luminance: np.ndarray,
    gloss: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Exact z-depth (H, W) -> Kinect-like depth with noise and 0 where the sensor has none.

    ``grazing`` is |cos| of the angle between ray and normal, ``luminance`` the surface's
    albedo luminance, ``gloss`` the specular highlight strength (all (H, W)).
    """
    white, smooth = _noise_tables()
    h, w = depth.shape
    z = depth
    sigma = 0.0012 + 0.0019 * (z - 0.4) ** 2
    out = z + sigma * noise_crop(white, rng, h, w)
    blobs = noise_crop(smooth, rng, h, w)
    missing = ~np.isfinite(z) | (z < MIN_DEPTH) | (z > MAX_DEPTH)
    missing |= grazing < 0.08 + 0.04 * blobs
    missing |= luminance < 0.012 * (1.0 + blobs)  # dark surfaces return no pattern
    missing |= gloss > 0.6 + 0.2 * np.abs(blobs)  # specular highlights blind the sensor
    missing |= blobs > rng.uniform(2.6, 4.0)  # occasional holes (hair, fabric, IR sunlight)
    # The projector sits beside the camera: background just right of a near edge is unlit.
    band = max(1, round(w / 160))
    left_nearer = np.zeros_like(missing)
    jump = z[:, :-1] < z[:, 1:] * 0.9
    for k in range(band):
        left_nearer[:, 1 + k :] |= jump[:, : w - 1 - k]
    missing |= left_nearer
    out[missing] = 0.0
    return out.astype(np.float32)


def clean_depth(depth: np.ndarray) -> np.ndarray:
    """Exact z-depth with only the range limits of the sensor applied (0 = no reading)."""
    ok = np.isfinite(depth) & (depth >= MIN_DEPTH) & (depth <= MAX_DEPTH)
    return np.where(ok, depth, 0.0).astype(np.float32)


@lru_cache(maxsize=4)
def _radius2(h: int, w: int) -> np.ndarray:
    """Squared distance from the image centre, 1 at the corners (for vignetting)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
    r2.flags.writeable = False
    return r2


GAMMA_STEPS = 4096
_GAMMA = (np.arange(GAMMA_STEPS + 1, dtype=np.float64) / GAMMA_STEPS) ** (1 / 2.2)
_GAMMA = _GAMMA.astype(np.float32)


def _blur3(img: np.ndarray) -> np.ndarray:
    """[1 2 1]/4 blur along both image axes of a (C, H, W) image (edges repeated)."""
    q = np.float32(0.25)
    rows = img * np.float32(0.5)
    rows[:, 1:] += img[:, :-1] * q
    rows[:, :-1] += img[:, 1:] * q
    rows[:, 0] += img[:, 0] * q
    rows[:, -1] += img[:, -1] * q
    out = rows * np.float32(0.5)
    out[:, :, 1:] += rows[:, :, :-1] * q
    out[:, :, :-1] += rows[:, :, 1:] * q
    out[:, :, 0] += rows[:, :, 0] * q
    out[:, :, -1] += rows[:, :, -1] * q
    return out


def camera_image(radiance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Linear radiance (3, H, W) -> (H, W, 3) uint8 display image: auto exposure with error,
    white balance, vignetting, gamma, lens blur, noise and quantisation."""
    white, _ = _noise_tables()
    _, h, w = radiance.shape
    exposure = rng.uniform(0.14, 0.3) / max(float(radiance.mean()), 1e-4)
    gains = (exposure * (1.0 + rng.uniform(-0.08, 0.08, size=3))).astype(np.float32)
    vignette = 1.0 - np.float32(rng.uniform(0.0, 0.4)) * _radius2(h, w)
    img = np.empty_like(radiance)
    for c in range(3):
        np.multiply(radiance[c], vignette * (gains[c] * GAMMA_STEPS), out=img[c])
    np.minimum(img, np.float32(GAMMA_STEPS), out=img)
    img = np.take(_GAMMA, img.astype(np.intp))  # display gamma 1/2.2 by table
    blur = np.float32(rng.uniform(0.3, 1.0))
    img += blur * (_blur3(img) - img)
    level = np.float32(rng.uniform(0.2, 1.2))
    sigma = (np.float32(0.006) + np.float32(0.012) * np.sqrt(img)) * level
    for c in range(3):
        img[c] += sigma[c] * noise_crop(white, rng, h, w)
    img = np.clip(img * np.float32(255) + np.float32(0.5), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img.transpose(1, 2, 0))

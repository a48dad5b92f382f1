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
GLINT = 0.6  # highlight strength above which the sensor may lose the pattern


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
    albedo luminance (both (H, W)), ``gloss`` the specular highlight strength, (H, W) or at
    half resolution ((ceil(H/2), ceil(W/2)), as `shading.shade` returns it).
    """
    white, smooth = _noise_tables()
    h, w = depth.shape
    z = depth
    sigma = z - np.float32(0.4)
    np.square(sigma, out=sigma)
    sigma *= np.float32(0.0019)
    sigma += np.float32(0.0012)
    sigma *= noise_crop(white, rng, h, w)
    out = np.add(z, sigma, out=sigma)
    blobs = noise_crop(smooth, rng, h, w)
    missing = ~np.isfinite(z)
    missing |= z < MIN_DEPTH
    missing |= z > MAX_DEPTH
    missing |= grazing < 0.08 + 0.04 * blobs
    missing |= luminance < 0.012 * (1.0 + blobs)  # dark surfaces return no pattern
    if gloss.shape != (h, w) and (gloss > GLINT).any():  # rare: most frames have no glint
        gloss = np.repeat(np.repeat(gloss, 2, axis=0), 2, axis=1)[:h, :w]
    if gloss.shape == (h, w):
        missing |= gloss > GLINT + 0.2 * np.abs(blobs)  # specular highlights blind the sensor
    missing |= blobs > rng.uniform(2.6, 4.0)  # occasional holes (hair, fabric, IR sunlight)
    # The projector sits beside the camera: background just right of a near edge is unlit.
    band = max(1, round(w / 160))
    left_nearer = np.zeros_like(missing)
    jump = z[:, :-1] < z[:, 1:] * 0.9
    for k in range(band):
        left_nearer[:, 1 + k :] |= jump[:, : w - 1 - k]
    missing |= left_nearer
    np.copyto(out, np.float32(0.0), where=missing)
    return out.astype(np.float32, copy=False)


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
# The same table in output units (0-255) with the rounding offset of the final truncation.
_GAMMA_255 = (_GAMMA.astype(np.float64) * 255 + 0.5).astype(np.float32)


def _blur_mix(img: np.ndarray, strength: np.float32) -> np.ndarray:
    """Lens blur of a (C, H, W) image (edges repeated): the separable 3-tap kernel
    [s/4, 1 - s/2, s/4] along each axis, i.e. the [1 2 1]/4 blur mixed with the image at
    strength s per axis (the same spread as mixing the 2-D [1 2 1] blur at s).

    The neighbours are shifted views of the flat image (contiguous: one fast pass each) of the
    image times s/4, computed once per axis; the pixels where a shift wraps to the next row or
    channel are redone afterwards. Four passes per axis, no temporaries.
    """
    c, q = np.float32(1) - strength / np.float32(2), strength / np.float32(4)
    w = img.shape[2]
    f = img.reshape(-1)
    side = np.multiply(f, q)
    rows = np.multiply(f, c)
    rows[1:] += side[:-1]  # left neighbour
    rows[:-1] += side[1:]  # right neighbour
    r3 = rows.reshape(img.shape)
    r3[:, :, 0] = img[:, :, 0] * (c + q) + img[:, :, 1] * q
    r3[:, :, -1] = img[:, :, -1] * (c + q) + img[:, :, -2] * q
    np.multiply(rows, q, out=side)
    out = np.multiply(rows, c, out=f)  # the input is not needed any more
    out[w:] += side[:-w]  # row above
    out[:-w] += side[w:]  # row below
    o3 = out.reshape(img.shape)
    o3[:, 0] = r3[:, 0] * (c + q) + r3[:, 1] * q
    o3[:, -1] = r3[:, -1] * (c + q) + r3[:, -2] * q
    return o3


def camera_image(radiance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Linear radiance (3, H, W) -> (H, W, 3) uint8 display image: auto exposure with error,
    white balance, vignetting, gamma, lens blur, noise and quantisation.

    Works in output units (0-255, plus the 0.5 of rounding) from the gamma table on, so the
    last step is a clip and a cast. The radiance array is overwritten.
    """
    white, _ = _noise_tables()
    _, h, w = radiance.shape
    exposure = rng.uniform(0.14, 0.3) / max(float(radiance.mean()), 1e-4)
    gains = (exposure * (1.0 + rng.uniform(-0.08, 0.08, size=3))).astype(np.float32)
    vignette = np.float32(GAMMA_STEPS) - np.float32(rng.uniform(0.0, 0.4) * GAMMA_STEPS) * _radius2(
        h, w
    )
    img = np.multiply(radiance, vignette, out=radiance)
    img *= gains[:, None, None]
    # display gamma 1/2.2 by table; intp indices (an int32 cast is 3x slower, and take would
    # convert them again) and mode="clip" instead of a pass clamping to the table's end
    img = np.take(_GAMMA_255, img.astype(np.intp), mode="clip")
    img = _blur_mix(img, np.float32(rng.uniform(0.3, 1.0)))
    # Signal-dependent noise: sigma = (0.006 + 0.012 sqrt(x)) * level for x in [0, 1]. The blur
    # mixes values >= 0.5 (the rounding offset) with weights summing to 1, so x >= 0 up to
    # float rounding, which the 1e-3 below covers (a change in sigma of < 0.01 grey levels).
    level = rng.uniform(0.2, 1.2)
    sigma = np.subtract(img, np.float32(0.5 - 1e-3))
    np.sqrt(sigma, out=sigma)
    sigma *= np.float32(0.012 * 255 / np.sqrt(255) * level)
    sigma += np.float32(0.006 * 255 * level)
    for c in range(3):
        sigma[c] *= noise_crop(white, rng, h, w)
    img += sigma
    np.clip(img, 0, 255, out=img)
    img8 = img.astype(np.uint8)  # planar, then interleaved: faster than a strided cast
    return np.stack([img8[0], img8[1], img8[2]], axis=-1)

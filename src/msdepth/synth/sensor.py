"""What a Kinect adds to a perfect rendering: depth noise and holes; exposure, blur, image noise.

Depth (after Nguyen, Izadi and Lovell, 3DIMPVT 2012): axial noise sigma(z) = 1.2 mm +
1.9 mm (z - 0.4)^2; no reading nearer than 0.5 m or beyond 10 m, at grazing angles, on dark
and glossy surfaces, in the projector's shadow beside depth edges, and in a few random blobs.
Noise comes from fixed tables cropped at random offsets (drawn from the image's own generator):
as deterministic as drawing it, and far cheaper than 300k normal samples per image.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from msdepth.synth._jit import kernel

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


def noise_window(
    table: np.ndarray, rng: np.random.Generator, h: int, w: int
) -> tuple[np.ndarray, int, int]:
    """A random (h, w) window of a noise table: the table (tiled further when the image is
    larger than it) and the window's (row, column) offset, drawn from ``rng``."""
    n = table.shape[0] // 2
    y, x = rng.integers(0, n, size=2)
    if h > n or w > n:
        table = np.tile(table, (-(-(h + n) // (2 * n)), -(-(w + n) // (2 * n))))
    return table, int(y), int(x)


@kernel
def _kinect(
    z, grazing, lum, gloss, gshift, glints, white, w_at, smooth, s_at, holes, band, out
):  # pragma: no cover
    """One pass of the Kinect model over (H, W) exact depth ``z``: noise, then 0 where the sensor
    has no reading. ``gloss`` is indexed at (y >> gshift, x >> gshift), and only if ``glints``
    (most frames have none). The noise windows start at ``w_at`` in ``white`` and at ``s_at``
    in ``smooth``: rows of a C-contiguous table from a column offset, so the loop over a row
    still vectorises (a strided window would not)."""
    h, w = z.shape
    # jump[band + j]: depth drops by 10 % from column j + 1 to j (zeros before column 0)
    jump = np.zeros(w - 1 + band, np.bool_)
    edge = np.empty(w, np.bool_)
    for y in range(h):
        zr, gr, lr = z[y], grazing[y], lum[y]
        wr, br = white[w_at[0] + y, w_at[1] :], smooth[s_at[0] + y, s_at[1] :]
        # The projector sits beside the camera: background just right of a near edge (a jump
        # at columns x - band .. x - 1) is unlit. Separate short loops: each one vectorises.
        for j in range(w - 1):
            jump[band + j] = zr[j] < zr[j + 1] * np.float32(0.9)
        edge[:] = jump[:w]
        for k in range(1, band):
            for x in range(w):
                edge[x] |= jump[x + k]
        for x in range(w):
            zz, b = zr[x], br[x]
            ok = (zz >= np.float32(MIN_DEPTH)) & (zz <= np.float32(MAX_DEPTH))  # nan, inf: no
            ok &= gr[x] >= np.float32(0.08) + np.float32(0.04) * b  # grazing angles
            ok &= lr[x] >= np.float32(0.012) * (np.float32(1.0) + b)  # dark surfaces
            ok &= b <= holes  # occasional holes (hair, fabric, IR sunlight)
            ok &= edge[x] == 0
            sigma = zz - np.float32(0.4)
            sigma = (sigma * sigma) * np.float32(0.0019) + np.float32(0.0012)
            out[y, x] = zz + sigma * wr[x] if ok else np.float32(0.0)
        if glints:  # specular highlights blind the sensor (rare: most frames have none)
            glr = gloss[y >> gshift]
            for x in range(w):
                if glr[x >> gshift] > np.float32(GLINT) + np.float32(0.2) * abs(br[x]):
                    out[y, x] = 0


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
    h, w = depth.shape
    (white, *w_at), (smooth, *s_at) = (noise_window(t, rng, h, w) for t in _noise_tables())
    holes = np.float32(rng.uniform(2.6, 4.0))
    gshift = 0 if gloss.shape == (h, w) else 1
    band = max(1, round(w / 160))
    out = np.empty((h, w), np.float32)
    f32 = [np.ascontiguousarray(a, np.float32) for a in (depth, grazing, luminance, gloss)]
    glints = bool((gloss > GLINT).any())
    _kinect(
        *f32[:4], gshift, glints, white, np.array(w_at), smooth, np.array(s_at), holes, band, out
    )
    return out


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


@kernel
def _develop(
    radiance, gains, vignette, r2, gamma, strength, level, noise, at, out, g, rows
):  # pragma: no cover
    """Radiance (3, H, W) -> ``out`` (3, H, W) uint8 in three passes (``g``, ``rows``: (3, H, W)
    scratch): exposure, vignetting and gamma by table; lens blur along rows; blur along
    columns, signal-dependent noise (unit Gaussian windows of the ``noise`` table at offsets ``at`` (3, 2)) and
    quantisation.

    Works in output units (0-255, plus the 0.5 of rounding) from the gamma table on, so the
    last step is a clip and a cast. The blur is the separable 3-tap kernel [s/4, 1 - s/2, s/4]
    along each axis (edges repeated): the [1 2 1]/4 blur mixed with the image at strength s.
    """
    _, h, w = radiance.shape
    top = gamma.size - 1
    for ch in range(3):
        for y in range(h):
            rr, gr, vr = radiance[ch, y], g[ch, y], r2[y]
            for x in range(w):
                v = rr[x] * (vignette[0] - vignette[1] * vr[x]) * gains[ch]
                gr[x] = gamma[int(min(max(v, np.float32(0)), np.float32(top)))]
    c, q = np.float32(1) - strength / np.float32(2), strength / np.float32(4)
    for ch in range(3):
        for y in range(h):
            gr, rr = g[ch, y], rows[ch, y]
            rr[0] = gr[0] * (c + q) + gr[1] * q
            for x in range(1, w - 1):
                rr[x] = gr[x] * c + gr[x - 1] * q + gr[x + 1] * q
            rr[w - 1] = gr[w - 1] * (c + q) + gr[w - 2] * q
    # Signal-dependent noise: sigma = (0.006 + 0.012 sqrt(x)) * level for x in [0, 1]. The blur
    # mixes values >= 0.5 (the rounding offset) with weights summing to 1, so x >= 0 up to
    # float rounding, which the 1e-3 below covers (a change in sigma of < 0.01 grey levels).
    a = np.float32(0.012 * 255 / np.sqrt(255) * level)
    b = np.float32(0.006 * 255 * level)
    for ch in range(3):
        for y in range(h):
            mid, ur, dr = rows[ch, y], rows[ch, max(y - 1, 0)], rows[ch, min(y + 1, h - 1)]
            if y == 0:
                ur = dr
            elif y == h - 1:
                dr = ur
            # edge rows: (c + q) x itself + q x its one neighbour; c x itself + q x (up + down)
            cm = c + q if y == 0 or y == h - 1 else c
            qu = np.float32(0) if y == 0 or y == h - 1 else q
            nr, orow = noise[at[ch, 0] + y, at[ch, 1] :], out[ch, y]
            for x in range(w):
                v = mid[x] * cm + ur[x] * qu + dr[x] * q
                sigma = np.sqrt(v - np.float32(0.5 - 1e-3)) * a + b
                v += sigma * nr[x]
                orow[x] = np.uint8(min(max(v, np.float32(0)), np.float32(255)))


@dataclass(frozen=True)
class CameraSettings:
    """What stays fixed while one camera films: the auto exposure's target (mean display level
    it aims at, with its error), white balance, vignetting, lens blur and noise level."""

    exposure_target: float
    white_balance: np.ndarray  # (3,) gain factors around 1
    vignetting: float
    blur: float
    noise_level: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> CameraSettings:
        """Settings of a random camera (the draws `camera_image` makes for a still photo)."""
        target = rng.uniform(0.14, 0.3)
        balance = 1.0 + rng.uniform(-0.08, 0.08, size=3)
        vignetting = rng.uniform(0.0, 0.4)
        return cls(target, balance, vignetting, rng.uniform(0.3, 1.0), rng.uniform(0.2, 1.2))


def camera_image(
    radiance: np.ndarray, rng: np.random.Generator, settings: CameraSettings | None = None
) -> np.ndarray:
    """Linear radiance (3, H, W) -> (H, W, 3) uint8 display image: auto exposure with error,
    white balance, vignetting, gamma, lens blur, noise and quantisation (see `_develop`).

    ``settings``: the camera's (a video keeps one camera's for every frame); drawn from ``rng``
    when None. Noise is always drawn from ``rng``.
    """
    white, _ = _noise_tables()
    _, h, w = radiance.shape
    cam = CameraSettings.draw(rng) if settings is None else settings
    exposure = cam.exposure_target / max(float(radiance.mean()), 1e-4)
    gains = (exposure * cam.white_balance).astype(np.float32)
    vignette = np.array([GAMMA_STEPS, cam.vignetting * GAMMA_STEPS], np.float32)
    strength = np.float32(cam.blur)
    level = cam.noise_level
    windows = [noise_window(white, rng, h, w) for _ in range(3)]
    noise, at = windows[0][0], np.array([[y, x] for _, y, x in windows])
    out = np.empty((3, h, w), np.uint8)
    g, rows = np.empty((3, h, w), np.float32), np.empty((3, h, w), np.float32)
    radiance = np.ascontiguousarray(radiance, np.float32)
    _develop(
        radiance,
        gains,
        vignette,
        _radius2(h, w),
        _GAMMA_255,
        strength,
        level,
        noise,
        at,
        out,
        g,
        rows,
    )
    return np.stack([out[0], out[1], out[2]], axis=-1)  # planar, then interleaved: one pass

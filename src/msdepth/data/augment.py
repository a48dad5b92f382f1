"""The paper's augmentation, applied to whole batches with one affine `grid_sample`.

Per sample (paper, "Augmentation"): scale s in [1, 1.5] with depth divided by s, rotation
+-5 degrees, a random 304x228 crop, RGB multiplied by a global colour c in [0.8, 1.2]^3, and a
horizontal flip with p = 0.5; and, not the paper's and off by default, a photometric
randomisation (`apply_tone`: gamma, saturation, contrast) for training on rendered rooms.
Scale, rotation, crop and flip are one affine map from output to source coordinates; RGB is sampled bilinearly at the network's input size, depth nearest at the
loss's 74x55 target size, so valid and invalid depth are never blended. Pixels that fall outside
the source image are invalid depth (and black RGB). Test time: centre crop at scale 1.

The random parameters and the affine matrices are drawn and built on the CPU (a few numbers per
sample, from the batch's own seeded generator); `warp` then runs on whatever device the pixels
are on, so the in-memory loader (`msdepth.data.in_memory`) augments on the GPU with the same
code and the same random stream as the loader's CPU workers.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from msdepth.config import AugmentConfig


class Batch(NamedTuple):
    """A batch ready for the network and the loss."""

    image: torch.Tensor  # (N, 3, H, W) float RGB in [0, 1] at the network's input size
    depth: torch.Tensor  # (N, 1, h, w) float metres at the output size, 0 where invalid
    mask: torch.Tensor  # (N, 1, h, w) bool, valid depth


class AugmentParams(NamedTuple):
    """Per-sample random parameters (all shape (N,) except colour (N, 3))."""

    scale: torch.Tensor
    angle: torch.Tensor  # radians
    shift_x: torch.Tensor  # crop centre offset in [-1, 1] of the available slack
    shift_y: torch.Tensor
    flip: torch.Tensor  # bool
    color: torch.Tensor  # (N, 3)
    tone: torch.Tensor | None = None  # (N, 3) gamma, saturation, contrast; None = unchanged


def sample_params(
    n: int, cfg: AugmentConfig, generator: torch.Generator | None = None
) -> AugmentParams:
    """Draw the paper's random parameters for ``n`` samples."""

    def uniform(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(*shape, generator=generator)

    rot = math.radians(cfg.rotation_deg)
    params = AugmentParams(
        scale=uniform(cfg.scale_min, cfg.scale_max, n),
        angle=uniform(-rot, rot, n),
        shift_x=uniform(-1.0, 1.0, n),
        shift_y=uniform(-1.0, 1.0, n),
        flip=torch.rand(n, generator=generator) < cfg.flip_prob,
        color=uniform(cfg.color_min, cfg.color_max, n, 3),
    )
    if not tone_enabled(cfg):  # the paper's draws only: its random stream is unchanged
        return params
    log_g = math.log(cfg.gamma_max)
    tone = torch.stack(
        [
            torch.exp(uniform(-log_g, log_g, n)),
            uniform(cfg.saturation_min, cfg.saturation_max, n),
            uniform(cfg.contrast_min, cfg.contrast_max, n),
        ],
        dim=1,
    )
    return params._replace(tone=tone)


def tone_enabled(cfg: AugmentConfig) -> bool:
    """Whether ``cfg`` asks for the photometric randomisation (gamma, saturation, contrast)."""
    return (
        cfg.gamma_max,
        cfg.saturation_min,
        cfg.saturation_max,
        cfg.contrast_min,
        cfg.contrast_max,
    ) != (1.0,) * 5


def apply_tone(image: torch.Tensor, tone: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> gamma, then saturation about each pixel's grey, then
    contrast about the image's mean, by the (N, 3) factors of ``tone``; clamped to [0, 1]."""
    gamma, saturation, contrast = (t.view(-1, 1, 1, 1) for t in tone.unbind(1))
    image = image.clamp(min=1e-6).pow(gamma)
    grey = image.mean(1, keepdim=True)
    image = grey + saturation * (image - grey)
    mean = image.mean((1, 2, 3), keepdim=True)
    return (mean + contrast * (image - mean)).clamp_(0.0, 1.0)


def draw_params(
    n: int, cfg: AugmentConfig, generator: torch.Generator | None = None, train: bool = True
) -> AugmentParams:
    """The paper's random parameters (``train`` and ``cfg.enabled``), else the test-time ones."""
    return sample_params(n, cfg, generator) if (train and cfg.enabled) else identity_params(n)


def identity_params(n: int) -> AugmentParams:
    """Test-time parameters: centre crop at scale 1, no rotation, flip or colour change."""
    return AugmentParams(
        scale=torch.ones(n),
        angle=torch.zeros(n),
        shift_x=torch.zeros(n),
        shift_y=torch.zeros(n),
        flip=torch.zeros(n, dtype=torch.bool),
        color=torch.ones(n, 3),
    )


def affine_theta(
    params: AugmentParams, source_wh: tuple[int, int], crop_wh: tuple[int, int]
) -> torch.Tensor:
    """(N, 2, 3) matrices mapping normalised crop coordinates to normalised source coordinates.

    The source (W, H) is scaled by s, rotated by the angle about its centre, and a crop of
    ``crop_wh`` pixels is taken at an offset inside the scaled image (flipped if asked). The
    same matrix serves any output resolution of that crop (304x228 for RGB, 74x55 for depth).
    """
    w, h = source_wh
    cw, ch = crop_wh
    s = params.scale
    sw, sh = s * w, s * h
    # The crop centre moves within the slack of the scaled image (never outside it).
    tx = params.shift_x * (sw - cw).clamp(min=0) / 2
    ty = params.shift_y * (sh - ch).clamp(min=0) / 2
    f = 1.0 - 2.0 * params.flip.float()
    cos, sin = torch.cos(params.angle), torch.sin(params.angle)
    theta = torch.empty(len(s), 2, 3, device=s.device)
    theta[:, 0, 0] = (2 / sw) * cos * f * cw / 2
    theta[:, 0, 1] = (2 / sw) * sin * ch / 2
    theta[:, 0, 2] = (2 / sw) * (cos * tx + sin * ty)
    theta[:, 1, 0] = -(2 / sh) * sin * f * cw / 2
    theta[:, 1, 1] = (2 / sh) * cos * ch / 2
    theta[:, 1, 2] = (2 / sh) * (-sin * tx + cos * ty)
    return theta


def apply_params(
    rgb: torch.Tensor,
    depth: torch.Tensor,
    params: AugmentParams,
    input_hw: tuple[int, int],
    output_hw: tuple[int, int],
) -> Batch:
    """Warp a batch: ``rgb`` (N, H, W, 3) uint8 and ``depth`` (N, H, W) metres (0 = invalid)."""
    _, h, w, _ = rgb.shape
    theta = affine_theta(params, (w, h), (input_hw[1], input_hw[0]))
    return warp(
        rgb, depth, theta, params.color, params.scale, input_hw, output_hw, tone=params.tone
    )


def warp(
    rgb: torch.Tensor,
    depth: torch.Tensor,
    theta: torch.Tensor,
    color: torch.Tensor,
    scale: torch.Tensor,
    input_hw: tuple[int, int],
    output_hw: tuple[int, int],
    tone: torch.Tensor | None = None,
) -> Batch:
    """The warp itself, on the device of ``rgb``: ``theta`` (N, 2, 3) from `affine_theta`,
    ``color`` (N, 3), ``scale`` (N,) and ``tone`` (N, 3, or None) from the parameters, all on
    that device too.

    ``rgb`` (N, H, W, 3) uint8; ``depth`` (N, H, W) metres in any float dtype (0 = invalid).
    """
    n = rgb.shape[0]
    image = rgb.permute(0, 3, 1, 2).float()  # 0..255; the /255 rides on the colour factor
    grid = F.affine_grid(theta, [n, 3, *input_hw], align_corners=False)
    image = F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    image = image.mul_((color / 255.0).view(n, 3, 1, 1)).clamp_(0.0, 1.0)
    if tone is not None:
        image = apply_tone(image, tone)
    dgrid = F.affine_grid(theta, [n, 1, *output_hw], align_corners=False)
    d = (
        torch.nan_to_num(depth.float(), nan=0.0, posinf=0.0, neginf=0.0)
        .clamp_(min=0.0)
        .unsqueeze(1)
    )
    d = F.grid_sample(d, dgrid, mode="nearest", padding_mode="zeros", align_corners=False)
    d = d / scale.view(n, 1, 1, 1)  # an image enlarged s times looks s times closer
    return Batch(image.contiguous(), d, d > 0)


def augment_batch(
    rgb: torch.Tensor,
    depth: torch.Tensor,
    cfg: AugmentConfig,
    input_hw: tuple[int, int] = (228, 304),
    output_hw: tuple[int, int] = (55, 74),
    generator: torch.Generator | None = None,
    train: bool = True,
) -> Batch:
    """Training augmentation (``train=True`` and ``cfg.enabled``) or the test-time centre crop."""
    params = draw_params(rgb.shape[0], cfg, generator, train)
    return apply_params(rgb, depth, params, input_hw, output_hw)

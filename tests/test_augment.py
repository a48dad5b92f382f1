"""The paper's augmentation applied to batches."""

import math

import numpy as np
import pytest
import torch

from msdepth.config import AugmentConfig
from msdepth.data.augment import AugmentParams, apply_params, augment_batch, identity_params


def _ramp(n=2, h=240, w=320):
    xx = torch.arange(w).float().expand(h, w)
    depth = (1.0 + xx / 100.0).expand(n, h, w).clone()
    rgb = (xx % 256).to(torch.uint8)[..., None].expand(n, h, w, 3).clone()
    return rgb, depth


def test_centre_crop_at_scale_one_copies_pixels_exactly():
    rgb, depth = _ramp()
    b = augment_batch(rgb, depth, AugmentConfig(), train=False)
    assert b.image.shape == (2, 3, 228, 304) and b.depth.shape == (2, 1, 55, 74)
    expected = rgb[:, 6:234, 8:312].permute(0, 3, 1, 2).float() / 255
    assert torch.allclose(b.image, expected, atol=1e-6)
    assert b.mask.all()


def test_depth_is_divided_by_the_scale():
    rgb, depth = _ramp(1)
    depth[:] = 3.0
    p = identity_params(1)._replace(scale=torch.tensor([1.5]))
    b = apply_params(rgb, depth, p, (228, 304), (55, 74))
    assert torch.allclose(b.depth[b.mask], torch.tensor(2.0))


def test_depth_is_sampled_nearest_so_invalid_never_blends():
    rgb, depth = _ramp(1)
    depth[:, :, ::2] = 0.0  # every other column invalid, distinct values in the others
    p = identity_params(1)._replace(scale=torch.tensor([1.3]), angle=torch.tensor([0.05]))
    b = apply_params(rgb, depth, p, (228, 304), (55, 74))
    source_values = np.unique(np.round(depth[depth > 0].numpy(), 4))
    sampled = np.round((b.depth[b.mask] * 1.3).numpy(), 4)
    assert b.mask.any() and (~b.mask).any()
    assert np.isin(sampled, source_values).all()  # every value is one source pixel's


def test_flip_mirrors_image_and_depth_together():
    rgb, depth = _ramp(1)
    flipped = identity_params(1)._replace(flip=torch.tensor([True]))
    a = apply_params(rgb, depth, identity_params(1), (228, 304), (55, 74))
    b = apply_params(rgb, depth, flipped, (228, 304), (55, 74))
    assert torch.allclose(b.image, a.image.flip(-1), atol=1e-5)
    assert torch.allclose(b.depth, a.depth.flip(-1), atol=1e-5)


def test_rotation_turns_a_vertical_edge():
    rgb, depth = _ramp(1)
    p = identity_params(1)._replace(angle=torch.tensor([math.radians(5)]))
    b = apply_params(rgb, depth, p, (228, 304), (55, 74))
    a = apply_params(rgb, depth, identity_params(1), (228, 304), (55, 74))
    # A horizontal ramp stays constant down a column unrotated, and varies down it when rotated.
    assert a.depth[0, 0, :, 37].std() < 1e-6
    assert b.depth[0, 0, :, 37].std() > 0.01


def test_colour_multiplies_channels_globally():
    rgb = torch.full((1, 240, 320, 3), 100, dtype=torch.uint8)
    depth = torch.ones(1, 240, 320)
    p = identity_params(1)._replace(color=torch.tensor([[0.8, 1.0, 1.2]]))
    b = apply_params(rgb, depth, p, (228, 304), (55, 74))
    assert torch.allclose(
        b.image[0, :, 100, 100], torch.tensor([80.0, 100.0, 120.0]) / 255, atol=1e-5
    )


def test_same_generator_seed_same_batch():
    rgb, depth = _ramp()
    cfg = AugmentConfig()
    a = augment_batch(rgb, depth, cfg, generator=torch.Generator().manual_seed(7))
    b = augment_batch(rgb, depth, cfg, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.image, b.image) and torch.equal(a.depth, b.depth)


def test_random_parameters_stay_in_the_paper_ranges():
    from msdepth.data.augment import sample_params

    p: AugmentParams = sample_params(2000, AugmentConfig(), torch.Generator().manual_seed(0))
    assert p.scale.min() >= 1.0 and p.scale.max() <= 1.5
    assert p.angle.abs().max() <= math.radians(5) + 1e-7
    assert p.color.min() >= 0.8 and p.color.max() <= 1.2
    assert 0.45 < p.flip.float().mean() < 0.55


def test_paper_config_draws_no_tone_and_keeps_its_random_stream():
    from msdepth.data.augment import sample_params

    p = sample_params(4, AugmentConfig(), torch.Generator().manual_seed(3))
    toned = AugmentConfig(gamma_max=1.5, contrast_min=0.7, contrast_max=1.3)
    q = sample_params(4, toned, torch.Generator().manual_seed(3))
    assert p.tone is None
    for a, b in zip(
        p[:-1], q[:-1], strict=True
    ):  # the paper's parameters are drawn first, unchanged
        assert torch.equal(a, b)
    assert q.tone.shape == (4, 3)


def test_tone_ranges_are_respected():
    from msdepth.data.augment import sample_params

    cfg = AugmentConfig(
        gamma_max=1.6, saturation_min=0.5, saturation_max=1.5, contrast_min=0.7, contrast_max=1.3
    )
    g, s, c = sample_params(2000, cfg, torch.Generator().manual_seed(0)).tone.unbind(1)
    assert 1 / 1.6 - 1e-6 <= g.min() < 0.7 and 1.5 < g.max() <= 1.6 + 1e-6
    assert (g < 1).float().mean().item() == pytest.approx(0.5, abs=0.05)  # log-uniform
    assert s.min() >= 0.5 and s.max() <= 1.5 and c.min() >= 0.7 and c.max() <= 1.3


def test_tone_changes_the_image_and_never_the_depth():
    rgb, depth = _ramp(2)
    rgb[..., 0] = 200  # a coloured image: saturation has something to act on
    tone = torch.tensor([[2.0, 1.0, 1.0], [1.0, 0.0, 0.5]])  # darker; grey at half contrast
    plain = apply_params(rgb, depth, identity_params(2), (228, 304), (55, 74))
    b = apply_params(rgb, depth, identity_params(2)._replace(tone=tone), (228, 304), (55, 74))
    assert torch.equal(b.depth, plain.depth) and torch.equal(b.mask, plain.mask)
    assert torch.allclose(b.image[0], plain.image[0] ** 2, atol=1e-5)
    grey = b.image[1]
    assert torch.allclose(grey[0], grey[1]) and torch.allclose(grey[1], grey[2])
    assert grey.std() == pytest.approx(plain.image[1].mean(0).std().item() * 0.5, rel=1e-3)


def test_tone_ranges_that_make_no_sense_are_refused():
    from msdepth.config import Config
    from msdepth.errors import ConfigError

    for key, value in [("gamma_max", 0.5), ("saturation_min", -0.1), ("contrast_min", 0.0)]:
        with pytest.raises(ConfigError, match=key):
            Config().with_overrides({f"augment.{key}": value})

"""The scale-invariant loss in log space (paper, "Loss")."""

import math

import pytest
import torch

from msdepth.losses import scale_invariant_loss


def _rand(shape=(3, 1, 5, 6), seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g), torch.randn(shape, generator=g)


def test_lambda_zero_is_masked_mean_squared_log_error_per_image():
    pred, target = _rand()
    mask = torch.rand(pred.shape, generator=torch.Generator().manual_seed(1)) > 0.3
    loss = scale_invariant_loss(pred, target, mask, lam=0.0)
    per_image = [((pred[i] - target[i])[mask[i]] ** 2).mean() for i in range(3)]
    assert loss.item() == pytest.approx(torch.stack(per_image).mean().item(), rel=1e-6)


def test_lambda_one_ignores_a_global_scale_of_the_prediction():
    pred, target = _rand()
    mask = torch.ones_like(pred, dtype=torch.bool)
    base = scale_invariant_loss(pred, target, mask, lam=1.0)
    scaled = scale_invariant_loss(pred + math.log(7.3), target, mask, lam=1.0)  # depth x 7.3
    assert scaled.item() == pytest.approx(base.item(), abs=1e-5)
    assert scale_invariant_loss(pred + 2.0, target, mask, lam=0.5).item() > base.item()


def test_hand_worked_value_with_lambda_half():
    pred = torch.tensor([[[[1.0, 2.0, 0.0]]]])
    target = torch.zeros_like(pred)
    mask = torch.tensor([[[[True, True, False]]]])
    # d = (1, 2): mean d^2 = 2.5, mean d = 1.5, 2.5 - 0.5 * 2.25 = 1.375
    assert scale_invariant_loss(pred, target, mask).item() == pytest.approx(1.375)


def test_masked_pixels_change_nothing_even_when_nan():
    pred, target = _rand()
    mask = torch.zeros_like(pred, dtype=torch.bool)
    mask[..., :3] = True
    a = scale_invariant_loss(pred, target, mask)
    target2 = target.clone()
    target2[~mask] = float("nan")
    pred2 = pred.clone()
    pred2[~mask] = 1e6
    assert scale_invariant_loss(pred2, target2, mask).item() == pytest.approx(a.item(), rel=1e-6)


def test_image_without_valid_pixels_contributes_nothing_and_gives_no_nan():
    pred, target = _rand()
    mask = torch.ones_like(pred, dtype=torch.bool)
    mask[1] = False
    full = scale_invariant_loss(pred, target, mask)
    two = scale_invariant_loss(pred[[0, 2]], target[[0, 2]], mask[[0, 2]])
    assert full.item() == pytest.approx(two.item(), rel=1e-6)
    none = scale_invariant_loss(pred, target, torch.zeros_like(mask))
    assert none.item() == 0.0
    pred.requires_grad_(True)
    scale_invariant_loss(pred, target, torch.zeros_like(mask)).backward()
    assert torch.isfinite(pred.grad).all()


def test_n_counts_valid_pixels_only():
    pred = torch.ones(1, 1, 2, 2)
    target = torch.zeros(1, 1, 2, 2)
    mask = torch.tensor([[[[True, False], [False, False]]]])
    assert scale_invariant_loss(pred, target, mask, lam=0.0).item() == pytest.approx(1.0)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes differ"):
        scale_invariant_loss(
            torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 3), torch.ones(1, 1, 2, 2)
        )

"""Per-layer learning rates, the schedule, and the loss targets."""

import math

import pytest
import torch

from msdepth.config import Config, ModelConfig, OptimConfig
from msdepth.models import MultiScaleDepth
from msdepth.train.optim import lr_factor, make_optimizer, set_learning_rates
from msdepth.train.targets import log_depth_targets, min_max_mask


def _model(stage):
    model = MultiScaleDepth(ModelConfig(input_width=96, input_height=72), stage=stage)
    if stage == "coarse":
        model.fine.requires_grad_(False)
    return model


def test_coarse_optimizer_uses_the_papers_rates_per_layer():
    opt = make_optimizer(_model("coarse"), OptimConfig(), "coarse")
    rates = {g["name"]: g["lr"] for g in opt.param_groups}
    assert rates == {
        **{f"coarse.coarse{i}": 0.001 for i in range(1, 6)},
        "coarse.coarse6": 0.1,
        "coarse.coarse7": 0.1,
    }
    assert opt.defaults["momentum"] == 0.9
    assert opt.defaults["fused"] or opt.defaults["foreach"]  # never the per-tensor loop


def test_lr_scale_multiplies_every_rate():
    opt = make_optimizer(_model("fine"), OptimConfig(lr_scale=0.5), "fine")
    rates = {g["name"]: g["lr"] for g in opt.param_groups}
    assert rates == {"fine.fine1": 0.0005, "fine.fine3": 0.005, "fine.fine4": 0.0005}


def test_fine_optimizer_holds_only_fine_parameters():
    model = _model("fine")
    opt = make_optimizer(model, OptimConfig(), "fine")
    held = {id(p) for g in opt.param_groups for p in g["params"]}
    assert held == {id(p) for p in model.fine.parameters()}


def test_coarse_optimizer_holds_only_coarse_parameters():
    model = _model("coarse")
    opt = make_optimizer(model, OptimConfig(), "coarse")
    held = {id(p) for g in opt.param_groups for p in g["params"]}
    assert held == {id(p) for p in model.coarse.parameters()}


def test_constant_schedule_is_flat_after_warmup():
    cfg = OptimConfig(warmup_steps=4)
    assert [lr_factor(s, 100, cfg) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert lr_factor(99, 100, cfg) == 1.0


def test_cosine_schedule_decays_to_zero():
    cfg = OptimConfig(schedule="cosine")
    assert lr_factor(0, 100, cfg) == 1.0
    assert lr_factor(50, 100, cfg) == pytest.approx(0.5)
    assert lr_factor(100, 100, cfg) == pytest.approx(0.0, abs=1e-12)


def test_step_schedule_drops_tenfold_after_two_thirds():
    cfg = OptimConfig(schedule="step")
    assert lr_factor(65, 99, cfg) == 1.0 and lr_factor(66, 99, cfg) == 0.1


def test_set_learning_rates_scales_base_rates():
    opt = make_optimizer(_model("fine"), OptimConfig(), "fine")
    set_learning_rates(opt, 0.1)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.0001, 0.001, 0.0001])


def test_log_targets_are_finite_and_masked_where_depth_is_missing():
    depth = torch.tensor([[[[0.0, 2.0], [math.e, 0.0]]]])
    target, mask = log_depth_targets(depth, depth > 0)
    assert mask.tolist() == [[[[False, True], [True, False]]]]
    assert torch.isfinite(target).all()
    assert target[mask].tolist() == pytest.approx([math.log(2.0), 1.0])


def test_min_max_mask_drops_each_images_extremes():
    depth = torch.tensor([[[[1.0, 2.0, 3.0, 0.0]]], [[[5.0, 5.0, 6.0, 7.0]]]])
    mask = min_max_mask(depth, depth > 0)
    assert mask.tolist() == [[[[False, True, False, False]]], [[[False, False, True, False]]]]


def test_config_rejects_negative_grad_clip_and_budget():
    from msdepth.errors import ConfigError

    with pytest.raises(ConfigError, match="grad_clip"):
        Config().with_overrides({"optim.grad_clip": -1.0})
    with pytest.raises(ConfigError, match="max_minutes"):
        Config().with_overrides({"train.max_minutes": -1.0})

"""The learning-rate rule for batches larger than the paper's 32."""

import math

import pytest

from msdepth.config import Config, OptimConfig
from msdepth.errors import ConfigError
from msdepth.train.batch_scaling import batch_lr_factor
from train_fixtures import tiny_config, tiny_data


def test_rates_are_the_configured_ones_unless_a_rule_is_chosen():
    assert batch_lr_factor(OptimConfig(), 256) == 1.0


def test_linear_rule_scales_with_the_global_batch():
    cfg = OptimConfig(batch_lr_rule="linear")
    assert batch_lr_factor(cfg, 256) == 8.0
    assert batch_lr_factor(cfg, 32) == 1.0


def test_sqrt_rule_scales_with_its_square_root():
    cfg = OptimConfig(batch_lr_rule="sqrt", reference_batch=16)
    assert batch_lr_factor(cfg, 64) == pytest.approx(2.0)
    assert batch_lr_factor(cfg, 8) == pytest.approx(math.sqrt(0.5))


def test_reference_batch_must_be_positive():
    with pytest.raises(ConfigError, match="reference_batch"):
        Config().with_overrides({"optim.reference_batch": 0})


def test_training_uses_the_scaled_rates_after_warm_up(tmp_path):
    from msdepth.train.distributed import setup_distributed
    from msdepth.train.trainer import Trainer

    cfg = tiny_config(
        optim__batch_lr_rule="linear",
        optim__reference_batch=2,  # batch 4: twice the rates
        optim__warmup_steps=2,
    )
    (tmp_path / "run").mkdir()
    trainer = Trainer(
        cfg, tiny_data(tmp_path / "data"), tmp_path / "run", setup_distributed("cpu"), False
    )
    s = trainer._start_stage("coarse", None, None, None)
    rates = {}
    for step in (0, 3):  # the first warm-up step, and one after the warm-up
        s.step = step
        trainer._train_step(s)
        rates[step] = {g["name"]: g["lr"] for g in s.optimizer.param_groups}["coarse.coarse6"]
    s.batches = iter(())
    base = cfg.optim.coarse_fc_lr
    assert rates[0] == pytest.approx(2 * base * 0.5)
    assert rates[3] == pytest.approx(2 * base)

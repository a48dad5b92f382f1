"""Speed switches change rounding only: bf16 autocast and channels_last train to the same loss."""

import pytest

from msdepth.train import train
from train_fixtures import tiny_config, tiny_data

# bf16 keeps 8 mantissa bits in the convolutions and matrix products; the loss itself is
# computed in fp32. Over 20 + 20 steps at 96x72 the logged losses stay within 3% of fp32
# (measured: within 0.5%) and the final validation abs_rel within 0.01.
BF16_LOSS_RTOL = 0.03
BF16_ABS_REL_ATOL = 0.01


def _run(tmp_path, data, **overrides):
    plain = {"train__precision": "fp32", "train__channels_last": False}  # unless overridden
    # PyTorch's init trains smoothly at this size; He init's steep first steps amplify bf16
    # rounding (up to ~8% on a logged loss). This compares arithmetic, not initialisation.
    plain["model__init"] = "pytorch"
    cfg = tiny_config(
        train__coarse_steps=20,
        train__fine_steps=20,
        train__log_every=10,
        train__val_every=1000,
        train__checkpoint_every=1000,
        train__panel_every=1000,
        **{**plain, **overrides},
    )
    name = "-".join(f"{k}={v}" for k, v in overrides.items()) or "fp32"
    return train(cfg, data, tmp_path / name, progress=False)


@pytest.fixture(scope="module")
def fp32_run(module_tmp):
    root = module_tmp
    data = tiny_data(root / "data")
    return root, data, _run(root, data)


def _losses(result, stage):
    return [loss for _, loss in result.stages[stage].loss_history]


def test_bf16_training_reaches_the_fp32_loss(fp32_run):
    root, data, fp32 = fp32_run
    bf16 = _run(root, data, train__precision="bf16")
    for stage in ("coarse", "fine"):
        assert _losses(bf16, stage) == pytest.approx(_losses(fp32, stage), rel=BF16_LOSS_RTOL)
        assert bf16.stages[stage].final_metrics["abs_rel"] == pytest.approx(
            fp32.stages[stage].final_metrics["abs_rel"], abs=BF16_ABS_REL_ATOL
        )


def test_channels_last_training_matches_contiguous(fp32_run):
    root, data, fp32 = fp32_run
    nhwc = _run(root, data, train__channels_last=True)
    for stage in ("coarse", "fine"):
        assert _losses(nhwc, stage) == pytest.approx(_losses(fp32, stage), rel=1e-3)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit inside inductor
def test_compiled_model_trains_like_the_eager_one(tmp_path):
    """Smoke test of torch.compile (tens of seconds: inductor compiles forward and backward)."""
    data = tiny_data(tmp_path / "data")
    # Without dropout: compiled code draws its dropout masks from another random generator.
    cfg = dict(train__coarse_steps=2, train__log_every=1, train__val_every=1000, model__dropout=0.0)
    eager = train(tiny_config(**cfg), data, tmp_path / "eager", stages="coarse", progress=False)
    compiled = train(
        tiny_config(train__compile=True, **cfg),
        data,
        tmp_path / "compiled",
        stages="coarse",
        progress=False,
    )
    assert _losses(compiled, "coarse") == pytest.approx(_losses(eager, "coarse"), rel=1e-3)

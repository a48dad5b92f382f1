"""`--steps N --resume` on a finished stage continues it (constant schedule), bit for bit."""

import pytest

from msdepth.cli.main import main
from msdepth.errors import ConfigError
from msdepth.train import train
from train_fixtures import digest, tiny_config, tiny_data


@pytest.fixture(scope="module")
def data(module_tmp):
    return tiny_data(module_tmp / "data")


def test_a_finished_3_step_stage_extended_to_6_equals_a_6_step_run(data, tmp_path):
    six = train(
        tiny_config(train__coarse_steps=6), data, tmp_path / "six", "coarse", progress=False
    )
    train(tiny_config(train__coarse_steps=3), data, tmp_path / "ext", "coarse", progress=False)
    extended = train(
        tiny_config(train__coarse_steps=6), data, tmp_path / "ext", "coarse", resume=True,
        progress=False,
    )  # fmt: skip
    assert not extended.stages["coarse"].skipped and extended.stages["coarse"].steps == 6
    name = "checkpoints/coarse-00000006.safetensors"
    assert digest(tmp_path / "ext" / name) == digest(tmp_path / "six" / name)
    assert extended.stages["coarse"].loss_history == six.stages["coarse"].loss_history


def test_the_cli_extends_a_finished_stage_with_steps_and_resume(data, tmp_path, capsys):
    argv = ["train", "--data", str(data), "--out", str(tmp_path / "r"), "--stage", "coarse"]
    tiny = [f"--set={k}={v}" for k, v in {"model.input_width": 96, "model.input_height": 72,
            "train.batch_size": 4, "train.workers": 0, "train.tensorboard": "false"}.items()]  # fmt: skip
    assert main([*argv, *tiny, "--steps", "2", "--quiet"]) == 0
    assert main([*argv, "--steps", "4", "--resume", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "coarse: 4/4 steps" in out and "already finished" not in out


def test_resuming_a_finished_stage_with_the_same_steps_changes_nothing(data, tmp_path):
    cfg = tiny_config(train__coarse_steps=3)
    train(cfg, data, tmp_path / "r", "coarse", progress=False)
    again = train(cfg, data, tmp_path / "r", "coarse", resume=True, progress=False)
    assert again.stages["coarse"].skipped


def test_extending_a_cosine_schedule_is_refused_with_the_reason(data, tmp_path):
    cfg = tiny_config(train__coarse_steps=3, optim__schedule="cosine")
    train(cfg, data, tmp_path / "r", "coarse", progress=False)
    longer = tiny_config(train__coarse_steps=6, optim__schedule="cosine")
    with pytest.raises(ConfigError, match=r"cosine.*depend on the step count.*new --out"):
        train(longer, data, tmp_path / "r", "coarse", resume=True, progress=False)


def test_a_stage_stopped_inside_its_warm_up_extends_exactly_under_cosine(data, tmp_path):
    cosine = {"optim__schedule": "cosine", "optim__warmup_steps": 4}
    six = train(tiny_config(train__coarse_steps=6, **cosine), data, tmp_path / "six", "coarse",
                progress=False)  # fmt: skip
    train(tiny_config(train__coarse_steps=3, **cosine), data, tmp_path / "ext", "coarse",
          progress=False)  # fmt: skip
    train(tiny_config(train__coarse_steps=6, **cosine), data, tmp_path / "ext", "coarse",
          resume=True, progress=False)  # fmt: skip
    name = "checkpoints/coarse-00000006.safetensors"
    assert digest(tmp_path / "ext" / name) == digest(tmp_path / "six" / name)
    assert six.stages["coarse"].steps == 6

"""The typed config: paper defaults, TOML and CLI overrides, clear errors."""

import pytest

from msdepth.config import Config
from msdepth.errors import ConfigError


def test_paper_defaults():
    c = Config()
    assert (c.model.input_width, c.model.input_height) == (304, 228)
    assert c.train.batch_size == 32 and c.train.loss_lambda == 0.5
    assert (c.optim.coarse_conv_lr, c.optim.coarse_fc_lr) == (0.001, 0.1)
    assert c.optim.fine_lrs == (0.001, 0.01, 0.001)
    assert c.optim.momentum == 0.9
    assert (c.augment.scale_min, c.augment.scale_max, c.augment.rotation_deg) == (1.0, 1.5, 5.0)
    assert c.train.coarse_steps * 32 == 2_000_000 and c.train.fine_steps * 32 == 1_500_000


def test_toml_round_trip(tmp_path):
    c = Config().with_overrides({"train.batch_size": 8, "augment.rotation_deg": 0.0})
    path = tmp_path / "run.toml"
    path.write_text(c.to_toml())
    assert Config.from_toml(path) == c


def test_cli_style_overrides_parse_values():
    c = Config().with_overrides(
        ["train.batch_size=8", "optim.fine_lrs=[0.1, 0.2, 0.3]", "train.device=cuda"]
    )
    assert c.train.batch_size == 8
    assert c.optim.fine_lrs == (0.1, 0.2, 0.3)
    assert c.train.device == "cuda"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[train]\nbatch = 3\n", "unknown key train.batch"),
        ("[trian]\nbatch_size = 3\n", "unknown section"),
        ("[train]\nbatch_size = 'x'\n", "train.batch_size must be an integer"),
        ("[train]\nprecision = 'fp8'\n", "one of"),
        ("[train]\nbatch_size = 0\n", "at least 1"),
        ("[train\n", "not valid TOML"),
    ],
)
def test_bad_config_files_name_the_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        Config.from_toml(path)


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        Config.from_toml(tmp_path / "nope.toml")

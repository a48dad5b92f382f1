"""Every command takes the common flags the same way: --quiet, --json [PATH], and --device where
it runs the network."""

import json

import pytest

from msdepth.cli.main import SUBCOMMANDS, build_parser, main

RUNS_THE_NETWORK = {"quickstart", "train", "evaluate", "predict", "export", "app"}


def _subparser(name: str):
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices[name]


def _options(name: str) -> set[str]:
    sub = _subparser(name)
    found = {opt for a in sub._actions for opt in a.option_strings}
    for a in sub._actions:  # prepare's sources are subcommands of their own
        if getattr(a, "choices", None) and isinstance(a.choices, dict):
            for child in a.choices.values():
                found |= {opt for b in child._actions for opt in b.option_strings}
    return found


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_command_takes_quiet_and_json(name):
    assert {"--quiet", "--json"} <= _options(name)


@pytest.mark.parametrize("name", sorted(RUNS_THE_NETWORK))
def test_commands_that_run_the_network_take_device_defaulting_to_auto(name):
    sub = _subparser(name)
    device = next(a for a in sub._actions if "--device" in a.option_strings)
    assert device.default == "auto"


def test_json_alone_prints_one_json_object_on_stdout(capsys):
    assert main(["info", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["parameters"] == {"coarse": 70_757_734, "fine": 119_437}


def test_json_path_writes_the_file_and_keeps_the_text(tmp_path, capsys):
    path = tmp_path / "info.json"
    assert main(["info", "--json", str(path)]) == 0
    assert "parameters" in capsys.readouterr().out
    assert json.loads(path.read_text())["output_hw"] == [55, 74]


def test_json_to_a_folder_is_a_one_line_error(tmp_path, capsys):
    assert main(["info", "--json", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and err.count("\n") == 1

"""README stays true: every option documented with its flag; the set-up commands come first."""

from __future__ import annotations

from pathlib import Path

from ocpp_mqtt.config import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_option_documented_with_its_flag() -> None:
    missing = [name for name in Settings.model_fields
               if f"| `{name}` | `--{name.replace('_', '-')}` |" not in README]
    assert not missing, f"options missing from README tables: {missing}"


def test_setup_commands_first() -> None:
    head = README[:800]
    assert "make run" in head and "make test" in head


def test_every_simulate_option_documented() -> None:
    import argparse

    from ocpp_mqtt.simulate.options import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    section = README[README.index("\n## Simulator\n"):]
    flags = [action.option_strings[-1] for action in parser._actions
             if action.option_strings and action.dest != "help"]
    missing = [flag for flag in flags if f"`{flag}` |" not in section]
    assert not missing, f"simulate options missing from the README's Simulator table: {missing}"

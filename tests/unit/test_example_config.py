"""examples/ocpp-mqtt.toml: every option, at its default, accepted by check-config. A new
option fails here with the exact line to add."""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ocpp_mqtt.cli import main
from ocpp_mqtt.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ocpp-mqtt.toml"
TEXT = EXAMPLE.read_text()
README = (ROOT / "README.md").read_text()
# `key = ...` set, or `# key = ...` for defaults TOML cannot write (none, the host name)
LINE = re.compile(r"^(#\s*)?([a-z][a-z0-9_]*)\s*=", re.MULTILINE)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("OCPP_MQTT_"):
            monkeypatch.delenv(name)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return f"<{value!r}: write an example value and comment the line out>"


def suggestion(name: str) -> str:
    field = Settings.model_fields[name]
    default = field.get_default(call_default_factory=True)
    line = f"{name} = {_toml(default)}" if default is not None else f"# {name} = <example>"
    return f"# {field.description}\n{line}"


def test_every_option_is_in_the_example() -> None:
    present = {m.group(2) for m in LINE.finditer(TEXT)}
    missing = [name for name in Settings.model_fields if name not in present]
    assert not missing, (
        "examples/ocpp-mqtt.toml lacks " + ", ".join(missing) + "; add, in the section of its "
        "README table:\n\n" + "\n\n".join(suggestion(name) for name in missing))


def test_no_unknown_keys_and_every_value_is_the_default() -> None:
    values = tomllib.loads(TEXT)
    unknown = sorted(set(values) - set(Settings.model_fields))
    assert not unknown, f"examples/ocpp-mqtt.toml sets unknown options {unknown}: remove them"
    settings = load_settings(EXAMPLE)
    defaults = load_settings(None)
    wrong = {k: (getattr(settings, k), getattr(defaults, k)) for k in values
             if getattr(settings, k) != getattr(defaults, k)}
    assert not wrong, ("examples/ocpp-mqtt.toml shows values that are not the defaults "
                       f"(shown, default): {wrong}; write the default")


def test_options_that_have_no_toml_default_are_commented_out_with_an_example() -> None:
    values = tomllib.loads(TEXT)
    for m in LINE.finditer(TEXT):
        if m.group(1):
            assert m.group(2) not in values, f"{m.group(2)} is both set and commented out"


def test_every_option_has_a_comment_and_sits_in_its_readme_section() -> None:
    sections = re.split(r"^# ==== ", TEXT, flags=re.MULTILINE)[1:]
    readme_sections = re.split(r"^### ", README, flags=re.MULTILINE)[1:]
    for section in sections:
        title = section.split(" =", 1)[0]
        table = next((s for s in readme_sections if s.startswith(title + "\n")), None)
        assert table is not None, f"example section {title!r} is no README ### section"
        lines = section.splitlines()
        for i, line in enumerate(lines):
            m = LINE.match(line)
            if m is None:
                continue
            assert i > 0 and lines[i - 1].startswith("# ") and not LINE.match(lines[i - 1]), (
                f"{m.group(2)}: put a one-line comment above it")
            assert f"| `{m.group(2)}` |" in table, (
                f"{m.group(2)} is under {title!r} in the example but not in that README table")


def test_check_config_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--config", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ok: {EXAMPLE}") and "every option at its default" in out

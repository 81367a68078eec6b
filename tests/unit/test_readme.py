"""README stays true: every option documented with its flag; the set-up commands come first."""

from __future__ import annotations

import re
import socket
import tomllib
from pathlib import Path

from pydantic import SecretStr

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


# Defaults the tables state in words, because no literal says them (each checked below).
PROSE_DEFAULTS: dict[str, tuple[str, object]] = {
    "default_version": ("none", None),
    "mqtt_client_id": ("`ocpp-mqtt-<gateway_id>`", None),  # derived at start-up
    "mqtt_ca": ("system CAs", None),
    "upstream_ca": ("system CAs", None),
    "mqtt_cert": ("none", None),
    "mqtt_key": ("none", None),
    "upstream_cert": ("none", None),
    "upstream_key": ("none", None),
    "thingsboard_ca": ("none", None),
    "admin_token": ("none", None),
    "upstream": ("none", ""),
    "secondary": ("none", ""),
    "compat": ("none", ""),
    "dnstream_action_topic": ("off", ""),
    "gateway_id": ("host name", socket.gethostname()),
    # resolved by mode at start-up (see test_profiles_default_per_mode)
    "profiles": ('relay: `["emqx"]`; central: `["emqx", "native", "homeassistant"]`', None),
}


def _stated(cell: str) -> object:
    """The value a default cell states: its first `literal`, as TOML/JSON would read it."""
    literal = re.match(r"`([^`]*)`", cell)
    assert literal is not None, f"no `literal` in {cell!r}"
    text = literal.group(1)
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        if "," in text:  # StartTransaction, StopTransaction: a comma-separated list
            return [item.strip() for item in text.split(",")]
        return text


def test_every_default_in_the_readme_is_the_real_one() -> None:
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| `--[a-z0-9-]+` \| (.*?) \| .*\|$", README,
                      re.MULTILINE)
    assert len(rows) >= len(Settings.model_fields)
    wrong = []
    for name, cell in rows:
        field = Settings.model_fields[name]
        default = field.get_default(call_default_factory=True)
        if isinstance(default, Path | SecretStr):
            default = str(default)
        if name in PROSE_DEFAULTS:
            expected_cell, value = PROSE_DEFAULTS[name]
            if (cell, value) != (expected_cell, default):
                wrong.append(f"{name}: README {cell!r}, default {default!r}")
            continue
        stated = _stated(cell)
        if isinstance(default, str) and not isinstance(stated, str):  # mqtt_version `5`
            stated = cell.split("`")[1]
        if stated != default:
            wrong.append(f"{name}: README says {cell}, Settings has {default!r}")
    assert not wrong, "README option tables state wrong defaults:\n" + "\n".join(wrong)


def test_profiles_default_per_mode() -> None:
    from ocpp_mqtt.config import load_settings

    assert load_settings(None, mode="relay").active_profiles == ["emqx"]
    assert load_settings(None, mode="central").active_profiles == [
        "emqx", "native", "homeassistant"]


def test_emqx_migration_table_names_real_options() -> None:
    """docs/migrate-from-emqx.md maps EMQX keys to options: every option it names exists."""
    from ocpp_mqtt.listeners import ListenerSpec

    doc = (Path(__file__).resolve().parents[2] / "docs" / "migrate-from-emqx.md").read_text()
    table = doc[doc.index("| EMQX | default there | ocpp-mqtt | notes |"):].split("\n\n")[0]
    known = set(Settings.model_fields) | set(ListenerSpec.model_fields)
    named = [name for line in table.splitlines()[2:]
             for name in re.findall(r"`([a-z_]+)`", line.strip().strip("|").split("|")[2])]
    assert len(named) > 20
    assert not [n for n in named if n not in known], [n for n in named if n not in known]


def test_development_layout_names_real_files() -> None:
    """Every file the README's Development section names exists where the bullet says."""
    root = Path(__file__).resolve().parents[2]
    text = README[README.index("\n## Development\n"):README.index("\n### Soak and fault tests")]
    files = [p.relative_to(root).as_posix() for p in (root / "src").rglob("*") if p.is_file()]
    missing = [name for name in re.findall(r"`([\w/.-]+\.(?:py|js|css|html))`", text)
               if not (root / name).is_file() and not any(f.endswith("/" + name) for f in files)]
    assert not missing, f"README's Development section names files that do not exist: {missing}"


def test_make_targets_named_exist() -> None:
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.MULTILINE))
    named = set(re.findall(r"\bmake ([a-z][\w-]*)", README))
    assert named and named <= targets, named - targets


def test_limits_table_defaults() -> None:
    """README "Limits": the defaults it states in words are the settings' defaults."""
    text = README[README.index("\n## Limits\n"):README.index("\n## Topic safety")]
    units = {"KiB": 1024, "s": 1}
    checked = 0
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[1].startswith("`"):
            continue
        first = re.match(r"`(\w+)`", cells[1])
        assert first, line
        default = Settings.model_fields[first.group(1)].default
        stated = cells[2]
        if stated == "off":
            assert not default, line
        elif (m := re.fullmatch(r"([\d,]+)(?: (KiB|s))?", stated)):
            assert int(m.group(1).replace(",", "")) * units.get(m.group(2) or "s", 1) == \
                default, line
        else:
            continue
        checked += 1
    assert checked >= 5, checked

"""The settings package's shape: one model composed of one mixin per area, so that the options
keep their order (`--help`, check-config's summary, error lists), no validator silently
replaces another, and every module stays small."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import ocpp_mqtt.config as config
from ocpp_mqtt.cli import build_parser
from ocpp_mqtt.config import Settings, load_settings
from ocpp_mqtt.config.settings import AREAS

PACKAGE = Path(config.__file__).parent


def test_options_follow_the_areas_in_order() -> None:
    """A mixin added to `Settings` in the wrong place would reorder `--help`."""
    expected = [name for area in AREAS for name in area.model_fields]
    assert list(Settings.model_fields) == expected
    assert expected[:3] == ["listen", "versions", "default_version"]
    assert expected[-1] == "frame_log_file"


def test_every_area_is_a_base_of_settings_and_owns_distinct_fields() -> None:
    assert set(AREAS) <= set(Settings.__mro__)
    names = [name for area in AREAS for name in area.model_fields]
    assert len(names) == len(set(names)), "a field is defined in two areas"
    assert not Settings.__annotations__.keys() & set(names) - {"model_config"}
    # the areas defer building their schema; Settings must not inherit that
    assert Settings.__pydantic_complete__ and not Settings.model_config.get("defer_build")


def test_no_validator_is_shadowed() -> None:
    """Two mixins with a validator of the same name: pydantic keeps only one, silently."""
    for kind in ("field_validators", "model_validators"):
        per_area = [name for area in AREAS
                    for name in getattr(area.__pydantic_decorators__, kind)]
        assert len(per_area) == len(set(per_area)), f"{kind} named twice: {sorted(per_area)}"
        combined = getattr(Settings.__pydantic_decorators__, kind)
        own = [name for name in combined if all(
            name not in getattr(area.__pydantic_decorators__, kind) for area in AREAS)]
        assert len(combined) == len(per_area) + len(own)


@pytest.mark.parametrize("module", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_modules_stay_small(module: Path) -> None:
    lines = module.read_text(encoding="utf-8").count("\n")
    assert lines <= 400, f"{module.name} has {lines} lines; split it by what it holds"


def test_help_lists_the_flags_in_the_areas_order(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    shown = re.findall(r"^  --([a-z0-9-]+)", capsys.readouterr().out, re.MULTILINE)
    flags = [flag.replace("-", "_") for flag in shown]
    assert [f for f in flags if f in Settings.model_fields] == list(Settings.model_fields)


@pytest.mark.parametrize(("options", "message"), [
    # one area's validator each: a validator lost in the split would let these through
    ({"listen": "nohost"}, "listen: expected HOST:PORT"),
    ({"embedded_listen": "x"}, "embedded_listen: expected HOST:PORT"),
    ({"prefix": "a/#"}, "prefix: topic 'a/#' must not contain the wildcards"),
    ({"csms_topic": "+/x"}, "csms_topic: topic '+/x' must not contain the wildcards"),
    ({"mqtt_cp_up_topic": "$SYS/x"}, "mqtt_cp_up_topic: topic '$SYS/x' must not start with"),
    ({"security_topic": "s/#"}, "security_topic: topic 's/#' must not contain the wildcards"),
    ({"ha_status_topic": "h/+"}, "ha_status_topic: topic 'h/+' must not contain the wildcards"),
    # the wildcard check comes before the ${cid} check on the native topics
    ({"state_topic": "state/+"}, "state_topic: topic 'state/+' must not contain"),
    ({"state_topic": "state/x"}, "state_topic: 'state/x' must hold ${cid}"),
    ({"repeat_actions": "Bogus"}, "repeat_actions: Bogus: not an action"),
    ({"local_actions": "Bogus"}, "local_actions: Bogus: not an action"),
    ({"profiles": "[1"}, "profiles: not a JSON list"),
    ({"admin_listen": "0.0.0.0:8080"}, "admin_token: required because admin_listen"),
])
def test_each_areas_validators_still_apply(options: dict[str, str], message: str) -> None:
    with pytest.raises(config.ConfigError) as caught:
        load_settings(**options)
    assert str(caught.value).startswith(message)

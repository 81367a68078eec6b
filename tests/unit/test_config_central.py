"""Central mode settings: defaults per mode and the errors that name the key and the fix."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ocpp_mqtt.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("OCPP_MQTT_"):
            monkeypatch.delenv(name)


def test_profiles_default_per_mode() -> None:
    assert load_settings().active_profiles == ["emqx"]
    assert load_settings(mode="central").active_profiles == ["emqx", "native",
                                                             "homeassistant"]
    assert load_settings(mode="central", profiles="native, ocpp2mqtt").active_profiles == [
        "native", "ocpp2mqtt"]


@pytest.mark.parametrize("values, message", [
    ({"profiles": "native"}, "need the state of central mode: add --mode central"),
    ({"mode": "central", "profiles": "homeassistant"}, "add native to profiles"),
    ({"mode": "central", "profiles": "native,mqtt"}, "unknown profile(s) mqtt"),
    ({"mode": "central", "workers": 2, "mqtt": "mqtt://h"}, "use --workers 1"),
    ({"mode": "central", "id_tags": {"A": "Maybe"}}, "id_tags: idTag 'A'"),
    ({"mode": "central", "thingsboard_url": "mqtt://tok@h"}, "add thingsboard to profiles"),
    ({"mode": "central", "trigger_messages": "Reset"}, "cannot trigger Reset"),
    ({"mode": "central", "limit_purposes": "Foo"}, "limit_purposes"),
    ({"mode": "central", "state_topic": "state/x"}, "state_topic"),
    ({"mode": "central", "ha_current_min": 20, "ha_current_max": 10}, "ha_current_max"),
    ({"mode": "central", "answer": {"Authorize": "someone"}}, "answer.Authorize"),
])
def test_central_config_errors(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, **values)
    assert message in str(caught.value)


def test_answer_table_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('mode = "central"\n[answer]\nAuthorize = "fallback"\n'
                    '[id_tags]\nRFID1 = "Accepted"\nRFID2 = { status = "Blocked" }\n')
    settings = load_settings(path)
    assert settings.answer == {"Authorize": "fallback"}
    assert settings.id_tags["RFID2"] == {"status": "Blocked"}

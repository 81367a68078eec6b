"""Proxy mode settings: the upstream URL template and the errors that name the key and the fix."""

from __future__ import annotations

import os
from typing import Any

import pytest

from ocpp_mqtt.check_config import mask
from ocpp_mqtt.config import ConfigError, load_settings, upstream_url

UP = "wss://csms.example.com/ocpp/{cid}"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("OCPP_MQTT_"):
            monkeypatch.delenv(name)


def test_upstream_url_escapes_the_identity_as_one_segment() -> None:
    assert upstream_url(UP, "CP 1/x") == "wss://csms.example.com/ocpp/CP%201%2Fx"
    assert upstream_url("ws://h:9/${cid}", "A") == "ws://h:9/A"


def test_proxy_defaults() -> None:
    settings = load_settings(mode="proxy", upstream=UP)
    assert settings.active_profiles == ["emqx"]
    assert (settings.upstream_outage, settings.secondary_calls_default) == ("close", "block")


@pytest.mark.parametrize("values, message", [
    ({"mode": "proxy"}, "mode proxy needs upstream"),
    ({"upstream": UP}, "add --mode proxy"),
    ({"mode": "proxy", "upstream": "https://h/{cid}"}, "upstream: expected ws://"),
    ({"mode": "proxy", "upstream": "wss://h/ocpp"}, "must contain {cid}"),
    ({"mode": "proxy", "upstream": "wss://u:pw@h/{cid}"}, "put upstream credentials in "
     "upstream_auth"),
    ({"mode": "proxy", "upstream": UP, "secondary": "wss://h/x"}, "secondary: the URL must"),
    ({"mode": "proxy", "upstream": UP, "local_actions": "Reset"}, "local_actions: Reset: not"),
    ({"mode": "proxy", "upstream": UP, "upstream_auth": {"CP1": {"user": "x"}}},
     "unknown key(s) user"),
    ({"mode": "proxy", "upstream": UP, "upstream_auth": {"CP1": {"password": "x"}}},
     "a password needs a username"),
    ({"mode": "proxy", "upstream": UP, "secondary_calls": {"Reset": "maybe"}},
     "secondary_calls.Reset"),
    ({"mode": "proxy", "upstream": UP, "upstream_outage": "central", "workers": 2,
      "mqtt": "mqtt://h"}, "use --workers 1"),
    ({"mode": "proxy", "upstream": UP, "profiles": "native"}, "add --mode central"),
    ({"mode": "proxy", "upstream": UP, "csms_topic": "cs/${cid}"}, "csms_topic falls under "
     "dnstream_topic"),
    ({"mode": "proxy", "upstream": UP, "upstream_reconnect_min": 5,
      "upstream_reconnect_max": 1}, "upstream_reconnect_max"),
])
def test_errors_name_the_key_and_the_fix(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**values)
    assert message in str(caught.value)


def test_upstream_passwords_are_masked_in_summaries() -> None:
    shown = mask("upstream_auth", {"CP1": {"username": "u", "password": "hunter2"}})
    assert shown == {"CP1": {"username": "u", "password": "***"}}

"""Settings: defaults < TOML < environment < CLI, and every problem reported as a ConfigError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ocpp_mqtt.config import ConfigError, MqttTarget, load_settings
from ocpp_mqtt.ocppj.versions import Version


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OCPP_MQTT_* variable of the surrounding shell may leak into a test."""
    for name in list(os.environ):
        if name.upper().startswith("OCPP_MQTT_"):
            monkeypatch.delenv(name)


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ---- defaults ---------------------------------------------------------------------------

def test_defaults() -> None:
    s = load_settings(None)
    assert s.listen == "0.0.0.0:9000"
    assert s.listen_address == ("0.0.0.0", 9000)
    assert s.versions == ["1.6", "2.0.1", "2.1"]
    assert s.enabled_versions == [Version.V16, Version.V201, Version.V21]
    assert s.default_version is None and s.legacy_version is None  # HS-07 is opt-in
    assert s.call_timeout == 30.0
    assert s.max_queue == 100
    assert s.identity_max_length == 48  # ID-02 default cap
    assert s.relay_signed is True  # FR-11
    assert s.validate_cp_calls and s.validate_cp_results
    assert s.validate_mqtt_calls and s.validate_mqtt_results
    assert s.validate_formats is False
    assert s.mqtt == "embedded"
    assert s.mqtt_target == MqttTarget(True, "127.0.0.1", 1883, False, None, None)
    assert s.prefix == "ocpp/"


# ---- precedence ---------------------------------------------------------------------------

def test_toml_overrides_defaults(tmp_path: Path) -> None:
    s = load_settings(toml(tmp_path, 'call_timeout = 12\nmax_queue = 5\nprefix = "x/"\n'))
    assert (s.call_timeout, s.max_queue, s.prefix) == (12.0, 5, "x/")


def test_env_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCPP_MQTT_CALL_TIMEOUT", "7")
    s = load_settings(toml(tmp_path, "call_timeout = 12\nmax_queue = 5\n"))
    assert s.call_timeout == 7.0
    assert s.max_queue == 5  # untouched keys keep the TOML value


def test_cli_overrides_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCPP_MQTT_CALL_TIMEOUT", "7")
    s = load_settings(toml(tmp_path, "call_timeout = 12\n"), call_timeout=3)
    assert s.call_timeout == 3.0


def test_cli_none_means_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCPP_MQTT_CALL_TIMEOUT", "7")
    assert load_settings(None, call_timeout=None).call_timeout == 7.0


def test_env_is_case_insensitive_and_parses_booleans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ocpp_mqtt_relay_signed", "false")
    assert load_settings(None).relay_signed is False


def test_toml_values_do_not_leak_into_the_next_load(tmp_path: Path) -> None:
    load_settings(toml(tmp_path, "call_timeout = 12\n"))
    assert load_settings(None).call_timeout == 30.0


# ---- errors name the key -------------------------------------------------------------------

def test_unknown_toml_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="bogus_key"):
        load_settings(toml(tmp_path, "bogus_key = 1\ncall_timeout = 5\n"))


def test_unknown_cli_key_is_named() -> None:
    with pytest.raises(ConfigError, match="no_such_option"):
        load_settings(None, no_such_option=1)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TOML"):
        load_settings(toml(tmp_path, "call_timeout = = 5\n"))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_settings(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("key", "value"),
    [("call_timeout", 0), ("max_queue", -1), ("listen", "nohostport"), ("listen", "h:70000"),
     ("versions", ["1.5"]), ("versions", []), ("default_version", "2.0")],
)
def test_bad_values_name_their_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(None, **{key: value})


def test_default_version_must_be_enabled() -> None:
    with pytest.raises(ConfigError, match="default_version"):
        load_settings(None, versions=["2.0.1"], default_version="1.6")


def test_hs07_legacy_default_version() -> None:
    s = load_settings(None, default_version="ocpp1.6")
    assert s.default_version == "1.6"
    assert s.legacy_version is Version.V16


def test_versions_from_a_string() -> None:
    s = load_settings(None, versions="1.6, ocpp2.1")
    assert s.enabled_versions == [Version.V16, Version.V21]


# ---- MQTT target ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "url",
    ["http://broker", "mqtt://", "broker:1883", "mqtt://u:pw@h:99999", "ws://h", "mqtt:/h", ""],
)
def test_bad_mqtt_url_mentions_mqtt(url: str) -> None:
    with pytest.raises(ConfigError, match="mqtt"):
        load_settings(None, mqtt=url)


@pytest.mark.parametrize("url", ["http://user:s3cret@broker", "mqtt://user:s3cret@broker:99999"])
def test_bad_mqtt_url_error_does_not_show_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, mqtt=url)
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("mqtt://broker", MqttTarget(False, "broker", 1883, False, None, None)),
        ("mqtts://broker", MqttTarget(False, "broker", 8883, True, None, None)),
        ("mqtt://u:p%40ss@10.0.0.1:1884", MqttTarget(False, "10.0.0.1", 1884, False, "u", "p@ss")),
    ],
)
def test_mqtt_url_parsed(url: str, target: MqttTarget) -> None:
    assert load_settings(None, mqtt=url).mqtt_target == target


def test_password_masked_in_describe() -> None:
    target = load_settings(None, mqtt="mqtts://alice:s3cret@broker:8884").mqtt_target
    text = target.describe()
    assert "s3cret" not in text
    assert "***" in text
    assert "alice" in text and "broker:8884" in text


def test_embedded_broker_needs_an_address() -> None:
    """'' used to pass and crash check-config and serve with a traceback (mqtt_target)."""
    with pytest.raises(ConfigError, match=r"^embedded_listen: '' leaves the embedded broker"):
        load_settings(None, embedded_listen="")
    external = load_settings(None, embedded_listen="", mqtt="mqtt://127.0.0.1:1883")
    assert external.mqtt_target.host == "127.0.0.1"  # nothing reads it then


def test_embedded_describe() -> None:
    text = load_settings(None, embedded_listen="127.0.0.1:1999").mqtt_target.describe()
    assert "embedded" in text and "1999" in text


# ---- topic templates ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("upstream_topic", "cp/+/x"),
        ("upstream_reply_topic", "cp/${cid}/#"),
        ("dnstream_topic", "cs/+/${cid}"),
        ("ack_topic", "#"),
        ("presence_topic", "presence/+"),
        ("prefix", "a/#/"),
        ("prefix", "$SYS/"),
    ],
)
def test_wildcard_or_dollar_in_topic_refused(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(None, **{key: value})


def test_wildcard_in_toml_topic_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="upstream_topic"):
        load_settings(toml(tmp_path, 'upstream_topic = "cp/+/${cid}"\n'))


def test_dnstream_topic_needs_the_charge_point() -> None:
    with pytest.raises(ConfigError, match="dnstream_topic"):
        load_settings(None, dnstream_topic="cs/all")


def test_reconnect_delays_must_be_ordered() -> None:
    with pytest.raises(ConfigError, match=r"mqtt_reconnect_max .* raise it"):
        load_settings(None, mqtt_reconnect_min=10, mqtt_reconnect_max=5)


def test_broker_outage_policy_is_named_on_a_bad_value() -> None:
    with pytest.raises(ConfigError, match="broker_outage"):
        load_settings(None, broker_outage="ignore")


def test_repeat_actions_from_env_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCPP_MQTT_REPEAT_ACTIONS", "StopTransaction, TransactionEvent")
    assert load_settings(None).repeat_actions == ["StopTransaction", "TransactionEvent"]
    with pytest.raises(ConfigError, match=r"repeat_actions.*Metervalues: not an action"):
        load_settings(None, repeat_actions="Metervalues")

"""ocpp2mqtt's environment variables as settings: every variable, its default, and each error
naming the variable."""

from __future__ import annotations

import logging
import os

import pytest

from ocpp_mqtt.config import ConfigError, Settings, load_settings
from ocpp_mqtt.northbound.ocpp2mqtt_env import mqtt_client_id, settings_from_env


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("OCPP_MQTT_") or name.startswith(("MQTT_", "LISTEN_")) \
                or name in ("AUTHORIZED_TAG_ID_LIST", "EXPECTED_CHARGE_POINTS", "LOG_LEVEL"):
            monkeypatch.delenv(name)


def test_defaults_are_ocpp2mqtt_s() -> None:
    s = settings_from_env({})
    assert s["mode"] == "central"
    assert s["profiles"] == ["ocpp2mqtt"]
    assert s["versions"] == ["1.6"]
    assert s["default_version"] == "1.6"
    assert s["heartbeat_interval"] == 10
    assert s["listen"] == "0.0.0.0:3000"
    assert s["mqtt"] == "mqtt://localhost:1883"
    assert s["ocpp2mqtt_basepath"] == "ocpp/test"
    assert s["ocpp2mqtt_use_station_name"] is False
    assert s["id_tags"] == {}
    assert s["ocpp2mqtt_expected"] == []
    assert (s["mqtt_reconnect_min"], s["mqtt_reconnect_max"]) == (5.0, 60.0)
    assert (s["ocpp2mqtt_command_retries"], s["ocpp2mqtt_command_retry_delay"]) == (5, 0.3)
    for key in ("mqtt_keepalive", "mqtt_connect_timeout", "mqtt_client_id", "log_level"):
        assert key not in s  # ours and ocpp2mqtt's defaults agree, or ours is right
    assert set(s) <= set(Settings.model_fields)


def test_every_variable() -> None:
    s = settings_from_env({
        "MQTT_HOSTNAME": "broker.lan", "MQTT_PORT": "1884", "MQTT_BASEPATH": "ocpp/",
        "MQTT_USESTATIONNAME": "true", "MQTT_USERNAME": "ev user", "MQTT_PASSWORD": "p@ss:w/rd",
        "MQTT_TRANSPORT": "tcp", "MQTT_KEEPALIVE": "30", "MQTT_TIMEOUT": "12.5",
        "MQTT_RECONNECT_BASE_DELAY": "2", "MQTT_RECONNECT_MAX_DELAY": "90",
        "MQTT_CLIENT_ID": "garage", "LISTEN_ADDR": "192.168.1.5", "LISTEN_PORT": "9100",
        "AUTHORIZED_TAG_ID_LIST": '["uc_default_auth", "tag2"]',
        "EXPECTED_CHARGE_POINTS": '["charger1", "charger2"]',
        "OCPP_COMMAND_RETRY_ATTEMPTS": "3", "OCPP_COMMAND_RETRY_BASE_DELAY": "0.5",
        "LOG_LEVEL": "DEBUG",
    })
    assert s["mqtt"] == "mqtt://ev%20user:p%40ss%3Aw%2Frd@broker.lan:1884"
    assert s["ocpp2mqtt_basepath"] == "ocpp/" and s["ocpp2mqtt_use_station_name"] is True
    assert s["mqtt_keepalive"] == 30 and s["mqtt_connect_timeout"] == 12.5
    assert (s["mqtt_reconnect_min"], s["mqtt_reconnect_max"]) == (2.0, 90.0)
    assert s["mqtt_client_id"] == "garage"
    assert s["listen"] == "192.168.1.5:9100"
    assert s["id_tags"] == {"uc_default_auth": "Accepted", "tag2": "Accepted"}
    assert s["ocpp2mqtt_expected"] == ["charger1", "charger2"]
    assert (s["ocpp2mqtt_command_retries"], s["ocpp2mqtt_command_retry_delay"]) == (3, 0.5)
    assert s["log_level"] == "debug"


def test_credentials_reach_the_mqtt_target_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_USERNAME", "ev user")
    monkeypatch.setenv("MQTT_PASSWORD", "p@ss:w/rd%")
    settings = load_settings(None, compat="ocpp2mqtt")
    target = settings.mqtt_target
    assert (target.username, target.password) == ("ev user", "p@ss:w/rd%")
    assert (target.host, target.port) == ("localhost", 1883)
    assert "p@ss" not in target.describe()


def test_password_without_user_is_ignored_as_paho_did(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        s = settings_from_env({"MQTT_PASSWORD": "secret"})
    assert s["mqtt"] == "mqtt://localhost:1883"
    assert "MQTT_PASSWORD is ignored" in caplog.text and "secret" not in caplog.text


def test_ipv6_addresses_get_brackets() -> None:
    s = settings_from_env({"MQTT_HOSTNAME": "fd00::5", "LISTEN_ADDR": "::"})
    assert s["mqtt"] == "mqtt://[fd00::5]:1883"
    assert s["listen"] == "[::]:3000"
    assert Settings(**s).listen_address == ("::", 3000)


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("True", False), ("1", False),
                                                 ("yes", False), ("", False)])
def test_use_station_name_only_the_exact_string_true(value: str, expected: bool) -> None:
    assert settings_from_env({"MQTT_USESTATIONNAME": value})[
        "ocpp2mqtt_use_station_name"] is expected


def test_client_id_sanitised_and_truncated_as_ocpp2mqtt() -> None:
    assert mqtt_client_id("my client.id") == "my-client-id"
    long = "ocpp2mqtt-garage-charger-left"  # 29 characters: first 11 + last 12
    assert mqtt_client_id(long) == long[:11] + long[-12:]
    assert len(mqtt_client_id(long)) == 23


def test_tags_deduplicated_case_insensitively() -> None:
    s = settings_from_env({"AUTHORIZED_TAG_ID_LIST": '["AbC", "abc", "x"]'})
    assert s["id_tags"] == {"AbC": "Accepted", "x": "Accepted"}


@pytest.mark.parametrize(("level", "ours"), [("info", "info"), ("WARNING", "warning"),
                                             ("WARN", "warning"), ("CRITICAL", "error"),
                                             ("ERROR", "error"), ("verbose", "info")])
def test_log_levels(level: str, ours: str) -> None:
    assert settings_from_env({"LOG_LEVEL": level})["log_level"] == ours


@pytest.mark.parametrize("name", ["LOG_FILE", "LOG_FORMAT", "MQTT_WEBSOCKET_PATH"])
def test_log_file_and_websocket_options_ignored_with_a_warning(
        name: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        settings_from_env({name: "x"})
    assert f"{name} is ignored" in caplog.text


def test_unknown_transport_falls_back_to_tcp(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        s = settings_from_env({"MQTT_TRANSPORT": "quic"})
    assert s["mqtt"].startswith("mqtt://") and "using tcp" in caplog.text


@pytest.mark.parametrize(("env", "start"), [
    ({"MQTT_PORT": "abc"}, "MQTT_PORT: expected a whole number"),
    ({"MQTT_PORT": "70000"}, "MQTT_PORT: 70000 is not a port number"),
    ({"LISTEN_PORT": "x"}, "LISTEN_PORT: expected a whole number"),
    ({"LISTEN_ADDR": "0.0.0.0/24"}, "LISTEN_ADDR:"),
    ({"MQTT_HOSTNAME": "broker:1883"}, "MQTT_HOSTNAME:"),
    ({"MQTT_TRANSPORT": "websockets"}, "MQTT_TRANSPORT: 'websockets' is not supported"),
    ({"MQTT_TRANSPORT": "unix"}, "MQTT_TRANSPORT: 'unix' is not supported"),
    ({"MQTT_KEEPALIVE": "0"}, "MQTT_KEEPALIVE: 0 is too short"),
    ({"MQTT_KEEPALIVE": "sixty"}, "MQTT_KEEPALIVE: expected a whole number"),
    ({"MQTT_TIMEOUT": "-1"}, "MQTT_TIMEOUT: expected a number of seconds above 0"),
    ({"MQTT_RECONNECT_BASE_DELAY": "nan"}, "MQTT_RECONNECT_BASE_DELAY:"),
    ({"MQTT_RECONNECT_BASE_DELAY": "30", "MQTT_RECONNECT_MAX_DELAY": "10"},
     "MQTT_RECONNECT_MAX_DELAY: 10 is below MQTT_RECONNECT_BASE_DELAY"),
    ({"AUTHORIZED_TAG_ID_LIST": "[tag1]"}, "AUTHORIZED_TAG_ID_LIST: not JSON"),
    ({"AUTHORIZED_TAG_ID_LIST": '{"tag1": 1}'}, "AUTHORIZED_TAG_ID_LIST: expected a JSON array"),
    ({"AUTHORIZED_TAG_ID_LIST": "[123]"}, "AUTHORIZED_TAG_ID_LIST: expected a JSON array"),
    ({"AUTHORIZED_TAG_ID_LIST": '["123456789012345678901"]'},
     "AUTHORIZED_TAG_ID_LIST: '123456789012345678901' is longer than 20"),
    ({"EXPECTED_CHARGE_POINTS": "charger1"}, "EXPECTED_CHARGE_POINTS: not JSON"),
    ({"EXPECTED_CHARGE_POINTS": '["a/b"]'}, "EXPECTED_CHARGE_POINTS: 'a/b' cannot be"),
    ({"OCPP_COMMAND_RETRY_ATTEMPTS": "many"}, "OCPP_COMMAND_RETRY_ATTEMPTS: expected a whole"),
    ({"OCPP_COMMAND_RETRY_ATTEMPTS": "50"}, "OCPP_COMMAND_RETRY_ATTEMPTS: expected 0 to 20"),
    ({"OCPP_COMMAND_RETRY_BASE_DELAY": "0"}, "OCPP_COMMAND_RETRY_BASE_DELAY: expected a number"),
])
def test_malformed_values_name_the_variable(env: dict[str, str], start: str) -> None:
    with pytest.raises(ValueError) as caught:
        settings_from_env(env)
    assert str(caught.value).startswith(start), str(caught.value)


def test_config_error_through_load_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_PORT", "abc")
    with pytest.raises(ConfigError, match=r"^MQTT_PORT: expected a whole number"):
        load_settings(None, compat="ocpp2mqtt")
    monkeypatch.setenv("OCPP_MQTT_COMPAT", "ocpp2mqtt")
    with pytest.raises(ConfigError, match=r"^MQTT_PORT"):
        load_settings(None)


def test_ignored_without_compat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_PORT", "abc")
    monkeypatch.setenv("LISTEN_PORT", "3000")
    s = load_settings(None)
    assert s.mode == "relay" and s.listen == "0.0.0.0:9000"


def test_a_lower_layer_than_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTEN_PORT", "3100")
    monkeypatch.setenv("MQTT_BASEPATH", "ocpp/")
    monkeypatch.setenv("MQTT_USESTATIONNAME", "true")
    monkeypatch.setenv("AUTHORIZED_TAG_ID_LIST", '["tag1"]')
    monkeypatch.setenv("EXPECTED_CHARGE_POINTS", '["cp1"]')
    s = load_settings(None, compat="ocpp2mqtt")
    assert (s.mode, s.active_profiles, s.versions) == ("central", ["ocpp2mqtt"], ["1.6"])
    assert s.listen == "0.0.0.0:3100"
    assert s.mqtt_target.host == "localhost" and s.mqtt_target.port == 1883
    assert (s.ocpp2mqtt_basepath, s.ocpp2mqtt_use_station_name) == ("ocpp/", True)
    assert s.id_tags == {"tag1": "Accepted"} and s.unknown_id_tag == "Invalid"
    assert s.ocpp2mqtt_expected == ["cp1"]
    # our own variables and flags win over ocpp2mqtt's
    monkeypatch.setenv("OCPP_MQTT_PROFILES", "ocpp2mqtt,native")
    monkeypatch.setenv("OCPP_MQTT_LISTEN", "127.0.0.1:3200")
    s = load_settings(None, compat="ocpp2mqtt", heartbeat_interval=60)
    assert s.active_profiles == ["ocpp2mqtt", "native"]
    assert s.listen == "127.0.0.1:3200" and s.heartbeat_interval == 60


def test_expected_as_a_flag_is_comma_separated() -> None:
    s = load_settings(None, mode="central", profiles="ocpp2mqtt", ocpp2mqtt_expected="a, b")
    assert s.ocpp2mqtt_expected == ["a", "b"]


def test_basepath_must_not_hold_wildcards() -> None:
    with pytest.raises(ConfigError, match=r"^ocpp2mqtt_basepath:"):
        load_settings(None, mode="central", profiles="ocpp2mqtt", ocpp2mqtt_basepath="ocpp/+/")


def test_bug_16_mqtt_tls_layers_over_the_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """ocpp2mqtt had no MQTT TLS; here our variables add it to an ocpp2mqtt .env."""
    monkeypatch.setenv("MQTT_HOSTNAME", "broker.lan")
    monkeypatch.setenv("OCPP_MQTT_MQTT", "mqtts://ev:secret@broker.lan:8883")
    monkeypatch.setenv("OCPP_MQTT_MQTT_CA", "/etc/ssl/certs/ca.pem")
    s = load_settings(None, compat="ocpp2mqtt")
    target = s.mqtt_target
    assert (target.tls, target.host, target.port, target.username) == (
        True, "broker.lan", 8883, "ev")
    assert str(s.mqtt_ca) == "/etc/ssl/certs/ca.pem"
    assert s.mode == "central"  # the rest of the ocpp2mqtt layer stays


def test_readme_variable_defaults_are_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    """README "Variables": with none of ocpp2mqtt's variables set, each option it maps one to
    takes the default the table gives (ocpp2mqtt's own), so an .env that relied on a default
    behaves as under ocpp2mqtt."""
    import re

    from ocpp_mqtt.config import Settings, load_settings
    from tests.readme_examples import section

    for name in list(os.environ):
        if name.startswith(("MQTT_", "LISTEN_", "OCPP_", "LOG_", "AUTHORIZED", "EXPECTED")):
            monkeypatch.delenv(name)
    settings = load_settings(None, compat="ocpp2mqtt")
    table = section("Variables").strip().split("\n\n")[0]
    checked = 0
    for line in table.splitlines()[2:]:
        _names, default, becomes = [c.strip() for c in line.strip().strip("|").split("|")][:3]
        defaults = re.findall(r"`([^`]*)`", default)
        options = [o for o in re.findall(r"`(\w+)`", becomes) if o in Settings.model_fields]
        if "when set; unset" in becomes:  # the gateway's default applies: check it is stated
            option = options[0]
            assert f"{getattr(settings, option):g} s" in becomes, line
        elif becomes.startswith("`mqtt = "):
            assert settings.mqtt == "mqtt://{}:{}".format(*defaults), line
        elif options == ["listen"]:
            assert settings.listen == "{}:{}".format(*defaults), line
        elif len(options) == len(defaults) and options:
            for option, text in zip(options, defaults, strict=True):
                value = getattr(settings, option)
                if isinstance(value, list | dict):
                    assert not value and text == "[]", line
                elif isinstance(value, str):
                    assert value == text.lower() or value == text, line
                else:
                    assert value == float(text), (line, value)
        else:
            continue
        checked += 1
    assert checked >= 10, checked

"""Admin listener settings: the default, 'off', the token rule beyond loopback, workers."""

from __future__ import annotations

import os

import pytest

from ocpp_mqtt.config import ConfigError, load_settings
from ocpp_mqtt.workers import worker_settings

TOKEN = "0123456789abcdef-token"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("OCPP_MQTT_"):
            monkeypatch.delenv(name)


def test_default_is_loopback_8080_without_token() -> None:
    settings = load_settings()
    assert settings.admin_address == ("127.0.0.1", 8080)
    assert settings.admin_token is None


@pytest.mark.parametrize("value", ["off", "OFF", "", "none", "false"])
def test_off(value: str) -> None:
    settings = load_settings(None, admin_listen=value)
    assert settings.admin_listen == "off" and settings.admin_address is None


@pytest.mark.parametrize("listen", ["0.0.0.0:8080", "[::]:8080", "192.168.1.5:80",
                                    "gateway.local:8080"])
def test_token_required_beyond_loopback(listen: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, admin_listen=listen)
    message = str(info.value)
    assert message.startswith("admin_token: required because admin_listen")
    assert "--admin-token" in message and "127.0.0.1" in message
    assert load_settings(None, admin_listen=listen, admin_token=TOKEN).admin_token is not None


@pytest.mark.parametrize("listen", ["127.0.0.1:8080", "localhost:8080", "[::1]:9", "127.0.0.2:1"])
def test_loopback_needs_no_token(listen: str) -> None:
    assert load_settings(None, admin_listen=listen).admin_address is not None


def test_bad_values() -> None:
    with pytest.raises(ConfigError, match=r"^admin_listen: expected HOST:PORT"):
        load_settings(None, admin_listen="8080")
    with pytest.raises(ConfigError, match=r"^admin_token: must be at least 16 characters"):
        load_settings(None, admin_token="short")
    with pytest.raises(ConfigError, match=r"^admin_token: must be at least 16"):
        load_settings(None, admin_token="with a space in it!!")


def test_token_from_environment_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCPP_MQTT_ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("OCPP_MQTT_ADMIN_LISTEN", "0.0.0.0:8081")
    settings = load_settings()
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())


def test_workers_take_port_plus_index() -> None:
    settings = load_settings(None, workers=3, mqtt="mqtt://127.0.0.1:1883",
                             listen="127.0.0.1:9000", admin_listen="127.0.0.1:8080")
    assert [worker_settings(settings, i).admin_listen for i in range(3)] == [
        "127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:8082"]
    ephemeral = load_settings(None, workers=2, mqtt="mqtt://127.0.0.1:1883",
                              listen="127.0.0.1:9000", admin_listen="127.0.0.1:0")
    assert worker_settings(ephemeral, 1).admin_listen == "127.0.0.1:0"
    with pytest.raises(ConfigError, match="admin_listen: worker i listens on port"):
        load_settings(None, workers=3, mqtt="mqtt://127.0.0.1:1883", listen="127.0.0.1:9000",
                      admin_listen="127.0.0.1:65534")

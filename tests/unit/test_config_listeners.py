"""`listeners` and `listen`: which listeners a configuration yields, and the errors that name
the key and the fix (SEC-07: one profile per address)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocpp_mqtt.config import ConfigError, load_settings
from ocpp_mqtt.healthcheck import probe_url
from tests.certs import Pki


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("OCPP_MQTT_"):
            monkeypatch.delenv(name)


def test_default_is_one_profile_0_listener() -> None:
    [only] = load_settings(None).endpoints
    assert (only.address, only.profile) == ("0.0.0.0:9000", 0)


def test_listeners_replace_listen_unless_it_is_given(tmp_path: Path) -> None:
    table = [{"address": "0.0.0.0:9100", "profile": 1}]
    s = load_settings(None, listeners=json.dumps(table))
    assert [(e.address, e.profile) for e in s.endpoints] == [("0.0.0.0:9100", 1)]
    s = load_settings(None, listeners=json.dumps(table), listen="127.0.0.1:9000")
    assert [e.profile for e in s.endpoints] == [0, 1]
    toml = tmp_path / "gw.toml"
    toml.write_text('[[listeners]]\naddress = "0.0.0.0:9100"\nprofile = 1\n')
    assert [e.profile for e in load_settings(toml).endpoints] == [1]


def test_listener_errors_name_the_fix(tmp_path: Path) -> None:
    cases = [
        ([{"address": "0.0.0.0:9443", "profile": 2}], "needs `cert` and `key`"),
        ([{"address": "0.0.0.0:9000", "profile": 1, "cert": "x.pem"}], "need profile 2 or 3"),
        ([{"address": "0.0.0.0:9000", "profile": 4}], "profile"),
        ([{"address": "nope", "profile": 1}], "HOST:PORT"),
        ([{"address": "0.0.0.0:9000", "profile": 1, "colour": "red"}], "colour"),
        ([{"address": "0.0.0.0:9000", "profile": 1},
          {"address": "0.0.0.0:9000", "profile": 0}], "configured twice"),
    ]
    for listeners, message in cases:
        with pytest.raises(ConfigError, match="listeners") as info:
            load_settings(None, listeners=json.dumps(listeners))
        assert message in str(info.value), (listeners, str(info.value))
    with pytest.raises(ConfigError, match="no charge point listener"):
        load_settings(None, listen="")
    with pytest.raises(ConfigError, match="JSON list"):
        load_settings(None, listeners="[{address")


def test_tls_listener_files_checked_and_healthcheck_uses_https(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    server = pki.issue("server", "localhost", server=True)
    table = {"address": "127.0.0.1:9443", "profile": 3, "cert": str(server.cert),
             "key": str(server.key)}
    with pytest.raises(ConfigError, match="profile 3 needs `ca`"):
        load_settings(None, listeners=json.dumps([table]))
    table["ca"] = str(tmp_path / "missing.pem")
    with pytest.raises(ConfigError, match=r"missing\.pem is not a readable file"):
        load_settings(None, listeners=json.dumps([table]))
    table["ca"] = str(pki.path)
    config = tmp_path / "tls.toml"
    config.write_text("listen = \"\"\nlisteners = " + json.dumps([table]).replace(
        '": ', '" = ').replace('{"', '{').replace(', "', ', ').replace('" =', ' =') + "\n")
    assert probe_url(config) == "https://127.0.0.1:9443/health"


def test_check_config_loads_listener_certificates(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from ocpp_mqtt.cli import main

    pki = Pki(tmp_path)
    server = pki.issue("server", "localhost", server=True)
    other = pki.issue("other", "localhost", server=True)
    table = {"address": "127.0.0.1:9443", "profile": 2, "cert": str(server.cert),
             "key": str(other.key)}  # a key that is not the certificate's
    code = main(["check-config", "--listen", "", "--listeners", json.dumps([table]),
                 "--credentials-store", str(tmp_path / "nodir" / "c.sqlite3")])
    err = capsys.readouterr().err
    assert code == 2
    assert "listeners: listener 127.0.0.1:9443: cannot load cert" in err
    assert "credentials_store: directory" in err

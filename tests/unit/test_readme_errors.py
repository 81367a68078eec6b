"""The error messages README.md quotes are the ones a user gets: each is provoked as the README
describes and compared with the quote (up to its `...`). The check-config listing is compared
line for line, in its order."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ocpp_mqtt.cli import main
from tests.readme_examples import README


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.upper().startswith(("OCPP_MQTT_", "MQTT_", "AUTHORIZED_TAG")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _quote(start: str) -> str:
    """The README's `inline quote` beginning with `start` (it may wrap), without `...`."""
    found = re.search(rf"`({re.escape(start)}[^`]*)`", README)
    assert found, f"README.md no longer quotes {start!r}"
    return re.sub(r"\s*\n\s*", " ", found.group(1)).removesuffix("...").rstrip()


def _stderr(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


def test_check_config_listing(in_tmp: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The three problems of the README's listing: a misspelt key (line 1), a bad value
    (line 2), a bad environment variable; listed in that order."""
    listing = re.search(r"```\n(ocpp-mqtt: 3 config errors in gateway\.toml.*?)```", README,
                        re.DOTALL)
    assert listing
    lines = listing.group(1).splitlines()
    file_lines = {}
    for line in lines[1:]:
        where, key_value = line.strip().split(": ", 2)[:2]
        if where.startswith("gateway.toml:"):
            key = key_value.split(" = ")[0]
            value = key_value.split(" = ")[1] if " = " in key_value else '"0.0.0.0:9000"'
            file_lines[int(where.split(":")[1])] = f"{key} = {value}"
        else:
            name, value = where, key_value.split(" = ")[1].strip("'")
            monkeypatch.setenv(name, value)
    (in_tmp / "gateway.toml").write_text(
        "".join(file_lines[n] + "\n" for n in sorted(file_lines)))
    err = _stderr(["check-config", "--config", "gateway.toml"], capsys)
    assert err.splitlines() == lines


def test_one_line_config_errors(capsys: pytest.CaptureFixture[str]) -> None:
    quote = _quote("ocpp-mqtt: config error: admin_token:")
    err = _stderr(["serve", "--admin-listen", "0.0.0.0:8080", "--listen", "127.0.0.1:0",
                   "--embedded-listen", "127.0.0.1:0"], capsys)
    assert err.startswith(quote), err
    quote = _quote("log_levels: unknown component")
    err = _stderr(["serve", "--log-levels", "mqt=debug"], capsys)
    assert err.startswith("ocpp-mqtt: config error: " + quote), err
    quote = _quote("thingsboard_url: expected")
    err = _stderr(["serve", "--mode", "central", "--profiles", "emqx,native,thingsboard",
                   "--thingsboard-url", "http://tb.example.com"], capsys)
    assert err.startswith("ocpp-mqtt: config error: " + quote), err
    assert "tb.example.com" not in err.split("expected", 1)[1]  # never repeated: a token


def test_ocpp2mqtt_variable_error(capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    quote = _quote("ocpp-mqtt: config error: AUTHORIZED_TAG_ID_LIST:")
    monkeypatch.setenv("AUTHORIZED_TAG_ID_LIST", "uc_default_auth")
    err = _stderr(["check-config", "--compat", "ocpp2mqtt"], capsys)
    assert quote.removeprefix("ocpp-mqtt: config error: ") in err, err


def test_simulate_version_error(capsys: pytest.CaptureFixture[str]) -> None:
    quote = _quote("ocpp-mqtt simulate: error: --versions:")
    assert main(["simulate", "--versions", "3.0"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == quote

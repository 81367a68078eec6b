"""`ocpp-mqtt check-config`: the settings loaded as `serve` loads them (file, environment,
flags), `ok` and a summary with secrets masked, or every problem at once; exit 0 / 2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ocpp_mqtt.cli import main

PASSWORD = "Sup3r-Secret"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("OCPP_MQTT_"):
            monkeypatch.delenv(name)


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check-config", *args])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gw.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_ok_with_a_summary_of_file_environment_and_flags(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, f'qos = 1\nmqtt = "mqtt://gw:{PASSWORD}@broker.local:1883"\n'
                 'mode = "central"\n')
    monkeypatch.setenv("OCPP_MQTT_CALL_TIMEOUT", "12")
    code, out, err = check(capsys, "--config", str(path), "--prefix", "ev/")
    assert code == 0, err
    assert out.splitlines()[0] == f"ok: {path}"
    assert "mode:          central (profiles: emqx, native, homeassistant)" in out
    assert "mqtt://gw:***@broker.local:1883 (MQTT 5), prefix 'ev/'" in out
    # every changed value with where it came from
    assert f"  qos = 1  ({path}:1)" in out
    assert "  call_timeout = 12.0  (OCPP_MQTT_CALL_TIMEOUT)" in out
    assert "  prefix = 'ev/'  (--prefix)" in out
    assert PASSWORD not in out + err


def test_defaults_alone_are_ok(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check(capsys)
    assert code == 0 and out.startswith("ok\n") and "every option at its default" in out


def test_every_error_at_once_with_where_value_problem_and_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, 'lisen = "0.0.0.0:9000"\nqos = 5\ncall_timeout = "soon"\n'
                 f'mqtt = "mqtt://gw:{PASSWORD}@broker:99999"\n[answer]\nHeartbeat = "nobody"\n')
    monkeypatch.setenv("OCPP_MQTT_LOG_FORMAT", "xml")
    code, out, err = check(capsys, "--config", str(path), "--log-levels", "mqt=debug")
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0] == f"ocpp-mqtt: 7 config errors in {path} (the gateway would not start):"
    assert f"  {path}:1: lisen: unknown option; did you mean `listen`?" in err
    assert f"  {path}:2: qos = 5: Input should be less than or equal to 2" in err
    assert (f"  {path}:3: call_timeout = 'soon': Input should be a valid number, unable to "
            "parse string as a number; give a number") in err
    assert f"  {path}:4: mqtt = 'mqtt://gw:***@broker:99999': bad port" in err
    assert f"  {path}:5: answer.Heartbeat = 'nobody': Input should be 'local'" in err
    assert "  OCPP_MQTT_LOG_FORMAT: log_format = 'xml': Input should be 'text' or 'json'" in err
    assert "  --log-levels: log_levels = 'mqt=debug': unknown component 'mqt'; did you mean " \
        "'mqtt'?" in err
    assert PASSWORD not in err


def test_toml_syntax_error_shows_the_line(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, 'qos = 1\ncall_timeout = = 5\n')
    code, _, err = check(capsys, "--config", str(path))
    assert code == 2
    assert "is not valid TOML" in err and "(at line 2, column 16)" in err
    assert "     2 | call_timeout = = 5\n       |                ^" in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = check(capsys, "--config", str(tmp_path / "nope.toml"))
    assert code == 2 and "cannot read" in err and "nope.toml" in err


def test_checks_across_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = check(capsys, "--profiles", "native")
    assert code == 2
    assert "(several options): profile(s) native need the state of central mode: add " \
        "--mode central" in err


def test_unknown_variables_are_warned_about(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCPP_MQTT_CALL_TIMOUT", "5")
    code, out, err = check(capsys)
    assert code == 0 and out.startswith("ok")
    assert "warning: OCPP_MQTT_CALL_TIMOUT names no option and is ignored; did you mean " \
        "`call_timeout`?" in err


def test_secrets_masked_in_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check(capsys, "--mode", "central", "--profiles",
                           "emqx,native,thingsboard", "--thingsboard-url",
                           f"mqtt://{PASSWORD}@tb.local:1883")
    assert code == 0, err
    assert "thingsboard_url = 'mqtt://***@tb.local:1883'" in out
    assert PASSWORD not in out + err


def test_ocpp2mqtt_variables_are_named_as_the_source(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"MQTT_HOSTNAME": "broker.lan", "MQTT_USERNAME": "u",
                        "MQTT_PASSWORD": PASSWORD, "LISTEN_PORT": "3000"}.items():
        monkeypatch.setenv(name, value)
    code, out, err = check(capsys, "--compat", "ocpp2mqtt")
    assert code == 0, err
    assert "  listen = '0.0.0.0:3000'  (ocpp2mqtt variables)" in out
    assert "  mqtt = 'mqtt://u:***@broker.lan:1883'  (ocpp2mqtt variables)" in out
    assert PASSWORD not in out + err


def test_files_the_gateway_would_open_at_start(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = check(capsys, "--mode", "central", "--store",
                         str(tmp_path / "missing" / "gw.sqlite3"), "--mqtt",
                         "mqtts://broker:8883", "--mqtt-ca", str(tmp_path / "ca.pem"))
    assert code == 2
    assert f"store: directory {tmp_path / 'missing'} does not exist" in err
    assert "mqtt_ca: the TLS files cannot be loaded" in err
    assert not (tmp_path / "missing").exists()  # nothing created by a check


def test_tls_files_without_mqtts_are_warned_about(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    code, _, err = check(capsys, "--mqtt-ca", str(tmp_path / "ca.pem"))
    assert code == 0
    assert "warning: mqtt_ca set but mqtt is not mqtts://: ignored" in err


@pytest.mark.parametrize(("value", "shown"), [
    ("x", "listeners = 'x': expected a JSON list of tables"),
    ('[{"address": "0.0.0.0:9001", "profile": 7}]', "listeners.0.profile = 7: "),
    ("5", "listeners = 5: "),
])
def test_a_rejected_listeners_value_is_listed_not_a_crash(
        capsys: pytest.CaptureFixture[str], value: str, shown: str) -> None:
    """check-config showed `listeners` as ListenerSpec objects, also when it was the rejected
    raw input (a string, a number): a traceback instead of the error `serve` gives."""
    code, out, err = check(capsys, "--listeners", value)
    assert code == 2 and not out
    assert f"  --listeners: {shown}" in err

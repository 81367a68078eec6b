"""Log components and per-component levels (`log_levels`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocpp_mqtt.config import ConfigError, load_settings
from ocpp_mqtt.logs import COMPONENTS, LIBRARIES, parse_levels, setup_logging

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in (*[f"ocpp_mqtt.{c}" for c in COMPONENTS], *LIBRARIES):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_every_logger_in_src_is_a_documented_component() -> None:
    used = set()
    for path in (ROOT / "src" / "ocpp_mqtt").rglob("*.py"):
        for name in re.findall(r'getLogger\((?:"([a-z0-9_.]*)"|(__name__))\)', path.read_text()):
            logger = name[0] or "__name__"
            assert logger.startswith("ocpp_mqtt."), (
                f"{path.relative_to(ROOT)}: logger {logger!r}: name it ocpp_mqtt.<component> "
                "so that log_levels can set its level")
            used.add((logger.removeprefix("ocpp_mqtt.").split(".")[0], path.name))
    for component, where in sorted(used):
        assert component in COMPONENTS, (
            f"{where} logs as ocpp_mqtt.{component}: add {component!r} to COMPONENTS in "
            "src/ocpp_mqtt/logs.py and a row to README's component table (### Logs)")
    for component in COMPONENTS:
        assert f"`{component}`" in README, f"README's component table lacks `{component}`"


def test_parse_levels() -> None:
    assert parse_levels("") == {}
    assert parse_levels(" mqtt=DEBUG, ws = warning ,") == {"mqtt": "debug", "ws": "warning"}
    assert parse_levels("gmqtt=debug") == {"gmqtt": "debug"}


@pytest.mark.parametrize(("value", "message"), [
    ("mqt=debug", "unknown component 'mqt'; did you mean 'mqtt'"),
    ("mqtt=loud", "unknown level 'loud' for mqtt; levels: debug, info, warning, error"),
    ("mqtt", "expected COMPONENT=LEVEL pairs"),
])
def test_bad_log_levels_are_a_config_error_naming_the_key(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^log_levels: ") as caught:
        load_settings(None, log_levels=value)
    assert message in str(caught.value)


def test_log_levels_from_a_toml_table(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text('[log_levels]\nmqtt = "debug"\nws = "error"\n')
    assert load_settings(path).log_levels == "mqtt=debug,ws=error"


def test_component_levels_take_effect(restore_logging: None,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("warning", "text", "mqtt=debug,relay=error")
    logging.getLogger("ocpp_mqtt.mqtt").debug("mqtt detail")
    logging.getLogger("ocpp_mqtt.relay").warning("relay warning")
    logging.getLogger("ocpp_mqtt.ws").info("ws info")
    logging.getLogger("ocpp_mqtt.ws").warning("ws warning")
    err = capsys.readouterr().err
    assert "mqtt detail" in err  # raised above the global level
    assert "relay warning" not in err  # lowered below it
    assert "ws info" not in err and "ws warning" in err  # the global level
    # set up again without them: no level of the previous set-up stays behind
    setup_logging("warning", "text", "")
    logging.getLogger("ocpp_mqtt.mqtt").debug("mqtt detail 2")
    assert "mqtt detail 2" not in capsys.readouterr().err


def test_unwritable_frame_log_target_is_a_config_error(tmp_path: Path) -> None:
    from ocpp_mqtt.framelog import FrameLog

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"^frame_log_file: cannot write to "):
        FrameLog(["*"], f"{blocker}/sub/", "text")  # a directory under a plain file

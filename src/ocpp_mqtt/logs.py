"""Structured logs: `text` (key=value) or `json`, one line per record.

Fields come from `extra={...}`. Nothing logged here may carry a password or an Authorization
header: MQTT URLs are logged through MqttTarget.describe(), which masks the password.

Each part of the gateway logs as `ocpp_mqtt.<component>` (COMPONENTS); `log_levels` sets a
level per component over `log_level`.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

import orjson

# component -> what it logs. A new `logging.getLogger("ocpp_mqtt.<name>")` in src/ needs its
# entry here (tests/unit/test_logs.py checks) and a README row (### Logs).
COMPONENTS: dict[str, str] = {
    "gateway": "start-up, shutdown, broker outages past the grace period",
    "ws": "charge point WebSocket connections: refused handshakes, closes, write failures",
    "relay": "charge point sessions and MQTT messages for them: protocol problems, timeouts",
    "fleet": "several instances: takeovers, offline answers, held messages",
    "mqtt": "the MQTT link: connects, reconnects, flow control",
    "central": "central mode: answers, commands, state updates",
    "outbox": "central mode's on-disk outbox",
    "proxy": "proxy mode: upstream refusals, losses and returns, local answers, blocked CALLs",
    "upstream": "proxy mode's WebSocket client toward the CSMS: write failures",
    "mqttcp": "charge points on MQTT (OCPP over MQTT): sessions, undecodable frames",
    "native": "native state and command topics",
    "homeassistant": "Home Assistant discovery",
    "ocpp2mqtt": "the ocpp2mqtt profile",
    "thingsboard": "the ThingsBoard gateway API link",
    "workers": "the --workers supervisor",
    "admin": "the admin API listener (never the token)",
    "security": "security events (refused logins, certificates) and credential provisioning",
    "config": "settings read from other tools' variables (--compat)",
}
# Libraries whose loggers can be named too; they log at warning unless `log_levels` says.
LIBRARIES = ("gmqtt", "amqtt", "aiohttp")
LEVELS = ("debug", "info", "warning", "error")


def parse_levels(text: str) -> dict[str, str]:
    """`mqtt=debug,ws=warning` -> {"mqtt": "debug", "ws": "warning"}; ValueError naming the
    bad part and the choices."""
    import difflib

    levels: dict[str, str] = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        name, sep, level = (x.strip().lower() for x in part.partition("="))
        if not sep or not name or not level:
            raise ValueError(f"expected COMPONENT=LEVEL pairs separated by commas, e.g. "
                             f"mqtt=debug,ws=warning; got {part.strip()!r}")
        known = (*COMPONENTS, *LIBRARIES)
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(f"unknown component {name!r}; {hint}components: "
                             f"{', '.join(known)}")
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r} for {name}; levels: {', '.join(LEVELS)}")
        levels[name] = level
    return levels


_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe_text(text: str) -> str:
    """Charge points choose ids and actions: escape control characters so that none can
    start a forged log line."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        body.update(_fields(record))
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(body, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%H:%M:%S", time.localtime(record.created))
        extra = " ".join(f"{k}={v!r}" if isinstance(v, str) and " " in v
                         else f"{k}={safe_text(str(v))}" for k, v in _fields(record).items())
        line = f"{ts} {record.levelname.lower():7} {record.name}: {safe_text(record.getMessage())}"
        if extra:
            line += "  " + extra
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(level: str, fmt: str, levels: str = "") -> None:
    """`level` for everything, `levels` (`log_levels`, already validated) per component."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("gmqtt", "amqtt", "transitions", "aiohttp.access", "aiohttp"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    for component in COMPONENTS:
        logging.getLogger(f"ocpp_mqtt.{component}").setLevel(logging.NOTSET)
    for name, value in parse_levels(levels).items():
        logger = name if name in LIBRARIES else f"ocpp_mqtt.{name}"
        logging.getLogger(logger).setLevel(value.upper())

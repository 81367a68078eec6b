"""ocpp2mqtt's environment variables (`MQTT_HOSTNAME`, `LISTEN_PORT`, ...) as our settings.

With `--compat ocpp2mqtt` (or `OCPP_MQTT_COMPAT=ocpp2mqtt`) these values form a layer below the
TOML file, our own `OCPP_MQTT_*` variables and the flags, so the `.env` of an ocpp2mqtt
installation starts this gateway unchanged. Defaults are ocpp2mqtt's own (a broker on
`localhost:1883`, charge points on port 3000, topic base `ocpp/test`), not ours.

Every problem raises ValueError phrased as `VARIABLE: what is wrong; what to do`; load_settings
turns it into a config error. Variables that only shaped ocpp2mqtt's own log file are ignored
with a warning: our logs go to stderr.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

log = logging.getLogger("ocpp_mqtt.config")

# Variables read by ocpp2mqtt that have no meaning here; a value is reported, never an error.
IGNORED = {
    "MQTT_WEBSOCKET_PATH": "it only applies to MQTT_TRANSPORT=websockets",
    "MQTT_WEBSOCKET_HEADERS": "it only applies to MQTT_TRANSPORT=websockets",
    "LOG_FILE": "logs go to stderr (docker logs); redirect them to keep a file",
    "LOG_MAX_SIZE": "logs go to stderr",
    "LOG_BACKUP_COUNT": "logs go to stderr",
    "LOG_FORMAT": "set OCPP_MQTT_LOG_FORMAT=text or json instead",
    "LOG_DATE_FORMAT": "log lines carry their own time stamp",
}

_LOG_LEVELS = {"DEBUG": "debug", "INFO": "info", "WARNING": "warning", "WARN": "warning",
               "ERROR": "error", "CRITICAL": "error", "FATAL": "error"}


def settings_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings an ocpp2mqtt environment stands for (keys of config.Settings)."""
    env = {k: v for k, v in environ.items() if k in _READ}
    out: dict[str, Any] = {
        "mode": "central",
        # Only its topics: another profile under the same base could collide with them
        # (native's `ocpp/state/<cid>` against `ocpp/state/<key>` when MQTT_USESTATIONNAME
        # is off). OCPP_MQTT_PROFILES adds more.
        "profiles": ["ocpp2mqtt"],
        # ocpp2mqtt speaks 1.6 only; its commands are 1.6 messages. A charger that offers
        # 2.0.1 as well must not be moved to it by the swap.
        "versions": ["1.6"],
        # Its handler meant to keep chargers that offer no subprotocol (websockets >= 14
        # refused them; we do what it meant, HS-07).
        "default_version": "1.6",
        # Its BootNotification answer said 10 s: dashboards watching `last_seen` expect it.
        "heartbeat_interval": 10,
    }
    # ocpp2mqtt's switch was OFF until an automation said ON: a charge point seen for the
    # first time starts so here too (it is then kept, never reset on reconnect: bug 13)
    out["charging_enabled_default"] = False
    out["listen"] = _listen(env)
    out["mqtt"] = _mqtt_url(env)
    transport = env.get("MQTT_TRANSPORT", "tcp").strip().lower()
    if transport in ("websockets", "unix"):
        raise ValueError(
            f"MQTT_TRANSPORT: {transport!r} is not supported by ocpp-mqtt (MQTT over TCP or "
            "TLS only); remove MQTT_TRANSPORT and point MQTT_HOSTNAME/MQTT_PORT at the "
            "broker's TCP listener (usually 1883)")
    if transport != "tcp":
        log.warning("MQTT_TRANSPORT %r is not tcp, websockets or unix: using tcp, as "
                    "ocpp2mqtt did", transport)
    for name, why in IGNORED.items():
        if env.get(name):
            log.warning("%s is ignored: %s", name, why)

    if "MQTT_KEEPALIVE" in env:
        keepalive = _int(env, "MQTT_KEEPALIVE")
        if keepalive < 5:
            raise ValueError(f"MQTT_KEEPALIVE: {keepalive} is too short; ocpp-mqtt needs at "
                             "least 5 seconds (it detects a lost broker with it)")
        out["mqtt_keepalive"] = keepalive
    if "MQTT_TIMEOUT" in env:
        out["mqtt_connect_timeout"] = _positive(env, "MQTT_TIMEOUT")
    base_delay = _positive(env, "MQTT_RECONNECT_BASE_DELAY") if \
        "MQTT_RECONNECT_BASE_DELAY" in env else 5.0
    max_delay = _positive(env, "MQTT_RECONNECT_MAX_DELAY") if \
        "MQTT_RECONNECT_MAX_DELAY" in env else 60.0
    if max_delay < base_delay:
        raise ValueError(f"MQTT_RECONNECT_MAX_DELAY: {max_delay:g} is below "
                         f"MQTT_RECONNECT_BASE_DELAY ({base_delay:g}); raise it")
    out["mqtt_reconnect_min"], out["mqtt_reconnect_max"] = base_delay, max_delay
    client_id = env.get("MQTT_CLIENT_ID")
    if client_id:
        out["mqtt_client_id"] = mqtt_client_id(client_id)

    out["id_tags"] = {tag: "Accepted" for tag in _tag_list(env)}
    out["ocpp2mqtt_expected"] = _identity_list(env, "EXPECTED_CHARGE_POINTS")
    out["ocpp2mqtt_basepath"] = env.get("MQTT_BASEPATH", "ocpp/test")
    out["ocpp2mqtt_use_station_name"] = env.get("MQTT_USESTATIONNAME") == "true"
    out["ocpp2mqtt_command_retries"] = _int(env, "OCPP_COMMAND_RETRY_ATTEMPTS") if \
        "OCPP_COMMAND_RETRY_ATTEMPTS" in env else 5
    out["ocpp2mqtt_command_retry_delay"] = _positive(env, "OCPP_COMMAND_RETRY_BASE_DELAY") if \
        "OCPP_COMMAND_RETRY_BASE_DELAY" in env else 0.3
    if not 0 <= out["ocpp2mqtt_command_retries"] <= 20:
        raise ValueError("OCPP_COMMAND_RETRY_ATTEMPTS: expected 0 to 20 (0 or 1: a command "
                         "for a charge point that is not connected fails at once)")
    if out["ocpp2mqtt_command_retry_delay"] > 60:
        raise ValueError("OCPP_COMMAND_RETRY_BASE_DELAY: at most 60 seconds")
    if "LOG_LEVEL" in env:
        level = env["LOG_LEVEL"].strip().upper()
        if level not in _LOG_LEVELS:
            # ocpp2mqtt fell back to INFO silently; say so at least
            log.warning("LOG_LEVEL %r is not a log level: using info", env["LOG_LEVEL"])
        out["log_level"] = _LOG_LEVELS.get(level, "info")
    return out


_READ = {
    "MQTT_HOSTNAME", "MQTT_PORT", "MQTT_BASEPATH", "MQTT_USESTATIONNAME", "MQTT_USERNAME",
    "MQTT_PASSWORD", "MQTT_TRANSPORT", "MQTT_KEEPALIVE", "MQTT_TIMEOUT",
    "MQTT_RECONNECT_BASE_DELAY", "MQTT_RECONNECT_MAX_DELAY", "MQTT_CLIENT_ID",
    "LISTEN_ADDR", "LISTEN_PORT", "AUTHORIZED_TAG_ID_LIST", "EXPECTED_CHARGE_POINTS",
    "OCPP_COMMAND_RETRY_ATTEMPTS", "OCPP_COMMAND_RETRY_BASE_DELAY", "LOG_LEVEL", *IGNORED,
}


def mqtt_client_id(value: str) -> str:
    """ocpp2mqtt's sanitising of MQTT_CLIENT_ID, so broker ACLs written for the id it sent
    still match: characters outside [A-Za-z0-9_-] become '-', and past 23 characters the
    first 11 and the last 12 are kept."""
    sanitized = re.sub(r"[^A-Za-z0-9_-]", "-", value)
    return sanitized[:11] + sanitized[-12:] if len(sanitized) > 23 else sanitized


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    if name not in env:
        return default
    port = _int(env, name)
    if not 0 <= port < 65536:
        raise ValueError(f"{name}: {port} is not a port number (0-65535)")
    return port


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _listen(env: Mapping[str, str]) -> str:
    addr = env.get("LISTEN_ADDR", "").strip() or "0.0.0.0"
    if any(c.isspace() or c in "/@?#" for c in addr):
        raise ValueError(f"LISTEN_ADDR: {addr!r} is not a host name or IP address")
    return f"{_host(addr)}:{_port(env, 'LISTEN_PORT', 3000)}"


def _mqtt_url(env: Mapping[str, str]) -> str:
    host = env.get("MQTT_HOSTNAME", "").strip() or "localhost"
    if any(c.isspace() or c in "/@?#" for c in host) or host.count(":") == 1:
        raise ValueError(f"MQTT_HOSTNAME: {host!r} is not a host name or IP address (give the "
                         "port in MQTT_PORT, not in the host name)")
    port = _port(env, "MQTT_PORT", 1883)
    user = env.get("MQTT_USERNAME") or None
    password = env.get("MQTT_PASSWORD") or None
    credentials = ""
    if user is not None:
        # paho sends a password only with a user name; so do we
        credentials = quote(user, safe="")
        if password is not None:
            credentials += ":" + quote(password, safe="")
        credentials += "@"
    elif password is not None:
        log.warning("MQTT_PASSWORD is ignored without MQTT_USERNAME, as ocpp2mqtt ignored it")
    return f"mqtt://{credentials}{_host(host)}:{port}"


def _int(env: Mapping[str, str], name: str) -> int:
    text = env[name].strip()
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name}: expected a whole number, got {env[name]!r}") from None


def _positive(env: Mapping[str, str], name: str) -> float:
    text = env[name].strip()
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}: expected a number of seconds, got {env[name]!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a number of seconds above 0, got {env[name]!r}")
    return value


def _json_list(env: Mapping[str, str], name: str, example: str) -> list[Any]:
    text = env.get(name, "").strip()
    if not text:
        return []
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ValueError(f"{name}: not JSON; write a JSON array of strings, e.g. "
                         f"{name}={example}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{name}: expected a JSON array of non-empty strings, e.g. "
                         f"{name}={example}; got {text[:80]}")
    return value


def _tag_list(env: Mapping[str, str]) -> list[str]:
    tags = _json_list(env, "AUTHORIZED_TAG_ID_LIST", '["uc_default_auth"]')
    seen: dict[str, str] = {}
    for tag in tags:
        if len(tag) > 20:
            raise ValueError(f"AUTHORIZED_TAG_ID_LIST: {tag!r} is longer than 20 characters, "
                             "the longest idTag OCPP 1.6 allows; no charger can send it")
        # idTags compare case-insensitively (OCPP 1.6 IdToken): one entry per tag
        seen.setdefault(tag.casefold(), tag)
    return list(seen.values())


def _identity_list(env: Mapping[str, str], name: str) -> list[str]:
    ids = _json_list(env, name, '["charger1"]')
    bad = [i for i in ids if "/" in i or any(ord(c) < 32 for c in i)]
    if bad:
        raise ValueError(f"{name}: {bad[0]!r} cannot be a charge point identity (no '/' or "
                         "control characters)")
    return list(dict.fromkeys(ids))

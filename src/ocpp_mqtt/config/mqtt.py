"""Options of the MQTT side (broker URL, TLS, QoS, session, reconnects, gateway id, workers)
and the broker URL parser: `MqttTarget`, `thingsboard_target`."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, ValidationInfo, field_validator

from .checks import Area, check_hostport, parse_hostport


@dataclass(frozen=True)
class MqttTarget:
    embedded: bool
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None

    def describe(self) -> str:
        """For logs and the start-up line: never shows the password."""
        if self.embedded:
            return f"embedded broker on {self.host}:{self.port} (MQTT 3.1.1)"
        user = f"{self.username}:***@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


class MqttOptions(Area):
    # ---- MQTT side -----------------------------------------------------------------------
    mqtt: str = Field("embedded", description="'embedded' or mqtt[s]://[user:pass@]host[:port]")
    embedded_listen: str = Field("127.0.0.1:1883", description="embedded broker's HOST:PORT")
    mqtt_version: Literal["5", "3.1.1"] = Field("5", description="MQTT protocol version")
    mqtt_client_id: str | None = Field(
        None, description="MQTT client id (default: ocpp-mqtt-<gateway_id>)"
    )
    mqtt_ca: Path | None = Field(None, description="CA bundle for mqtts://")
    mqtt_cert: Path | None = Field(None, description="client certificate for mqtts://")
    mqtt_key: Path | None = Field(None, description="client key for mqtts://")
    mqtt_keepalive: int = Field(60, ge=5, description="MQTT keepalive seconds")
    mqtt_connect_timeout: float = Field(10.0, gt=0, description="seconds to reach the broker")
    mqtt_session_expiry: int = Field(
        300, ge=0, le=0xFFFFFFFF,
        description="seconds the broker keeps the gateway's session over a reconnect (0: none)",
    )
    mqtt_reconnect_min: float = Field(1.0, gt=0, description="first reconnect delay, seconds")
    mqtt_reconnect_max: float = Field(30.0, gt=0, description="longest reconnect delay, seconds")
    broker_outage: Literal["close", "callerror"] = Field(
        "close", description="when the broker stays unreachable: close sockets or CALLERROR"
    )
    broker_outage_grace: float = Field(
        10.0, ge=0, description="seconds of broker outage before broker_outage applies"
    )
    shutdown_timeout: float = Field(
        5.0, ge=0, description="seconds a stop waits for calls in progress to be answered"
    )
    qos: int = Field(2, ge=0, le=2, description="QoS of messages from charge points")
    ack_qos: int = Field(1, ge=0, le=2, description="QoS of acknowledgements")
    mqtt_max_inflight: int = Field(
        1000, ge=1, le=65000, description="QoS 1/2 packets in flight (also capped by the broker)"
    )
    gateway_id: str = Field(default_factory=socket.gethostname, description="this instance's name")
    workers: int = Field(
        1, ge=1, le=64, description="processes sharing the listen port (SO_REUSEPORT)"
    )

    @field_validator("embedded_listen")
    @classmethod
    def _check_embedded_listen(cls, value: str, info: ValidationInfo) -> str:
        # '' is tolerated only where nothing reads it (an external broker): the embedded one
        # must listen somewhere.
        if not value and info.data.get("mqtt") == "embedded":
            raise ValueError("'' leaves the embedded broker (mqtt = embedded) nowhere to listen: "
                             "give HOST:PORT, e.g. 127.0.0.1:1883, or an external broker with "
                             "--mqtt mqtt://host:port")
        return check_hostport(value)

    @field_validator("mqtt")
    @classmethod
    def _check_mqtt(cls, value: str) -> str:
        _parse_mqtt(value, "127.0.0.1:1883")
        return value

    @field_validator("gateway_id")
    @classmethod
    def _check_gateway_id(cls, value: str) -> str:
        if not value or any(c in value for c in "+#/\0") or value.startswith("$"):
            raise ValueError(f"{value!r} must be one MQTT topic level: no + # / NUL, "
                             "not empty, not starting with $")
        return value

    @property
    def mqtt_target(self) -> MqttTarget:
        return _parse_mqtt(self.mqtt, self.embedded_listen)


def _parse_mqtt(value: str, embedded_listen: str) -> MqttTarget:
    if value == "embedded":
        host, port = parse_hostport(embedded_listen, "embedded_listen")
        return MqttTarget(True, host, port, False, None, None)
    parts = urlsplit(value)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(
            "expected 'embedded', mqtt://[user:pass@]host[:port] or mqtts://...; got "
            + repr(mask_url(value))
        )
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError as exc:
        raise ValueError(f"bad port in {mask_url(value)!r}") from exc
    return MqttTarget(
        False,
        parts.hostname,
        port,
        parts.scheme == "mqtts",
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


def thingsboard_target(url: str) -> MqttTarget:
    """ThingsBoard's MQTT endpoint from `mqtt[s]://ACCESS_TOKEN@host[:port]`. The access token is
    the MQTT username, so it is a secret: errors never repeat the URL."""
    if url.strip() == "embedded":
        raise ValueError("the embedded broker cannot be ThingsBoard; give "
                         "mqtt[s]://ACCESS_TOKEN@host[:port], or leave it empty")
    try:
        target = _parse_mqtt(url, "127.0.0.1:1883")
    except ValueError:
        raise ValueError("expected mqtt://ACCESS_TOKEN@host[:port] or "
                         "mqtts://ACCESS_TOKEN@host[:port] (port 0-65535)") from None
    if not target.username:
        raise ValueError("no access token: put the ThingsBoard gateway device's token before "
                         "the host, mqtt://ACCESS_TOKEN@host[:port]")
    return target


def mask_url(url: str) -> str:
    """The URL as an error message may show it: its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(":" + parts.password + "@", ":***@")
    return url

"""Options of the charge point side: the WebSocket listener, OCPP versions, limits, timeouts
and which frames are validated."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from ..ocppj.versions import Version
from .checks import Area, check_hostport


class ListenOptions(Area):
    # ---- charge point side ---------------------------------------------------------------
    listen: str = Field(
        "0.0.0.0:9000", description="HOST:PORT of a profile-0 (no authentication) listener; "
        "'' = none. Not used when `listeners` are set, unless given explicitly"
    )
    versions: list[str] = Field(
        ["1.6", "2.0.1", "2.1"], description="OCPP versions offered (subprotocols)"
    )
    default_version: str | None = Field(
        None, description="version for legacy charge points that offer no subprotocol (HS-07)"
    )
    compression: bool = Field(True, description="permessage-deflate (costs ~33 KiB/connection)")
    listen_backlog: int = Field(
        4096, ge=16, le=65535, description="pending TCP connections (capped by somaxconn)"
    )
    ping_interval: float = Field(20.0, ge=0, description="seconds of silence before a ping; 0=off")
    ping_timeout: float = Field(10.0, gt=0, description="seconds to wait for the pong")
    max_frame_size: int = Field(262144, ge=1024, description="largest frame; bigger closes 1009")
    identity_max_length: int = Field(48, ge=1, le=1000, description="1.6 identity length cap")
    max_queue: int = Field(100, ge=0, description="MQTT CALLs queued per charge point")
    rate_limit: float = Field(
        0.0, ge=0, description="CALLs a second a charge point may send on average (0: no limit)"
    )
    rate_burst: float = Field(
        0.0, ge=0, description="CALLs a charge point may send at once (0: rate_limit)"
    )
    rate_limit_action: Literal["callerror", "close"] = Field(
        "callerror", description="beyond rate_limit: answer GenericError, or close the socket"
    )
    max_connections: int = Field(
        0, ge=0, description="charge points connected at once (0: what RLIMIT_NOFILE allows)"
    )
    max_per_address: int = Field(
        0, ge=0, description="charge points connected from one IP address (0: no limit)"
    )
    handshake_timeout: float = Field(
        10.0, gt=0, description="seconds for a new connection to send its upgrade request"
    )
    call_timeout: float = Field(30.0, gt=0, description="seconds to wait for an answer")
    validate_cp_calls: bool = Field(True, description="validate charge point CALL payloads")
    validate_cp_results: bool = Field(True, description="validate charge point CALLRESULTs")
    validate_mqtt_calls: bool = Field(True, description="validate CALLs published on MQTT")
    validate_mqtt_results: bool = Field(True, description="validate CALLRESULTs from MQTT")
    validate_formats: bool = Field(False, description="also check date-time/uri formats")
    relay_signed: bool = Field(True, description="relay 2.x '<Action>-Signed' CALLs (FR-11)")
    check_direction: bool = Field(
        True, description="answer NotSupported to actions only a central system sends"
    )
    default_heartbeat_interval: int = Field(60, ge=0, description="keepalive before Boot result")
    keepalive_check: bool = Field(False, description="close charge points silent too long (EMQX)")
    heartbeat_checking_times_backoff: int = Field(1, ge=1, description="silent intervals allowed")

    @field_validator("versions", mode="before")
    @classmethod
    def _split_versions(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v for v in value.replace(",", " ").split() if v]
        return value

    @field_validator("versions")
    @classmethod
    def _check_versions(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one OCPP version must be enabled")
        return [Version.parse(v).value for v in value]

    @field_validator("default_version")
    @classmethod
    def _check_default_version(cls, value: str | None) -> str | None:
        if value in (None, "", "none"):
            return None
        return Version.parse(value).value

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        return check_hostport(value)  # listen = "": no profile-0 listener

    @property
    def enabled_versions(self) -> list[Version]:
        return [Version.parse(v) for v in self.versions]

    @property
    def legacy_version(self) -> Version | None:
        return Version.parse(self.default_version) if self.default_version else None

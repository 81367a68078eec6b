"""Options of the admin HTTP API, its live stream and /metrics: where it listens and its
bearer token."""

from __future__ import annotations

import ipaddress

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from .checks import Area, parse_hostport

ADMIN_OFF = ("off", "", "none", "false", "0")
ADMIN_TOKEN_MIN = 16


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AdminOptions(Area):
    # ---- admin HTTP API and metrics (admin/) --------------------------------------------
    admin_listen: str = Field(
        "127.0.0.1:8080", description="HOST:PORT of the admin API, /metrics and probes; 'off'"
    )
    admin_token: SecretStr | None = Field(
        None, description="bearer token of the admin API (required beyond loopback)"
    )
    admin_frames: int = Field(
        20, ge=0, le=1000, description="last frames kept per charge point for the admin API"
    )
    admin_stream_buffer: int = Field(
        1000, ge=10, le=1_000_000,
        description="events queued per live-stream reader before it is dropped",
    )

    @field_validator("admin_listen")
    @classmethod
    def _check_admin_listen(cls, value: str) -> str:
        if value.strip().lower() in ADMIN_OFF:
            return "off"
        parse_hostport(value, "admin_listen")
        return value

    @field_validator("admin_token")
    @classmethod
    def _check_admin_token(cls, value: SecretStr | None,
                           info: ValidationInfo) -> SecretStr | None:
        token = value.get_secret_value() if value is not None else ""
        if value is not None and not token:
            value = None
        listen = info.data.get("admin_listen", "off")
        if value is None:
            if listen != "off" and not _loopback(parse_hostport(listen, "admin_listen")[0]):
                raise ValueError(f"required because admin_listen ({listen}) is not a loopback "
                                 "address: set --admin-token (or OCPP_MQTT_ADMIN_TOKEN) to a "
                                 "long random secret, e.g. `openssl rand -hex 32`, or bind "
                                 "admin_listen to 127.0.0.1")
            return None
        if len(token) < ADMIN_TOKEN_MIN or any(c.isspace() or ord(c) < 32 for c in token):
            raise ValueError(f"must be at least {ADMIN_TOKEN_MIN} characters without spaces "
                             "or control characters, e.g. `openssl rand -hex 32`")
        return value

    @property
    def admin_address(self) -> tuple[str, int] | None:
        """Where the admin listener binds, None when it is off."""
        if self.admin_listen == "off":
            return None
        return parse_hostport(self.admin_listen, "admin_listen")

"""Options of charge point security: listeners with security profiles, the credentials store,
login throttling, security events and MQTT credential provisioning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from ..listeners import ListenerSpec
from .checks import Area, check_topic


class SecurityOptions(Area):
    # ---- security: listeners with profiles, credentials, security events -----------------
    listeners: list[ListenerSpec] = Field(
        default_factory=list, description="charge point listeners, one security profile each "
        "(TOML [[listeners]]; JSON list of tables)"
    )
    credentials_store: Path = Field(
        Path("ocpp-mqtt-credentials.sqlite3"),
        description="SQLite file of hashed charge point passwords (profiles 1 and 2)",
    )
    auth_allow_unknown: bool = Field(
        False, description="profiles 1/2: admit identities with no stored password (else 404)"
    )
    auth_cache_ttl: float = Field(
        600.0, ge=0, description="seconds a verified password is remembered (0: hash every time)"
    )
    auth_workers: int = Field(
        2, ge=1, le=16, description="threads checking password hashes, off the event loop"
    )
    auth_max_failures: int = Field(
        5, ge=1, description="failed logins per identity per minute before 429 (x10 per address)"
    )
    security_topic: str = Field(
        "security/${cid}", description="security events: auth failures, certificate "
        "mismatches, SecurityEventNotification"
    )
    credentials_topic: str = Field(
        "", description="MQTT credential provisioning requests ('' = off); results on "
        "<topic>/result"
    )

    @field_validator("security_topic")
    @classmethod
    def _check_security_topic(cls, value: str) -> str:
        return check_topic(value)

    @field_validator("listeners", mode="before")
    @classmethod
    def _parse_listeners(cls, value: Any) -> Any:
        if isinstance(value, str):
            import json

            try:
                value = json.loads(value) if value.strip() else []
            except ValueError as exc:
                raise ValueError("expected a JSON list of tables, e.g. [{\"address\": "
                                 "\"0.0.0.0:9000\", \"profile\": 1}]") from exc
        return [value] if isinstance(value, dict) else value

    @field_validator("credentials_topic")
    @classmethod
    def _check_credentials_topic(cls, value: str) -> str:
        if value and (any(c in value for c in "+#$\0") or value.endswith("/")):
            raise ValueError(f"{value!r}: a plain topic without + # $ NUL or a trailing /, "
                             "e.g. admin/credentials")
        return value

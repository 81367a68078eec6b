"""Options of central mode (the gateway answers charge points itself): mode and profiles,
who answers what, Boot, idTags, triggers, charging limits, the outbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from .checks import Area, split_list

PROFILES = ("emqx", "native", "homeassistant", "ocpp2mqtt", "thingsboard")


class CentralOptions(Area):
    # ---- central mode (the gateway answers charge points itself) -------------------------
    mode: Literal["relay", "central", "proxy"] = Field(
        "relay", description="relay: a backend answers over MQTT; central: the gateway answers; "
        "proxy: an upstream CSMS answers, MQTT sees every frame and may inject CALLs"
    )
    profiles: list[str] | None = Field(
        None, description="northbound formats (default relay: emqx; central: emqx, native, "
        "homeassistant); also ocpp2mqtt, thingsboard"
    )
    store: Path = Field(
        Path("ocpp-mqtt.sqlite3"), description="SQLite file: transactions, state, outbox"
    )
    answer: dict[str, Literal["local", "backend", "fallback"]] = Field(
        default_factory=dict, description="Action -> who answers it in central mode"
    )
    answer_default: Literal["local", "backend", "fallback"] = Field(
        "local", description="who answers actions not listed in `answer`"
    )
    fallback_timeout: float = Field(
        5.0, gt=0, description="seconds a backend has before the built-in answer (fallback)"
    )
    boot_policy: Literal["accept", "listed", "pending", "reject"] = Field(
        "accept", description="BootNotification answer: accept all, accept listed, pending, reject"
    )
    boot_allowed: list[str] = Field(
        default_factory=list, description="identities accepted when boot_policy is listed"
    )
    heartbeat_interval: int = Field(300, ge=0, description="interval sent in the Boot answer")
    id_tags: dict[str, Any] = Field(
        default_factory=dict,
        description="idTag -> status, or {status, expiry, parent} (Accepted, Blocked, ...)",
    )
    unknown_id_tag: Literal["Accepted", "Invalid", "Blocked"] = Field(
        "Invalid", description="answer for idTags not in id_tags"
    )
    remote_start_id_tag: str = Field(
        "ocpp-mqtt", description="idTag of start_charging commands that name none"
    )
    charging_enabled_default: bool = Field(
        True, description="the charging switch of a charge point seen for the first time"
    )
    data_transfer_status: Literal["Accepted", "Rejected", "UnknownMessageId",
                                  "UnknownVendorId"] = Field(
        "UnknownVendorId", description="answer to a charge point's DataTransfer"
    )
    trigger_after_connect: float = Field(
        10.0, ge=0, description="seconds after a connect without Boot before asking (0 = never)"
    )
    trigger_messages: list[str] = Field(
        ["BootNotification", "StatusNotification"],
        description="what to ask a charge point for after a connect without Boot",
    )
    limit_min_interval: float = Field(
        10.0, ge=0, description="seconds between charging limit updates sent to a charge point"
    )
    limit_purposes: list[str] = Field(
        ["TxDefaultProfile", "ChargePointMaxProfile"],
        description="charging profile purposes tried in order for a limit (1.6 names)",
    )
    outbox_max: int = Field(
        100_000, ge=100, description="messages the on-disk outbox holds while MQTT is away"
    )
    outbox_overflow: Literal["refuse", "drop_oldest"] = Field(
        "refuse", description="outbox full: refuse charge point messages or drop the oldest"
    )

    @field_validator("profiles", "boot_allowed", "trigger_messages", "limit_purposes",
                     mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("profiles")
    @classmethod
    def _check_profiles(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        unknown = [name for name in value if name not in PROFILES]
        if unknown:
            raise ValueError(f"unknown profile(s) {', '.join(unknown)}; choose from "
                             f"{', '.join(PROFILES)}")
        return list(dict.fromkeys(value))

    @field_validator("id_tags")
    @classmethod
    def _check_id_tags(cls, value: dict[str, Any]) -> dict[str, Any]:
        from ..modes.central.authz import parse_id_tags

        parse_id_tags(value)
        return value

    @field_validator("trigger_messages")
    @classmethod
    def _check_trigger_messages(cls, value: list[str]) -> list[str]:
        allowed = ("BootNotification", "StatusNotification", "Heartbeat", "MeterValues")
        wrong = [v for v in value if v not in allowed]
        if wrong:
            raise ValueError(f"cannot trigger {', '.join(wrong)}; choose from "
                             f"{', '.join(allowed)}")
        return value

    @field_validator("limit_purposes")
    @classmethod
    def _check_limit_purposes(cls, value: list[str]) -> list[str]:
        allowed = ("TxDefaultProfile", "ChargePointMaxProfile", "TxProfile")
        wrong = [v for v in value if v not in allowed]
        if wrong or not value:
            raise ValueError(f"expected one or more of {', '.join(allowed)}")
        return value

    @property
    def active_profiles(self) -> list[str]:
        if self.profiles is not None:
            return self.profiles
        return ["emqx", "native", "homeassistant"] if self.mode == "central" else ["emqx"]

"""Options of the MQTT topics of the EMQX profile, the MessageKey/Duplicate memory and the
cluster of instances (takeover, offline answers, held messages)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from .checks import Area, check_topic, split_list

PLACEHOLDERS = ("${cid}", "${clientid}", "${action}", "${id}", "${type}")


class TopicOptions(Area):
    # ---- topics (EMQX profile) -----------------------------------------------------------
    prefix: str = Field("ocpp/", description="mountpoint prepended to every topic")
    upstream_topic: str = Field("cp/${cid}", description="charge point CALLs")
    upstream_topic_override_mapping: dict[str, str] = Field(
        default_factory=dict, description="Action -> topic for charge point CALLs"
    )
    upstream_reply_topic: str = Field("cp/${cid}/Reply", description="charge point CALLRESULTs")
    upstream_error_topic: str = Field("cp/${cid}/Reply", description="charge point CALLERRORs")
    dnstream_topic: str = Field("cs/${cid}", description="messages to the charge point")
    ack_topic: str = Field("cs/${cid}/Ack", description="outcome of each downstream message")
    dnstream_action_topic: str = Field(
        "", description="per-Action CALL topic, payload only (e.g. cs/${cid}/call/${action})"
    )
    presence_topic: str = Field("presence/${cid}", description="retained online/offline")
    events_topic: str = Field("events/${cid}/${event}", description="connected/disconnected")
    gateway_status_topic: str = Field("gateway/${gateway}/status", description="retained, LWT")
    strict_compat: bool = Field(False, description="emit exactly EMQX's keys, no extras")
    repeat_actions: list[str] = Field(
        ["StartTransaction", "StopTransaction", "MeterValues", "TransactionEvent"],
        description="charge point CALLs published with a MessageKey (and Duplicate when repeated)",
    )
    repeat_window: float = Field(
        600.0, ge=0, description="seconds an instance remembers keys to flag Duplicate (0: off)"
    )
    repeat_memory: int = Field(
        100_000, ge=1, description="most keys remembered for Duplicate flags (oldest go first)"
    )
    cluster_takeover: bool = Field(
        True, description="close a charge point here when it connects to another instance"
    )
    answer_offline: bool = Field(
        True, description="answer messages for charge points connected to no instance"
    )
    shared_group: str = Field(
        "ocpp-mqtt", description="shared-subscription group of the instances' offline answers"
    )
    held_topic: str = Field(
        "held/${cid}", description="retained messages held for offline charge points (MQTT 5)"
    )

    @field_validator(
        "upstream_topic", "upstream_reply_topic", "upstream_error_topic", "dnstream_topic",
        "ack_topic", "dnstream_action_topic", "presence_topic", "events_topic",
        "gateway_status_topic", "held_topic", "prefix",
    )
    @classmethod
    def _check_topic(cls, value: str) -> str:
        return check_topic(value)

    @field_validator("repeat_actions", mode="before")
    @classmethod
    def _split_repeat_actions(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("repeat_actions")
    @classmethod
    def _check_repeat_actions(cls, value: list[str]) -> list[str]:
        from ..ocppj.actions import CP_INITIATED

        known = frozenset().union(*CP_INITIATED.values())
        wrong = [v for v in value if v not in known]
        if wrong:
            raise ValueError(f"{', '.join(wrong)}: not an action charge points send (names "
                             "as in OCPP, e.g. MeterValues)")
        return value

    @field_validator("shared_group")
    @classmethod
    def _check_shared_group(cls, value: str) -> str:
        if not value or any(c in value for c in "+#/\0"):
            raise ValueError(f"{value!r} must be one MQTT topic level: no + # / NUL, not empty")
        return value

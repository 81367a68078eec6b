"""Options of the northbound profiles beyond EMQX's: the native state topics, Home Assistant
discovery, ocpp2mqtt compatibility (and reading its variables) and the ThingsBoard gateway API."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from .checks import Area, check_topic, whole_cid_level
from .mqtt import thingsboard_target


class ProfileOptions(Area):
    compat: Literal["", "ocpp2mqtt"] = Field(
        "", description="read another tool's environment variables (ocpp2mqtt: MQTT_HOSTNAME...)"
    )

    # ---- native state profile ----------------------------------------------------------
    state_topic: str = Field("state/${cid}", description="retained state, JSON and per field")
    cmd_topic: str = Field("cmd/${cid}", description="commands to a charge point (JSON)")
    cmd_result_topic: str = Field("cmd/${cid}/result", description="results of commands")
    set_topic: str = Field("set/${cid}", description="simple controls, e.g. set/CP1/1/charging")
    transactions_topic: str = Field(
        "transactions/${cid}", description="transaction started/ended records (durable)"
    )

    # ---- Home Assistant discovery --------------------------------------------------------
    ha_discovery_prefix: str = Field("homeassistant", description="HA discovery prefix")
    ha_status_topic: str = Field(
        "homeassistant/status", description="HA birth topic: configs re-published on online"
    )
    ha_current_min: float = Field(6.0, ge=0, description="current limit slider minimum, A")
    ha_current_max: float = Field(32.0, gt=0, description="current limit slider maximum, A")

    # ---- ocpp2mqtt compatibility ---------------------------------------------------------
    ocpp2mqtt_basepath: str = Field(
        "ocpp/", description="MQTT_BASEPATH: topic base, the identity appended without '/'"
    )
    ocpp2mqtt_use_station_name: bool = Field(
        True, description="MQTT_USESTATIONNAME: append the identity to the base path"
    )
    ocpp2mqtt_expected: list[str] = Field(
        default_factory=list,
        description="EXPECTED_CHARGE_POINTS: identities published DISCONNECTED at start-up",
    )
    ocpp2mqtt_command_retries: int = Field(
        5, ge=0, le=20,
        description="OCPP_COMMAND_RETRY_ATTEMPTS: looks for the charge point before a command "
        "fails as not connected (0 or 1: no waiting)",
    )
    ocpp2mqtt_command_retry_delay: float = Field(
        0.3, gt=0, le=60,
        description="OCPP_COMMAND_RETRY_BASE_DELAY: first wait between those looks, doubling",
    )

    # ---- ThingsBoard gateway API ---------------------------------------------------------
    thingsboard_url: str = Field(
        "", description="mqtt[s]://TOKEN@host[:port] of ThingsBoard ('' = the main broker)"
    )
    thingsboard_device_type: str = Field("default", description="device profile of chargers")
    thingsboard_ca: Path | None = Field(
        None, description="CA bundle for an mqtts:// thingsboard_url (default: the system's)"
    )

    @field_validator("state_topic", "cmd_topic", "cmd_result_topic", "set_topic",
                     "transactions_topic", "ha_discovery_prefix", "ha_status_topic")
    @classmethod
    def _check_profile_topic(cls, value: str) -> str:
        return check_topic(value)

    @field_validator("state_topic", "cmd_topic", "cmd_result_topic", "set_topic",
                     "transactions_topic")
    @classmethod
    def _check_cid_topic(cls, value: str) -> str:
        if not whole_cid_level(value):
            raise ValueError(f"{value!r} must hold ${{cid}} as a whole topic level and no "
                             "other placeholder, e.g. state/${cid}")
        return value

    @field_validator("ocpp2mqtt_expected", mode="before")
    @classmethod
    def _split_identities(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("ocpp2mqtt_basepath")
    @classmethod
    def _check_basepath(cls, value: str) -> str:
        if "+" in value or "#" in value or value.startswith("$") or "\0" in value:
            raise ValueError(f"{value!r} must not contain + or # nor start with $")
        return value

    @field_validator("thingsboard_url")
    @classmethod
    def _check_thingsboard_url(cls, value: str) -> str:
        if value:
            thingsboard_target(value)
        return value

    @field_validator("thingsboard_device_type")
    @classmethod
    def _check_thingsboard_device_type(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a ThingsBoard device profile, e.g. default")
        return value

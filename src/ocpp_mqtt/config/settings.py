"""One settings model: defaults < TOML file (`--config`) < environment (`OCPP_MQTT_<NAME>`) < CLI.

Every field is an option under the same name everywhere: `call_timeout` is the TOML key
`call_timeout`, the variable `OCPP_MQTT_CALL_TIMEOUT` and the flag `--call-timeout`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ..listeners import ListenerSpec, legacy_listener
from ..ocppj.versions import Version

PROFILES = ("emqx", "native", "homeassistant", "ocpp2mqtt", "thingsboard")
ADMIN_OFF = ("off", "", "none", "false", "0")
ADMIN_TOKEN_MIN = 16
PLACEHOLDERS = ("${cid}", "${clientid}", "${action}", "${id}", "${type}")


def _whole_cid_level(template: str) -> bool:
    return re.fullmatch(r"(?:[^$+#]*/)?\$\{(?:cid|clientid)\}(?:/[^$+#]*)?", template) is not None


class ConfigError(Exception):
    """A configuration problem, phrased as `key: what is wrong; what to do`."""


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


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_hostport(value: str, key: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"expected HOST:PORT with a port 0-65535, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class _EnvSource(EnvSettingsSource):
    """Lists may also be given comma-separated in the environment, as on the command line:
    a value that is not JSON reaches the field's own validator, which splits it or names the
    key in its error."""

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        try:
            return super().decode_complex_value(field_name, field, value)
        except ValueError:
            return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OCPP_MQTT_", extra="forbid", validate_default=True, case_sensitive=False
    )

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

    # ---- proxy mode (an upstream CSMS answers; MQTT mirrors and injects) -------------------
    upstream: str = Field(
        "", description="proxy: ws[s]:// URL of the upstream CSMS, {cid} = the identity"
    )
    upstream_auth: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="proxy: identity (or *) -> {username, password, cert, key} for the upstream",
    )
    upstream_forward_auth: bool = Field(
        True, description="proxy: forward the charge point's Authorization header upstream"
    )
    upstream_ca: Path | None = Field(None, description="proxy: CA bundle for wss:// upstreams")
    upstream_cert: Path | None = Field(None, description="proxy: client certificate (wss://)")
    upstream_key: Path | None = Field(None, description="proxy: client key (wss://)")
    upstream_connect_timeout: float = Field(
        10.0, gt=0, description="proxy: seconds to open the upstream connection"
    )
    upstream_outage: Literal["close", "central"] = Field(
        "close", description="proxy: upstream lost: close the charge point (LC-01) or answer "
        "with the built-in central system until it is back"
    )
    upstream_reconnect_min: float = Field(
        1.0, gt=0, description="proxy: first upstream reconnect delay, seconds"
    )
    upstream_reconnect_max: float = Field(
        60.0, gt=0, description="proxy: longest upstream reconnect delay, seconds"
    )
    local_actions: list[str] = Field(
        default_factory=list,
        description="proxy: actions the gateway answers itself (e.g. Authorize), not upstream",
    )
    csms_topic: str = Field(
        "csms/${cid}", description="proxy: mirror of every frame sent to the charge point by "
        "the upstream, secondary or the gateway"
    )
    secondary: str = Field(
        "", description="proxy: ws[s]:// URL of a second CSMS that also gets the charge "
        "point's CALLs; its answers are dropped"
    )
    secondary_calls: dict[str, Literal["allow", "block"]] = Field(
        default_factory=dict, description="proxy: Action -> allow or block the secondary's CALLs"
    )
    secondary_calls_default: Literal["allow", "block"] = Field(
        "block", description="proxy: the secondary's CALLs of actions not in secondary_calls"
    )

    # ---- OCPP over MQTT (charge points that are MQTT clients) ------------------------------
    mqtt_cp: bool = Field(False, description="also serve charge points that speak OCPP over MQTT")
    mqtt_cp_up_topic: str = Field("mqtt/${cid}/up", description="frames from MQTT charge points")
    mqtt_cp_down_topic: str = Field(
        "mqtt/${cid}/down", description="frames to MQTT charge points (in their encoding)"
    )
    mqtt_cp_presence_topic: str = Field(
        "mqtt/${cid}/presence", description="MQTT charge points' online message and last will"
    )
    mqtt_cp_session_topic: str = Field(
        "mqtt/${cid}/session", description="the gateway's accepted/refused/closed to them"
    )

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

    # ---- logs ----------------------------------------------------------------------------
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="level")
    log_format: Literal["text", "json"] = Field("text", description="log line format")
    log_levels: str = Field(
        "", description="levels per component over log_level, e.g. mqtt=debug,ws=warning"
    )
    frame_log: list[str] = Field(
        default_factory=list, description="identities whose frames are logged ('*': all)"
    )
    frame_log_file: str = Field(
        "", description="where frames are logged: '' = stderr, a directory/ or a file"
    )

    @field_validator("log_levels", mode="before")
    @classmethod
    def _check_log_levels(cls, value: Any) -> Any:
        from ..logs import parse_levels

        if isinstance(value, dict):  # a TOML table [log_levels] mqtt = "debug"
            value = ",".join(f"{k}={v}" for k, v in value.items())
        if isinstance(value, str):
            parse_levels(value)
        return value

    @field_validator("frame_log", mode="before")
    @classmethod
    def _split_frame_log(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("frame_log_file")
    @classmethod
    def _check_frame_log_file(cls, value: str) -> str:
        from ..framelog import is_directory_target

        if value in ("", "-"):
            return value
        path = Path(value)
        if path.exists() and not path.is_dir() and not os.access(path, os.W_OK):
            raise ValueError(f"{value!r} is not writable; fix its permissions or choose "
                             "another file")
        if not is_directory_target(value) and not path.parent.is_dir():
            raise ValueError(f"directory {str(path.parent)!r} does not exist; create it or "
                             "choose another file (or end the path with / for a directory)")
        return value

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

    @field_validator("listen", "embedded_listen")
    @classmethod
    def _check_hostport(cls, value: str) -> str:
        if value:  # listen = "": no profile-0 listener
            parse_hostport(value, "")
        return value

    @field_validator("mqtt")
    @classmethod
    def _check_mqtt(cls, value: str) -> str:
        _parse_mqtt(value, "127.0.0.1:1883")
        return value

    @field_validator(
        "upstream_topic", "upstream_reply_topic", "upstream_error_topic", "dnstream_topic",
        "ack_topic", "dnstream_action_topic", "presence_topic", "events_topic",
        "gateway_status_topic", "held_topic", "prefix", "state_topic", "cmd_topic",
        "cmd_result_topic", "set_topic", "transactions_topic", "ha_discovery_prefix",
        "ha_status_topic", "csms_topic", "mqtt_cp_up_topic", "mqtt_cp_down_topic",
        "mqtt_cp_presence_topic", "mqtt_cp_session_topic", "security_topic",
    )
    @classmethod
    def _check_topic(cls, value: str) -> str:
        if "+" in value or "#" in value:
            raise ValueError(f"topic {value!r} must not contain the wildcards + or #")
        if value.startswith("$"):
            raise ValueError(f"topic {value!r} must not start with '$' (reserved for brokers)")
        return value

    @field_validator("gateway_id")
    @classmethod
    def _check_gateway_id(cls, value: str) -> str:
        if not value or any(c in value for c in "+#/\0") or value.startswith("$"):
            raise ValueError(f"{value!r} must be one MQTT topic level: no + # / NUL, "
                             "not empty, not starting with $")
        return value

    @field_validator("upstream", "secondary")
    @classmethod
    def _check_upstream(cls, value: str) -> str:
        if value:
            upstream_url(value, "CP1")
        return value

    @field_validator("local_actions")
    @classmethod
    def _check_local_actions(cls, value: list[str]) -> list[str]:
        from ..ocppj.actions import CP_INITIATED

        known = set().union(*CP_INITIATED.values())
        wrong = [a for a in value if a not in known]
        if wrong:
            raise ValueError(f"{', '.join(wrong)}: not an action charge points send; e.g. "
                             "Authorize, Heartbeat, DataTransfer")
        return list(dict.fromkeys(value))

    @field_validator("upstream_auth")
    @classmethod
    def _check_upstream_auth(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for identity, entry in value.items():
            unknown = set(entry) - {"username", "password", "cert", "key"}
            if unknown:
                raise ValueError(f"{identity!r}: unknown key(s) {', '.join(sorted(unknown))}; "
                                 "use username, password, cert, key")
            if ("password" in entry) and "username" not in entry:
                raise ValueError(f"{identity!r}: a password needs a username")
            if ("key" in entry) and "cert" not in entry:
                raise ValueError(f"{identity!r}: a key needs a cert")
        return value

    @field_validator("profiles", "boot_allowed", "trigger_messages", "limit_purposes",
                     "repeat_actions", "local_actions", mode="before")
    @classmethod
    def _split_profiles(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                import json

                try:
                    return json.loads(value)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"not a JSON list: {exc}") from exc
            return [v for v in value.replace(",", " ").split() if v]
        return value

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

    @field_validator("state_topic", "cmd_topic", "cmd_result_topic", "set_topic",
                     "transactions_topic")
    @classmethod
    def _check_cid_topic(cls, value: str) -> str:
        if not _whole_cid_level(value):
            raise ValueError(f"{value!r} must hold ${{cid}} as a whole topic level and no "
                             "other placeholder, e.g. state/${cid}")
        return value

    @field_validator("id_tags")
    @classmethod
    def _check_id_tags(cls, value: dict[str, Any]) -> dict[str, Any]:
        from ..modes.central.authz import parse_id_tags

        parse_id_tags(value)
        return value

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

    @field_validator("shared_group")
    @classmethod
    def _check_shared_group(cls, value: str) -> str:
        if not value or any(c in value for c in "+#/\0"):
            raise ValueError(f"{value!r} must be one MQTT topic level: no + # / NUL, not empty")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        if "${cid}" not in self.dnstream_topic and "${clientid}" not in self.dnstream_topic:
            raise ValueError("dnstream_topic must contain ${cid} so each charge point has its own")
        action_topic = self.dnstream_action_topic
        if action_topic and (not action_topic.endswith("/${action}")
                             or "${cid}" not in action_topic
                             or action_topic.count("${") != 2):
            raise ValueError("dnstream_action_topic must contain ${cid} and end with "
                             "/${action}, e.g. cs/${cid}/call/${action}")
        self._check_no_loops()
        if self.default_version is not None and self.default_version not in self.versions:
            raise ValueError(f"default_version {self.default_version} is not in versions")
        watched = [name for name in ("cluster_takeover", "answer_offline") if getattr(self, name)]
        if watched and not _whole_cid_level(self.presence_topic):
            raise ValueError("presence_topic must hold ${cid} as a whole topic level and no other "
                             f"placeholder while {' and '.join(watched)} is on (it is subscribed "
                             f"with + in its place); change it or set {watched[0]} false")
        if not _whole_cid_level(self.held_topic):
            raise ValueError("held_topic must hold ${cid} as a whole topic level and no other "
                             "placeholder, e.g. held/${cid}")
        if self.workers > 1:
            if self.mqtt_target.embedded:
                raise ValueError("workers above 1 need an external broker (--mqtt "
                                 "mqtt://host:port): the embedded broker lives in one process")
            if self.listen_address[1] == 0:
                raise ValueError("workers above 1 need a fixed listen port: with port 0 each "
                                 "worker would get its own; choose --listen HOST:PORT")
            admin = self.admin_address
            if admin is not None and admin[1] and admin[1] + self.workers - 1 > 65535:
                raise ValueError(f"admin_listen: worker i listens on port {admin[1]}+i, beyond "
                                 "65535 with this many workers; choose a lower port")
        if self.mode == "central" and self.workers > 1:
            raise ValueError("workers above 1 are not available in central mode: each worker "
                             "would keep its own store and hand out the same transaction ids; "
                             "use --workers 1")
        if self.ha_current_max < self.ha_current_min:
            raise ValueError(f"ha_current_max ({self.ha_current_max}) is below ha_current_min "
                             f"({self.ha_current_min}); raise it")
        if self.mqtt_cp:
            self._check_mqtt_cp()
        if self.mode == "proxy":
            self._check_proxy()
        elif self.upstream or self.secondary:
            raise ValueError("upstream/secondary are set but mode is not proxy: add --mode proxy")
        if self.mode in ("relay", "proxy"):
            central_only = [p for p in self.active_profiles
                            if p in ("native", "homeassistant", "ocpp2mqtt", "thingsboard")]
            if central_only:
                raise ValueError(f"profile(s) {', '.join(central_only)} need the state of "
                                 "central mode: add --mode central")
        profiles = self.active_profiles
        if self.thingsboard_url and "thingsboard" not in profiles:
            raise ValueError("thingsboard_url is set but the thingsboard profile is off: add "
                             "thingsboard to profiles (e.g. --profiles emqx,native,thingsboard)")
        if "homeassistant" in profiles and "native" not in profiles:
            raise ValueError("profile homeassistant shows the native profile's topics: add "
                             "native to profiles")
        if self.frame_log_file and not self.frame_log:
            raise ValueError("frame_log_file is set but frame_log names no charge point: set "
                             "frame_log to identities (comma-separated) or '*' for all")
        if self.mqtt_reconnect_max < self.mqtt_reconnect_min:
            raise ValueError(f"mqtt_reconnect_max ({self.mqtt_reconnect_max}) is below "
                             f"mqtt_reconnect_min ({self.mqtt_reconnect_min}); raise it")
        self._check_endpoints()
        return self

    def _check_mqtt_cp(self) -> None:
        names = ("mqtt_cp_up_topic", "mqtt_cp_down_topic", "mqtt_cp_presence_topic",
                 "mqtt_cp_session_topic")
        for name in names:
            if not _whole_cid_level(getattr(self, name)):
                raise ValueError(f"{name} must hold ${{cid}} as a whole topic level and no other "
                                 "placeholder, e.g. mqtt/${cid}/up")
        rendered = {getattr(self, name).replace("${cid}", "+") for name in names}
        if len(rendered) < len(names):
            raise ValueError("mqtt_cp_up_topic, mqtt_cp_down_topic, mqtt_cp_presence_topic and "
                             "mqtt_cp_session_topic must be four different topics")
        if self.workers > 1:
            raise ValueError("mqtt_cp needs --workers 1: every worker would take every MQTT "
                             "charge point's messages")

    def _check_proxy(self) -> None:
        if not self.upstream:
            raise ValueError("mode proxy needs upstream: the CSMS's URL, e.g. --upstream "
                             "wss://csms.example.com/ocpp/{cid}")
        if self.workers > 1 and (self.local_actions or self.upstream_outage == "central"):
            raise ValueError("workers above 1 cannot answer locally in proxy mode (each worker "
                             "would keep its own store): clear local_actions, set "
                             "upstream_outage close, or use --workers 1")
        if self.upstream_reconnect_max < self.upstream_reconnect_min:
            raise ValueError(f"upstream_reconnect_max ({self.upstream_reconnect_max}) is below "
                             f"upstream_reconnect_min ({self.upstream_reconnect_min}); raise it")
        if self.upstream_key and not self.upstream_cert:
            raise ValueError("upstream_key is set without upstream_cert: give both")
        if not _whole_cid_level(self.csms_topic):
            raise ValueError("csms_topic must hold ${cid} as a whole topic level and no other "
                             "placeholder, e.g. csms/${cid}")

    def _check_endpoints(self) -> None:
        endpoints = self.endpoints
        if not endpoints:
            raise ValueError("no charge point listener: set `listeners` (profiles 1-3) or "
                             "`listen` HOST:PORT (profile 0)")
        seen: set[tuple[str, int]] = set()
        for spec in endpoints:
            host_port = spec.host_port
            if host_port in seen and host_port[1] != 0:
                raise ValueError(f"listeners: {spec.address} is configured twice; one "
                                 "profile per address and port (SEC-07)")
            seen.add(host_port)

    def _check_no_loops(self) -> None:
        """The gateway must never receive what it publishes itself (it would answer forever)."""
        values = {"${cid}": "CP", "${clientid}": "CP", "${action}": "Act", "${id}": "1",
                  "${type}": "2", "${event}": "connected", "${gateway}": "gw"}

        def render(template: str) -> list[str]:
            text = template
            for key, value in values.items():
                text = text.replace(key, value)
            return text.split("/")

        subscribed = [("dnstream_topic", render(self.dnstream_topic))]
        if self.dnstream_action_topic:
            pattern = render(self.dnstream_action_topic)
            subscribed.append(("dnstream_action_topic", [*pattern[:-1], "+"]))
        published = ["upstream_topic", "upstream_reply_topic", "upstream_error_topic",
                     "ack_topic", "presence_topic", "events_topic", "gateway_status_topic",
                     "held_topic", "security_topic"] + (
                         ["csms_topic"] if self.mode == "proxy" else [])
        for sub_key, sub in subscribed:
            for pub_key in published:
                pub = render(getattr(self, pub_key))
                if pub_key == "held_topic":
                    pub.append("+")  # one level per held message, any name
                same_shape = len(pub) == len(sub)
                if same_shape and all(a in ("+", b) or b == "+"
                                      for a, b in zip(sub, pub, strict=True)):
                    raise ValueError(f"{pub_key} falls under {sub_key}: the gateway would "
                                     "receive its own messages; give them different topics")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = InitSettingsSource(settings_cls, init_kwargs=_TOML_VALUES.copy())
        return (init_settings, _EnvSource(settings_cls), toml)

    # ---- derived values ------------------------------------------------------------------
    @property
    def active_profiles(self) -> list[str]:
        if self.profiles is not None:
            return self.profiles
        return ["emqx", "native", "homeassistant"] if self.mode == "central" else ["emqx"]

    @property
    def listen_address(self) -> tuple[str, int]:
        """The first listener's address (the one the start-up line and probes name)."""
        return self.endpoints[0].host_port

    @property
    def endpoints(self) -> list[ListenerSpec]:
        """Every listener: `listeners`, and `listen` as profile 0 when no `listeners` are set
        or when it was given explicitly (file, environment or flag)."""
        legacy = [legacy_listener(self.listen)] if self.listen and (
            not self.listeners or "listen" in self.model_fields_set) else []
        return legacy + list(self.listeners)

    @property
    def mqtt_target(self) -> MqttTarget:
        return _parse_mqtt(self.mqtt, self.embedded_listen)

    @property
    def enabled_versions(self) -> list[Version]:
        return [Version.parse(v) for v in self.versions]

    @property
    def legacy_version(self) -> Version | None:
        return Version.parse(self.default_version) if self.default_version else None


def _parse_mqtt(value: str, embedded_listen: str) -> MqttTarget:
    if value == "embedded":
        host, port = parse_hostport(embedded_listen, "embedded_listen")
        return MqttTarget(True, host, port, False, None, None)
    parts = urlsplit(value)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(
            "expected 'embedded', mqtt://[user:pass@]host[:port] or mqtts://...; got "
            + repr(_mask(value))
        )
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError as exc:
        raise ValueError(f"bad port in {_mask(value)!r}") from exc
    return MqttTarget(
        False,
        parts.hostname,
        port,
        parts.scheme == "mqtts",
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


def upstream_url(template: str, identity: str) -> str:
    """The upstream CSMS's URL for one charge point: `{cid}` (or `${cid}`) is replaced by the
    identity, percent-encoded as one path segment. ValueError says what is wrong."""
    from urllib.parse import quote

    parts = urlsplit(template)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError("expected ws://host[:port]/path/{cid} or wss://...; got "
                         + repr(_mask(template)))
    if "{cid}" not in template:
        raise ValueError("the URL must contain {cid} where the charge point's identity goes, "
                         "e.g. wss://csms.example.com/ocpp/{cid}")
    if parts.password or parts.username:
        raise ValueError("put upstream credentials in upstream_auth, not in the URL")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"bad port in {template!r}") from exc
    return template.replace("${cid}", "{cid}").replace("{cid}", quote(identity, safe=""))


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


def _mask(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(":" + parts.password + "@", ":***@")
    return url


_TOML_VALUES: dict[str, Any] = {}


def load_settings(config_file: Path | None = None, **cli: Any) -> Settings:
    """Build the settings, turning every problem into one ConfigError naming the key."""
    _TOML_VALUES.clear()
    if config_file is not None:
        try:
            with open(config_file, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"config: cannot read {config_file}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config: {config_file} is not valid TOML: {exc}") from exc
        _TOML_VALUES.update(data)
    compat = cli.get("compat") or os.environ.get("OCPP_MQTT_COMPAT") or _TOML_VALUES.get("compat")
    if compat == "ocpp2mqtt":
        # Its variables count as a layer below the TOML file, our variables and flags.
        from ..northbound.ocpp2mqtt_env import settings_from_env

        try:
            derived = settings_from_env(os.environ)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        _TOML_VALUES.update({k: v for k, v in derived.items() if k not in _TOML_VALUES})
    try:
        return Settings(**{k: v for k, v in cli.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from exc
    finally:
        _TOML_VALUES.clear()


def describe_validation_error(exc: ValidationError) -> str:
    messages = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "config"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown option; " + did_you_mean(key) + (
                "see `ocpp-mqtt serve --help`, README or examples/ocpp-mqtt.toml for the valid "
                "keys")
        messages.append(f"{key}: {msg}")
    return "; ".join(messages)


def did_you_mean(key: str) -> str:
    """`did you mean `listen`? ` for a misspelt option, or ''."""
    import difflib

    close = difflib.get_close_matches(key.lower().replace("-", "_"), Settings.model_fields, n=1)
    return f"did you mean `{close[0]}`? " if close else ""

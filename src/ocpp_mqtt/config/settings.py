"""The one settings model, composed of one mixin per area (each holding its fields and their
own validators), with the sources it reads and the checks that span several areas."""

from __future__ import annotations

from typing import Any

from pydantic import model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ..listeners import ListenerSpec, legacy_listener
from .admin import AdminOptions
from .central import CentralOptions
from .checks import whole_cid_level
from .listen import ListenOptions
from .logs import LogOptions
from .mqtt import MqttOptions
from .mqtt_cp import MqttChargePointOptions
from .profiles import ProfileOptions
from .proxy import ProxyOptions
from .security import SecurityOptions
from .topics import TopicOptions

# The areas in the order of their options in `--help`, the check-config summary and error
# lists. Pydantic orders fields by reversed MRO, so `Settings` names them last first.
AREAS = (ListenOptions, MqttOptions, TopicOptions, CentralOptions, ProxyOptions,
         MqttChargePointOptions, ProfileOptions, AdminOptions, SecurityOptions, LogOptions)

# The TOML file's values for the one `load_settings` call in progress (a source below env).
TOML_VALUES: dict[str, Any] = {}


class _EnvSource(EnvSettingsSource):
    """Lists may also be given comma-separated in the environment, as on the command line:
    a value that is not JSON reaches the field's own validator, which splits it or names the
    key in its error."""

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        try:
            return super().decode_complex_value(field_name, field, value)
        except ValueError:
            return value


class Settings(LogOptions, SecurityOptions, AdminOptions, ProfileOptions,  # see AREAS
               MqttChargePointOptions, ProxyOptions, CentralOptions, TopicOptions, MqttOptions,
               ListenOptions, BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OCPP_MQTT_", extra="forbid", validate_default=True, case_sensitive=False,
        defer_build=False,  # the areas defer theirs; the whole model is built here, once
    )

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
        if watched and not whole_cid_level(self.presence_topic):
            raise ValueError("presence_topic must hold ${cid} as a whole topic level and no other "
                             f"placeholder while {' and '.join(watched)} is on (it is subscribed "
                             f"with + in its place); change it or set {watched[0]} false")
        if not whole_cid_level(self.held_topic):
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
            if not whole_cid_level(getattr(self, name)):
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
        if not whole_cid_level(self.csms_topic):
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
        toml = InitSettingsSource(settings_cls, init_kwargs=TOML_VALUES.copy())
        return (init_settings, _EnvSource(settings_cls), toml)

    # ---- derived values across areas -----------------------------------------------------
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

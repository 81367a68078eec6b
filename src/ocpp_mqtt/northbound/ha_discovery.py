"""Home Assistant MQTT discovery payloads, built from central mode's state (pure: no I/O).

One device-based discovery message (`<prefix>/device/<object_id>/config`, HA >= 2024.11) per
device: the gateway; each charge point; and, for a charge point with more than one outlet, one
device per connector (EVSE) linked to its charge point by `via_device`. Entities read the native
profile's retained state topics and write its `set` topics, so this module publishes configs only.

Identifiers. Every id is `ocpp_<scope>_<key>_<cp>`: `<cp>` is the identity sanitised to
`[a-zA-Z0-9_-]` (with a hash of the identity appended when that changed anything, so `CP 1`
and `CP_1` never share an id), `<scope>` is `cp` (the charge point), `c<n>` (connector n as a
device of its own) or `cp<n>` (connector n's entities on the charge point's device, the
single-outlet layout), `<key>` is a fixed word without `_`. Since neither scope nor key holds an
`_`, two different (scope, key, identity) never give the same id. Ids come from the identity
only, never from the gateway's name (a renamed host must not re-create every entity) nor from
BootNotification (a charger that reconnects without booting must find its device again).

Layouts. A single-outlet charger is one device with its connector's entities on it; a
multi-outlet charger is a charge point device plus one device per connector. Entities of the
two layouts have different ids, and each charge point config lists the other layout's
entities reduced to `{"platform": ...}`, which is how HA removes an entity from a device
config; so a charger whose second connector shows up late moves to the multi layout cleanly,
whatever HA saw before (HA ignores the removal of an entity it does not have).

Choices (see README, "Home Assistant"):
- The Energy dashboard reads the meter register (`energy_kwh`, `total_increasing`).
- Session energy is `total_increasing` too: it only grows during a transaction and falls back
  to 0 at the next, which HA's statistics read as a new meter cycle, the documented meaning.
  `total` without `last_reset` would book the fall as negative consumption.
- No `expire_after`: states are retained and published on change only, so an idle charger's
  power may rightly stay unchanged for days; staleness is what availability is for (the
  gateway's last will and the charge point's `online` topic, `availability_mode: all`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..config import Settings
from ..modes.central.state import STATUSES, ChargePointState
from .emqx import Template

ORIGIN = {"name": "ocpp-mqtt", "sw_version": __version__}
GATEWAY_MODEL = "OCPP-MQTT gateway"
QOS = 1  # HA subscribes to states and publishes commands at QoS 1 (a lost ON is a lost charge)

_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


def sanitize(text: str) -> str:
    """`text` as an HA object id: `[a-zA-Z0-9_-]+`, different texts giving different ids."""
    cleaned = _UNSAFE.sub("_", text)
    if cleaned != text or not cleaned:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
        cleaned = f"{cleaned}_{digest}" if cleaned else digest
    return cleaned


@dataclass(frozen=True, slots=True)
class Spec:
    """One entity. `key` is part of its unique id: never rename it (HA would re-create it)."""

    key: str
    platform: str
    name: str
    state: str | None = None  # native state field (the connector's for connector entities)
    command: str | None = None  # native set topic below set/<cid>/[<n>/]
    options: dict[str, Any] = field(default_factory=dict)
    gateway_only: bool = False  # available while the gateway is, even with the charger away
    only_16: bool = False  # fields OCPP 2.x does not have


_BOOL = {"payload_on": "true", "payload_off": "false"}  # how the native profile writes booleans
_ENERGY = {"device_class": "energy", "state_class": "total_increasing",
           "unit_of_measurement": "kWh", "suggested_display_precision": 2}
_DIAGNOSTIC = {"entity_category": "diagnostic"}

CONNECTOR_SPECS: tuple[Spec, ...] = (
    Spec("status", "sensor", "Status", "status",
         options={"device_class": "enum", "options": list(STATUSES), "icon": "mdi:ev-station"}),
    Spec("energy", "sensor", "Energy", "energy_kwh", options=_ENERGY),
    Spec("sessionenergy", "sensor", "Session energy", "session_energy_kwh", options=_ENERGY),
    Spec("power", "sensor", "Power", "power_w",
         options={"device_class": "power", "state_class": "measurement",
                  "unit_of_measurement": "W", "suggested_display_precision": 0}),
    Spec("current", "sensor", "Current", "current_a",
         options={"device_class": "current", "state_class": "measurement",
                  "unit_of_measurement": "A", "suggested_display_precision": 1}),
    Spec("voltage", "sensor", "Voltage", "voltage_v",
         options={"device_class": "voltage", "state_class": "measurement",
                  "unit_of_measurement": "V", "suggested_display_precision": 0}),
    Spec("soc", "sensor", "State of charge", "soc",
         options={"device_class": "battery", "state_class": "measurement",
                  "unit_of_measurement": "%", "suggested_display_precision": 0}),
    Spec("temperature", "sensor", "Temperature", "temperature_c",
         options={"device_class": "temperature", "state_class": "measurement",
                  "unit_of_measurement": "°C", "suggested_display_precision": 1}),
    # A duration that grows through a session and restarts: statistics of it mean nothing.
    Spec("sessiontime", "sensor", "Session time", "session_seconds",
         options={"device_class": "duration", "unit_of_measurement": "s"}),
    Spec("idtag", "sensor", "ID tag", "id_tag", options={"icon": "mdi:card-account-details"}),
    Spec("errorcode", "sensor", "Error code", "error_code", options=_DIAGNOSTIC, only_16=True),
    Spec("plugged", "binary_sensor", "Plugged in", "plugged",
         options={"device_class": "plug", **_BOOL}),
    Spec("charging", "binary_sensor", "Charging", "charging",
         options={"device_class": "battery_charging", **_BOOL}),
    Spec("problem", "binary_sensor", "Problem", "problem",
         options={"device_class": "problem", **_BOOL}),
    # on for the whole session: a car that pauses (SuspendedEV) leaves it on, OFF stops it
    Spec("charge", "switch", "Charge", "session_active", "charging",
         options={"payload_on": "ON", "payload_off": "OFF", "state_on": "true",
                  "state_off": "false", "icon": "mdi:ev-plug-type2"}),
    Spec("currentlimit", "number", "Current limit", "limit_a", "current_limit"),
    Spec("unlock", "button", "Unlock", None, "unlock",
         options={"payload_press": "PRESS", "icon": "mdi:lock-open-variant"}),
)

CHARGE_POINT_SPECS: tuple[Spec, ...] = (
    Spec("online", "binary_sensor", "Online", "online",
         options={"device_class": "connectivity", **_BOOL}, gateway_only=True),
    Spec("reset", "button", "Reset", None, "reset",
         options={"device_class": "restart", "payload_press": "PRESS",
                  "entity_category": "config"}),
    Spec("chargingenabled", "switch", "Charging enabled", "charging_enabled", "charging_enabled",
         options={"payload_on": "ON", "payload_off": "OFF", "state_on": "true",
                  "state_off": "false", "entity_category": "config", "icon": "mdi:ev-station"}),
    Spec("lastseen", "sensor", "Last seen", "last_seen",
         options={"device_class": "timestamp", **_DIAGNOSTIC}, gateway_only=True),
    Spec("heartbeat", "sensor", "Last heartbeat", "heartbeat_at",
         options={"device_class": "timestamp", **_DIAGNOSTIC}, gateway_only=True),
    Spec("firmware", "sensor", "Firmware", "firmware_version",
         options={"icon": "mdi:chip", **_DIAGNOSTIC}),
    Spec("firmwarestatus", "sensor", "Firmware status", "firmware_status",
         options={"icon": "mdi:update", **_DIAGNOSTIC}),
    Spec("ocppversion", "sensor", "OCPP version", "version",
         options={"icon": "mdi:protocol", **_DIAGNOSTIC}),
)

# Multi-outlet chargers only: the limit of the whole charger (connector 0), whose state the
# native profile publishes under connector 0.
CHARGER_LIMIT = Spec("currentlimit", "number", "Current limit", "limit_a", "current_limit")


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    object_id: str
    payload: dict[str, Any]


class Discovery:
    """Discovery payloads for one gateway's settings."""

    def __init__(self, settings: Settings, gateway_status_topic: str) -> None:
        self.prefix = settings.ha_discovery_prefix.rstrip("/")
        self.gateway_id = settings.gateway_id
        self.gateway_status_topic = gateway_status_topic
        self.gateway_object_id = f"ocpp_gw_{sanitize(settings.gateway_id)}"
        self._state = Template(settings.prefix, settings.state_topic)
        self._set = Template(settings.prefix, settings.set_topic)
        self._number = {"min": settings.ha_current_min, "max": settings.ha_current_max,
                        "step": 1, "unit_of_measurement": "A", "device_class": "current",
                        "entity_category": "config", "icon": "mdi:current-ac"}
        self._gateway_availability = {
            "topic": gateway_status_topic, "value_template": "{{ value_json.status }}",
            "payload_available": "online", "payload_not_available": "offline"}

    def topic(self, object_id: str) -> str:
        return f"{self.prefix}/device/{object_id}/config"

    # ---- the gateway ---------------------------------------------------------------------

    def gateway_config(self) -> DeviceConfig:
        uid = f"ocpp_gw_status_{sanitize(self.gateway_id)}"
        status = {"platform": "binary_sensor", "unique_id": uid, "name": "Status",
                  "device_class": "connectivity", "state_topic": self.gateway_status_topic,
                  "value_template": "{{ value_json.status }}",
                  "payload_on": "online", "payload_off": "offline"}
        # No availability: "disconnected" is the answer when the gateway is gone.
        payload = {"device": {"identifiers": [self.gateway_object_id],
                              "name": f"OCPP gateway {self.gateway_id}",
                              "manufacturer": "ocpp-mqtt", "model": GATEWAY_MODEL,
                              "sw_version": __version__},
                   "origin": ORIGIN, "qos": QOS, "components": {uid: status}}
        return DeviceConfig(self.gateway_object_id, payload)

    # ---- charge points -------------------------------------------------------------------

    def device_ids(self, cp: ChargePointState) -> list[str]:
        """Every device object id this charge point may have had: those of both layouts."""
        s = sanitize(cp.identity)
        return [f"ocpp_cp_{s}", *(f"ocpp_c{c.connector_id}_{s}" for c in cp.outlets())]

    def device_configs(self, cp: ChargePointState) -> list[DeviceConfig]:
        """The charge point's devices, its own first (it links the others)."""
        s = sanitize(cp.identity)
        state = self._state.render(cid=cp.cid_level)
        setter = self._set.render(cid=cp.cid_level)
        is_16 = cp.version in (None, "1.6")
        outlets = [c.connector_id for c in cp.outlets()]
        multi = len(outlets) > 1
        availability = [self._gateway_availability,
                        {"topic": f"{state}/online", "payload_available": "true",
                         "payload_not_available": "false"}]
        cp_object_id = f"ocpp_cp_{s}"

        components: dict[str, Any] = {}
        for spec in CHARGE_POINT_SPECS:
            self._add(components, spec, f"cp_{spec.key}_{s}", state, setter, is_16)
        limit_uid = f"cp_{CHARGER_LIMIT.key}_{s}"
        if multi:
            self._add(components, CHARGER_LIMIT, limit_uid, f"{state}/0", setter, is_16)
        else:
            _stub(components, CHARGER_LIMIT, limit_uid)
        for n in outlets:
            for spec in CONNECTOR_SPECS:
                uid = f"cp{n}_{spec.key}_{s}"
                if multi:
                    _stub(components, spec, uid)  # the single layout's, should HA have them
                else:
                    self._add(components, spec, uid, f"{state}/{n}", f"{setter}/{n}", is_16)

        cp_device = self._cp_device(cp, cp_object_id)
        configs = [DeviceConfig(cp_object_id, self._device(cp_device, availability, components))]
        if multi:
            word = "connector" if is_16 else "EVSE"
            for n in outlets:
                device = {"identifiers": [f"ocpp_c{n}_{s}"], "name": f"{cp.identity} {word} {n}",
                          **{k: v for k, v in cp_device.items()
                             if k in ("manufacturer", "model")},
                          "via_device": cp_object_id}
                comps: dict[str, Any] = {}
                for spec in CONNECTOR_SPECS:
                    self._add(comps, spec, f"c{n}_{spec.key}_{s}", f"{state}/{n}",
                              f"{setter}/{n}", is_16)
                configs.append(DeviceConfig(f"ocpp_c{n}_{s}",
                                            self._device(device, availability, comps)))
        return configs

    def _cp_device(self, cp: ChargePointState, object_id: str) -> dict[str, Any]:
        device: dict[str, Any] = {"identifiers": [object_id], "name": cp.identity}
        serial = cp.serial_number or cp.charge_box_serial_number
        for key, value in (("manufacturer", cp.vendor), ("model", cp.model),
                           ("sw_version", cp.firmware_version), ("serial_number", serial)):
            if value:  # HA's device schema takes strings only: leave unknowns out
                device[key] = str(value)
        device["via_device"] = self.gateway_object_id
        return device

    @staticmethod
    def _device(device: dict[str, Any], availability: list[dict[str, str]],
                components: dict[str, Any]) -> dict[str, Any]:
        return {"device": device, "origin": ORIGIN, "availability": availability,
                "availability_mode": "all", "qos": QOS, "components": components}

    def _add(self, components: dict[str, Any], spec: Spec, uid_tail: str, state: str,
             setter: str, is_16: bool) -> None:
        uid = f"ocpp_{uid_tail}"
        if spec.only_16 and not is_16:
            _stub(components, spec, uid_tail)
            return
        config: dict[str, Any] = {"platform": spec.platform, "unique_id": uid,
                                  "name": spec.name}
        if spec.platform == "number":
            config.update(self._number)
        config.update(spec.options)
        if spec.state is not None:
            config["state_topic"] = f"{state}/{spec.state}"
        if spec.command is not None:
            config["command_topic"] = f"{setter}/{spec.command}"
        if spec.gateway_only:
            config["availability"] = [self._gateway_availability]
        components[uid] = config


def _stub(components: dict[str, Any], spec: Spec, uid_tail: str) -> None:
    """An entity reduced to its platform: HA removes it from the device (if it has it)."""
    components[f"ocpp_{uid_tail}"] = {"platform": spec.platform}

"""Home Assistant discovery payloads checked against Home Assistant's own rules.

The rules are data below, taken from Home Assistant's documentation and its sensor constants
(`homeassistant/components/sensor/const.py`: DEVICE_CLASS_UNITS, DEVICE_CLASS_STATE_CLASSES;
the MQTT platform pages for the keys each platform accepts; `mqtt/abbreviations.py`). A payload
that breaks one of them is one HA would reject or mis-handle (a wrong unit is refused, an
energy sensor with `measurement` never reaches the Energy dashboard, ...).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson
import pytest

from ocpp_mqtt.config import Settings, load_settings
from ocpp_mqtt.modes.central.profile import CommandResult, MqttHandler
from ocpp_mqtt.modes.central.state import STATUSES, ChargePointState, ConnectorState
from ocpp_mqtt.northbound.ha_discovery import Discovery, sanitize
from ocpp_mqtt.northbound.homeassistant import HomeAssistantProfile
from ocpp_mqtt.ocppj.identity import escape_topic_level

# ---- Home Assistant's rules, as data --------------------------------------------------------

SENSOR_DEVICE_CLASSES = {
    "date", "enum", "timestamp", "apparent_power", "aqi", "area", "atmospheric_pressure",
    "battery", "blood_glucose_concentration", "carbon_monoxide", "carbon_dioxide",
    "conductivity", "current", "data_rate", "data_size", "distance", "duration", "energy",
    "energy_distance", "energy_storage", "frequency", "gas", "humidity", "illuminance",
    "irradiance", "moisture", "monetary", "nitrogen_dioxide", "nitrogen_monoxide",
    "nitrous_oxide", "ozone", "ph", "pm1", "pm10", "pm25", "power_factor", "power",
    "precipitation", "precipitation_intensity", "pressure", "reactive_power", "signal_strength",
    "sound_pressure", "speed", "sulphur_dioxide", "temperature", "temperature_delta",
    "volatile_organic_compounds", "volatile_organic_compounds_parts", "voltage", "volume",
    "volume_flow_rate", "volume_storage", "water", "weight", "wind_direction", "wind_speed",
}
NON_NUMERIC = {"date", "enum", "timestamp"}  # no unit, no state class
# DEVICE_CLASS_UNITS, for the classes an EVSE uses
UNITS = {
    "energy": {"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal",
               "Mcal", "Gcal"},
    "power": {"mW", "W", "kW", "MW", "GW", "TW", "BTU/h"},
    "current": {"A", "mA"},
    "voltage": {"V", "mV", "µV", "kV", "MV"},
    "battery": {"%"},
    "temperature": {"°C", "°F", "K"},
    "duration": {"d", "h", "min", "s", "ms"},
    "frequency": {"Hz", "kHz", "MHz", "GHz"},
}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
# DEVICE_CLASS_STATE_CLASSES, for the same classes
DEVICE_STATE_CLASSES = {
    "energy": {"total", "total_increasing"},
    "power": {"measurement"}, "current": {"measurement"}, "voltage": {"measurement"},
    "battery": {"measurement"}, "temperature": {"measurement"}, "frequency": {"measurement"},
    "duration": {"measurement", "total", "total_increasing"},
    "enum": set(), "timestamp": set(), "date": set(),
}
BINARY_SENSOR_DEVICE_CLASSES = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
    "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy",
    "opening", "plug", "power", "presence", "problem", "running", "safety", "smoke", "sound",
    "tamper", "update", "vibration", "window",
}
BUTTON_DEVICE_CLASSES = {"identify", "restart", "update"}
SWITCH_DEVICE_CLASSES = {"outlet", "switch"}
NUMBER_UNITS = {"current": {"A", "mA"}, "power": UNITS["power"]}
ENTITY_CATEGORIES = {"config", "diagnostic"}

# The keys each MQTT platform accepts (HA's MQTT platform pages), full names only.
COMMON_KEYS = {"platform", "unique_id", "name", "availability", "availability_mode",
               "availability_topic", "availability_template", "payload_available",
               "payload_not_available", "device", "origin", "entity_category", "icon",
               "enabled_by_default", "json_attributes_topic", "json_attributes_template",
               "qos", "encoding", "default_entity_id", "entity_picture"}
PLATFORM_KEYS = {
    "sensor": {"state_topic", "value_template", "device_class", "state_class",
               "unit_of_measurement", "suggested_display_precision", "options", "expire_after",
               "force_update", "last_reset_value_template"},
    "binary_sensor": {"state_topic", "value_template", "device_class", "payload_on",
                      "payload_off", "expire_after", "force_update", "off_delay"},
    "switch": {"state_topic", "command_topic", "command_template", "value_template",
               "device_class", "payload_on", "payload_off", "state_on", "state_off",
               "optimistic", "retain"},
    "number": {"state_topic", "command_topic", "command_template", "value_template",
               "device_class", "min", "max", "step", "mode", "unit_of_measurement",
               "optimistic", "retain", "payload_reset"},
    "button": {"command_topic", "command_template", "device_class", "payload_press", "retain"},
}
DEVICE_DISCOVERY_ROOT = {"device", "origin", "components", "availability", "availability_mode",
                         "availability_topic", "availability_template", "payload_available",
                         "payload_not_available", "state_topic", "command_topic", "qos",
                         "encoding"}
DEVICE_KEYS = {"identifiers", "connections", "manufacturer", "model", "model_id", "name",
               "hw_version", "serial_number", "sw_version", "via_device", "suggested_area",
               "configuration_url"}
AVAILABILITY_KEYS = {"topic", "payload_available", "payload_not_available", "value_template"}
# A sample of HA's abbreviations: a payload written in full names must use none of them
ABBREVIATIONS = {"p", "cmps", "o", "dev", "avty", "avty_t", "avty_mode", "stat_t", "cmd_t",
                 "uniq_id", "dev_cla", "stat_cla", "unit_of_meas", "val_tpl", "pl_on",
                 "pl_off", "stat_on", "stat_off", "pl_avail", "pl_not_avail", "ent_cat",
                 "pl_prs", "ids", "mf", "mdl", "sw", "sn", "via_dev", "t", "sug_dsp_prc",
                 "ops", "exp_aft", "json_attr_t"}
OBJECT_ID = re.compile(r"[a-zA-Z0-9_-]+")

# ---- states ---------------------------------------------------------------------------------

PREFIX = "ocpp/"
GATEWAY_STATUS = "ocpp/gateway/gw1/status"


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"mode": "central", "gateway_id": "gw1", "prefix": PREFIX,
                              "ha_current_min": 6, "ha_current_max": 16}
    values.update(overrides)
    return load_settings(None, **values)


def charge_point(identity: str, version: str = "1.6", outlets: int = 1,
                 **boot: Any) -> ChargePointState:
    cp = ChargePointState(identity, escape_topic_level(identity), version=version, online=True,
                          **boot)
    for n in range(outlets + 1):
        connector = cp.connector(n)
        connector.status = "Available"
    return cp


def single_16() -> ChargePointState:
    return charge_point("CP001", vendor="SimVendor", model="SimModel", firmware_version="1.2.3",
                        serial_number="SN-1")


def multi_16() -> ChargePointState:
    return charge_point("Dual/Box+1".replace("/", "_"), outlets=2, vendor="Duo")


def evse_201() -> ChargePointState:
    return charge_point("CS-2", version="2.0.1", outlets=1, vendor="Vendor2", model="M2")


STATES = {"single 1.6": single_16, "multi 1.6": multi_16, "2.0.1": evse_201}


def native_topics(cp: ChargePointState) -> tuple[set[str], set[str]]:
    """(state topics, command topics) the native profile has for this charge point."""
    base = f"{PREFIX}state/{cp.cid_level}"
    states = {f"{base}/{name}" for name in cp.to_json() if name != "connectors"}
    fields = [*ConnectorState(0).to_json(), "energy_kwh", "session_energy_kwh"]
    for n in {0, *cp.connectors}:
        states |= {f"{base}/{n}/{name}" for name in fields}
    setter = f"{PREFIX}set/{cp.cid_level}"
    commands = {f"{setter}/current_limit", f"{setter}/reset", f"{setter}/charging_enabled"}
    for n in cp.connectors:
        commands |= {f"{setter}/{n}/{name}"
                     for name in ("charging", "current_limit", "available", "unlock")}
    return states, commands


def entities(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The components of a device config that are entities, not removals."""
    return {k: v for k, v in payload["components"].items() if set(v) != {"platform"}}


def walk_keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(k for v in value.values() for k in walk_keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in walk_keys(v)]
    return []


# ---- the payloads ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", STATES)
def test_payloads_follow_home_assistants_rules(name: str) -> None:
    cp = STATES[name]()
    discovery = Discovery(settings(), GATEWAY_STATUS)
    configs = [discovery.gateway_config(), *discovery.device_configs(cp)]
    state_topics, command_topics = native_topics(cp)
    state_topics.add(GATEWAY_STATUS)
    for config in configs:
        payload = config.payload
        assert OBJECT_ID.fullmatch(config.object_id)
        topic = discovery.topic(config.object_id)
        assert topic == f"homeassistant/device/{config.object_id}/config"
        assert set(payload) <= DEVICE_DISCOVERY_ROOT, set(payload) - DEVICE_DISCOVERY_ROOT
        assert payload["origin"]["name"]
        assert set(payload["device"]) <= DEVICE_KEYS
        assert payload["device"]["identifiers"]
        assert all(isinstance(v, str) for k, v in payload["device"].items() if k != "identifiers")
        assert not set(walk_keys(payload)) & ABBREVIATIONS
        for entry in payload.get("availability", []):
            assert set(entry) <= AVAILABILITY_KEYS and entry["topic"] in state_topics
        for object_id, component in payload["components"].items():
            assert OBJECT_ID.fullmatch(object_id)
            if set(component) == {"platform"}:
                continue  # a removal
            check_component(component, object_id, state_topics, command_topics)


def check_component(c: dict[str, Any], object_id: str, state_topics: set[str],
                    command_topics: set[str]) -> None:
    platform = c["platform"]
    assert c["unique_id"] == object_id
    assert set(c) <= COMMON_KEYS | PLATFORM_KEYS[platform], set(c) - COMMON_KEYS - \
        PLATFORM_KEYS[platform]
    assert "expire_after" not in c  # retained states published on change only (see module)
    for key, topic in c.items():
        if key == "state_topic":
            assert topic in state_topics, topic
        elif key == "command_topic":
            assert topic in command_topics, topic
    for entry in c.get("availability", []):
        assert entry["topic"] in state_topics
    category = c.get("entity_category")
    assert category is None or category in ENTITY_CATEGORIES
    device_class = c.get("device_class")
    if platform == "sensor":
        assert category != "config"  # HA refuses read-only entities in the config category
        unit, state_class = c.get("unit_of_measurement"), c.get("state_class")
        assert device_class is None or device_class in SENSOR_DEVICE_CLASSES
        assert state_class is None or state_class in STATE_CLASSES
        if device_class in NON_NUMERIC:
            assert unit is None and state_class is None
        if device_class in UNITS:
            assert unit in UNITS[device_class], (device_class, unit)
        if device_class in DEVICE_STATE_CLASSES and state_class is not None:
            assert state_class in DEVICE_STATE_CLASSES[device_class], (device_class, state_class)
        assert ("options" in c) == (device_class == "enum")
        if device_class == "enum":
            assert c["options"] == list(STATUSES)
    elif platform == "binary_sensor":
        assert category != "config"
        assert device_class in BINARY_SENSOR_DEVICE_CLASSES
        # the native profile writes booleans as true/false; the gateway's status is JSON
        assert (c["payload_on"], c["payload_off"]) in (("true", "false"), ("online", "offline"))
    elif platform == "switch":
        assert device_class is None or device_class in SWITCH_DEVICE_CLASSES
        assert (c["payload_on"], c["payload_off"]) == ("ON", "OFF")
        assert (c["state_on"], c["state_off"]) == ("true", "false")
    elif platform == "number":
        assert c["unit_of_measurement"] in NUMBER_UNITS[c["device_class"]]
        assert c["min"] <= c["max"] and c["step"] > 0
    elif platform == "button":
        assert device_class is None or device_class in BUTTON_DEVICE_CLASSES
        assert c["payload_press"] == "PRESS"


def by_name(configs: list[Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for config in configs for c in entities(config.payload).values()}


def test_the_energy_dashboard_gets_the_meter_register() -> None:
    discovery = Discovery(settings(), GATEWAY_STATUS)
    found = by_name(discovery.device_configs(single_16()))
    energy = found["Energy"]
    assert energy["state_topic"] == "ocpp/state/CP001/1/energy_kwh"
    assert (energy["device_class"], energy["state_class"], energy["unit_of_measurement"]) == \
        ("energy", "total_increasing", "kWh")
    session = found["Session energy"]
    assert session["state_topic"].endswith("/1/session_energy_kwh")
    assert found["Power"]["state_topic"].endswith("/1/power_w")
    assert found["Status"]["device_class"] == "enum"
    assert found["Last seen"]["device_class"] == "timestamp"
    assert "unit_of_measurement" not in found["Last seen"]


def test_single_outlet_charger_is_one_device() -> None:
    discovery = Discovery(settings(), GATEWAY_STATUS)
    configs = discovery.device_configs(single_16())
    assert [c.object_id for c in configs] == ["ocpp_cp_CP001"]
    payload = configs[0].payload
    assert payload["device"] == {"identifiers": ["ocpp_cp_CP001"], "name": "CP001",
                                 "manufacturer": "SimVendor", "model": "SimModel",
                                 "sw_version": "1.2.3", "serial_number": "SN-1",
                                 "via_device": "ocpp_gw_gw1"}
    assert payload["availability_mode"] == "all"
    assert payload["availability"] == [
        {"topic": GATEWAY_STATUS, "value_template": "{{ value_json.status }}",
         "payload_available": "online", "payload_not_available": "offline"},
        {"topic": "ocpp/state/CP001/online", "payload_available": "true",
         "payload_not_available": "false"}]
    found = by_name(configs)
    charge = found["Charge"]
    assert charge["state_topic"] == "ocpp/state/CP001/1/session_active"
    assert charge["command_topic"] == "ocpp/set/CP001/1/charging"
    limit = found["Current limit"]
    assert (limit["min"], limit["max"], limit["step"]) == (6, 16, 1)
    assert limit["state_topic"] == "ocpp/state/CP001/1/limit_a"
    assert limit["command_topic"] == "ocpp/set/CP001/1/current_limit"
    assert limit["entity_category"] == "config"
    assert found["Reset"]["command_topic"] == "ocpp/set/CP001/reset"
    assert found["Unlock"]["command_topic"] == "ocpp/set/CP001/1/unlock"
    # the charger's own connectivity stays visible while it is away: gateway availability only
    assert found["Online"]["availability"] == [payload["availability"][0]]
    assert "availability" not in found["Energy"]  # inherits both topics


def test_multi_outlet_charger_has_a_device_per_connector() -> None:
    discovery = Discovery(settings(), GATEWAY_STATUS)
    cp = multi_16()
    configs = discovery.device_configs(cp)
    s = sanitize(cp.identity)
    assert [c.object_id for c in configs] == [f"ocpp_cp_{s}", f"ocpp_c1_{s}", f"ocpp_c2_{s}"]
    main, first, second = (c.payload for c in configs)
    assert main["device"]["via_device"] == "ocpp_gw_gw1"
    for n, payload in ((1, first), (2, second)):
        assert payload["device"]["via_device"] == f"ocpp_cp_{s}"
        assert payload["device"]["name"] == f"{cp.identity} connector {n}"
        assert payload["device"]["manufacturer"] == "Duo"
        found = {c["name"]: c for c in entities(payload).values()}
        assert found["Energy"]["state_topic"] == f"ocpp/state/{cp.cid_level}/{n}/energy_kwh"
        assert found["Charge"]["command_topic"] == f"ocpp/set/{cp.cid_level}/{n}/charging"
    main_entities = {c["name"]: c for c in entities(main).values()}
    assert "Energy" not in main_entities and "Online" in main_entities
    assert main_entities["Current limit"]["command_topic"] == \
        f"ocpp/set/{cp.cid_level}/current_limit"
    assert main_entities["Firmware"]["entity_category"] == "diagnostic"
    # the single layout's connector entities are listed as removals
    removals = {k for k, v in main["components"].items() if set(v) == {"platform"}}
    assert f"ocpp_cp1_energy_{s}" in removals and f"ocpp_cp2_charge_{s}" in removals


def test_201_names_evses_and_has_no_error_code() -> None:
    discovery = Discovery(settings(), GATEWAY_STATUS)
    cp = evse_201()
    cp.connector(2).status = "Available"
    configs = discovery.device_configs(cp)
    assert configs[1].payload["device"]["name"] == "CS-2 EVSE 1"
    names = {c["name"] for config in configs for c in entities(config.payload).values()}
    assert "Error code" not in names and "Status" in names
    assert configs[1].payload["components"]["ocpp_c1_errorcode_CS-2"] == {"platform": "sensor"}


def test_unique_ids_are_unique_and_sanitised_collision_safe() -> None:
    discovery = Discovery(settings(), GATEWAY_STATUS)
    identities = ["CP 1", "CP_1", "CP+1", "CP%1", "A", "A_2", "c2_A", "Küche"]
    seen: dict[str, str] = {}
    devices: set[str] = set()
    for identity in identities:
        cp = charge_point(identity, outlets=2)
        for config in discovery.device_configs(cp):
            assert config.object_id not in devices
            devices.add(config.object_id)
            for uid in config.payload["components"]:
                assert OBJECT_ID.fullmatch(uid)
                assert seen.setdefault(uid, identity) == identity, uid
        # the single layout too (its ids differ from the multi layout's)
        for config in discovery.device_configs(charge_point(identity, outlets=1)):
            for uid in entities(config.payload):
                assert seen.setdefault(uid, identity) == identity, uid
    assert sanitize("CP_1") == "CP_1"
    assert sanitize("CP 1") != sanitize("CP_1") and sanitize("CP 1").startswith("CP_1_")
    assert OBJECT_ID.fullmatch(sanitize("Küche")) and OBJECT_ID.fullmatch(sanitize(""))


def test_identity_only_decides_the_ids() -> None:
    """A reconnect without BootNotification, or a renamed gateway, finds the same entities."""
    booted = single_16()
    bare = charge_point("CP001")
    bare.version = None
    a = Discovery(settings(), GATEWAY_STATUS).device_configs(booted)
    b = Discovery(settings(gateway_id="other"), "ocpp/gateway/other/status").device_configs(bare)
    assert [c.object_id for c in a] == [c.object_id for c in b]
    assert a[0].payload["device"]["identifiers"] == b[0].payload["device"]["identifiers"]
    assert set(entities(a[0].payload)) == set(entities(b[0].payload))


def test_topics_follow_the_settings() -> None:
    s = settings(prefix="site/", state_topic="st/${cid}", set_topic="cmd/${cid}/set",
                 ha_discovery_prefix="ha")
    discovery = Discovery(s, "site/gateway/gw1/status")
    cp = charge_point("CP/1".replace("/", "+"))
    config = discovery.device_configs(cp)[0]
    assert discovery.topic(config.object_id).startswith("ha/device/")
    found = by_name([config])
    assert found["Energy"]["state_topic"] == "site/st/CP%2B1/1/energy_kwh"
    assert found["Charge"]["command_topic"] == "site/cmd/CP%2B1/set/1/charging"


# ---- the profile ----------------------------------------------------------------------------


class RecordingHub:
    """The parts of central mode's Hub the profile uses, recording what it publishes."""

    def __init__(self, s: Settings) -> None:
        self.settings = s
        self.states: dict[str, ChargePointState] = {}
        self.published: list[tuple[str, bytes, int, bool]] = []
        self.durables: list[tuple[str, bytes, int, bool]] = []
        self.handlers: dict[str, MqttHandler] = {}

    @property
    def mqtt(self) -> RecordingHub:
        return self

    @property
    def gateway_status_topic(self) -> str:
        return GATEWAY_STATUS

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False,
                **props: Any) -> None:
        self.published.append((topic, payload, qos, retain))

    def durable(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.durables.append((topic, payload, qos, retain))

    async def subscribe(self, topic_filter: str, handler: MqttHandler, qos: int = 1) -> None:
        self.handlers[topic_filter] = handler

    async def command(self, identity: str, name: str, args: dict[str, Any] | None,
                      *, connector: int | None = None) -> CommandResult:
        raise AssertionError("the Home Assistant profile sends no commands")

    def take(self) -> dict[str, Any]:
        """Topic -> decoded payload of what was published since the last take."""
        out = {t: orjson.loads(p) if p else None for t, p, _, _ in self.published}
        assert all(qos == 1 and retain for _, _, qos, retain in self.published)
        self.published.clear()
        return out


async def started(settle: float = 0.0) -> tuple[HomeAssistantProfile, RecordingHub]:
    s = settings()
    hub = RecordingHub(s)
    profile = HomeAssistantProfile(s, settle=settle)
    await profile.start(hub)
    return profile, hub


GW_TOPIC = "homeassistant/device/ocpp_gw_gw1/config"
CP_TOPIC = "homeassistant/device/ocpp_cp_CP001/config"


async def test_configs_follow_the_charge_point_not_its_meter_values() -> None:
    profile, hub = await started()
    assert "homeassistant/status" in hub.handlers
    assert list(hub.take()) == [GW_TOPIC]
    cp = charge_point("CP001")
    hub.states[cp.identity] = cp
    profile.online(cp)
    assert list(hub.take()) == [CP_TOPIC]
    profile.online(cp)  # a reconnect with nothing new: nothing again
    cp.connectors[1].energy_wh = 1234.0
    cp.connectors[1].power_w = 7200.0
    profile.changed(cp, {1})
    assert hub.take() == {}
    cp.vendor, cp.firmware_version = "SimVendor", "2.0"  # a BootNotification
    profile.changed(cp, {0})
    device = hub.take()[CP_TOPIC]["device"]
    assert (device["manufacturer"], device["sw_version"]) == ("SimVendor", "2.0")


async def test_home_assistant_birth_and_reconnects_publish_everything_again() -> None:
    profile, hub = await started()
    cp = charge_point("CP001")
    hub.states[cp.identity] = cp
    profile.online(cp)
    hub.take()
    hub.handlers["homeassistant/status"]("homeassistant/status", b"offline", {})
    assert hub.take() == {}
    hub.handlers["homeassistant/status"]("homeassistant/status", b"online", {})
    assert set(hub.take()) == {GW_TOPIC, CP_TOPIC}
    profile.republish()
    assert set(hub.take()) == {GW_TOPIC, CP_TOPIC}


async def test_charge_points_known_before_start_are_published() -> None:
    s = settings()
    hub = RecordingHub(s)
    cp = charge_point("CP001")
    cp.online = False
    hub.states[cp.identity] = cp
    await HomeAssistantProfile(s).start(hub)
    assert set(hub.take()) == {GW_TOPIC, CP_TOPIC}


async def test_a_second_connector_moves_to_the_multi_layout() -> None:
    profile, hub = await started()
    cp = charge_point("CP001")
    hub.states[cp.identity] = cp
    profile.online(cp)
    hub.take()
    cp.connector(2).status = "Available"
    profile.changed(cp, {2})
    out = hub.take()
    assert list(out) == [CP_TOPIC, "homeassistant/device/ocpp_c1_CP001/config",
                         "homeassistant/device/ocpp_c2_CP001/config"]  # removals first
    assert out[CP_TOPIC]["components"]["ocpp_cp1_energy_CP001"] == {"platform": "sensor"}
    assert "ocpp_c1_energy_CP001" in out["homeassistant/device/ocpp_c1_CP001/config"][
        "components"]


async def test_connectors_reported_together_are_published_once_settled() -> None:
    profile, hub = await started(settle=0.05)
    cp = charge_point("CP001", outlets=0)
    hub.states[cp.identity] = cp
    profile.online(cp)
    hub.take()
    cp.connector(1).status = "Available"
    profile.changed(cp, {1})
    cp.connector(2).status = "Available"
    profile.changed(cp, {2})
    assert hub.take() == {}
    await asyncio.sleep(0.2)
    out = hub.take()
    assert set(out) == {CP_TOPIC, "homeassistant/device/ocpp_c1_CP001/config",
                        "homeassistant/device/ocpp_c2_CP001/config"}
    single = [k for k, v in out[CP_TOPIC]["components"].items()
              if k.startswith("ocpp_cp1_") and set(v) != {"platform"}]
    assert single == []  # never shown as a single-outlet charger


async def test_removed_charge_point_leaves_empty_retained_configs() -> None:
    profile, hub = await started()
    cp = charge_point("CP001", outlets=2)
    hub.states[cp.identity] = cp
    profile.online(cp)
    hub.take()
    profile.removed(cp)
    assert sorted(t for t, _, _, _ in hub.durables) == sorted(
        f"homeassistant/device/{o}/config" for o in ("ocpp_cp_CP001", "ocpp_c1_CP001",
                                                      "ocpp_c2_CP001"))
    assert all(p == b"" and qos == 1 and retain for _, p, qos, retain in hub.durables)
    # published again if it comes back
    profile.online(cp)
    assert CP_TOPIC in hub.take()


async def test_removal_covers_devices_published_before_a_restart() -> None:
    profile, hub = await started()
    cp = charge_point("CP001", outlets=2)  # known from the store, not yet synced here
    profile.removed(cp)
    assert len(hub.durables) == 3 and all(p == b"" for _, p, _, _ in hub.durables)

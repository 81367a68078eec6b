"""README "ThingsBoard": the client attributes, telemetry keys and RPC methods it lists are
exactly what the profile sends and understands (northbound/thingsboard_format.py)."""

from __future__ import annotations

import re

from ocpp_mqtt.northbound import thingsboard_format as tb
from tests.readme_examples import section

DEVICES = section("Devices, attributes and telemetry")
RPC = section("RPC: commands from ThingsBoard")


def test_client_attributes() -> None:
    listed = DEVICES[DEVICES.index("Client attributes"):DEVICES.index("Telemetry, charge point")]
    named = {n for n in re.findall(r"`(\w+)`", listed)
             if n not in ("1", "Accepted", "Pending", "Rejected", "gateway_id")}
    assert named == set(tb.ATTRIBUTE_FIELDS) | {"connectors", "gateway"}, \
        named ^ (set(tb.ATTRIBUTE_FIELDS) | {"connectors", "gateway"})


def test_telemetry_keys() -> None:
    table = DEVICES[DEVICES.index("| key | unit / values | from |"):].split("\n\n")[0]
    named = {n for line in table.splitlines()[2:]
             for n in re.findall(r"`(\w+)`", line.split("|")[1])}
    sent = (set(tb.READING_FIELDS) | set(tb.CONNECTOR_FIELDS) | set(tb.CLEARED_TEXT)
            | {"charging", "plugged", "problem"})
    assert named == sent, named ^ sent
    charge_point = DEVICES[DEVICES.index("Telemetry, charge point level"):]
    assert "`online`" in charge_point.split("\n\n")[0]
    assert "`chargingEnabled`" in charge_point.split("\n\n")[0]


def test_rpc_methods() -> None:
    table = RPC[RPC.index("| method | does | params |"):].split("\n\n")[0]
    named = {n for line in table.splitlines()[2:]
             for n in re.findall(r"`([\w.<>]+)`", line.split("|")[1])}
    assert named == set(tb.ALIASES) | {"getState", "setCharging", "ocpp.<Action>"}, \
        named ^ (set(tb.ALIASES) | {"getState", "setCharging", "ocpp.<Action>"})

"""README "Native state topics" and "How central mode reads what a charge point says": every
field they name is a field of the state the native profile publishes (a renamed field fails)."""

from __future__ import annotations

import re

from ocpp_mqtt.modes.central.state import ChargePointState, ConnectorState
from tests.readme_examples import section

CHARGE_POINT = set(ChargePointState("CP1", "CP1").to_json()) - {"connectors"}
# the native profile adds the kWh figures to each connector (northbound/native.py)
CONNECTOR = set(ConnectorState(1).to_json()) | {"energy_kwh", "session_energy_kwh"}


def _cell(text: str, row_start: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(row_start))
    return re.findall(r"`(\w+)`", line.split("|")[2])


def test_native_topic_fields_exist() -> None:
    text = section("Native state topics (profile `native`)")
    cp_fields = _cell(text, "| `ocpp/state/{cid}/{field}`")
    connector_fields = _cell(text, "| `ocpp/state/{cid}/{n}/{field}`")
    assert len(cp_fields) > 10 and len(connector_fields) > 20
    assert set(cp_fields) <= CHARGE_POINT, set(cp_fields) - CHARGE_POINT
    assert set(connector_fields) <= CONNECTOR, set(connector_fields) - CONNECTOR


def test_fields_central_mode_reads_into_exist() -> None:
    text = section("How central mode reads what a charge point says")
    table = text[text.index("| Message | What changes |"):].split("\n\n")[0]
    named = set()
    for line in table.splitlines()[2:]:
        cell = line.split("|")[2]
        # 2.x source names are dotted (`chargingStation.vendorName/...`); ours are snake_case
        named |= {n for n in re.findall(r"`([a-z_]+)`", cell) if "_" in n or n.isalpha()}
    sources = {"type"}  # SecurityEventNotification's, read into last_security_event
    unknown = named - CHARGE_POINT - CONNECTOR - sources
    assert not unknown, f"fields the README says central mode sets, which do not exist: {unknown}"


def test_command_statuses_are_the_gateways() -> None:
    """"Commands (profile `native`)" and the ThingsBoard RPC section list the statuses a
    command result can have: exactly modes/calls.py's."""
    from ocpp_mqtt.modes import calls

    statuses = {v for k, v in vars(calls).items() if k.isupper() and isinstance(v, str)}
    for heading, marker in (("Commands (profile `native`)", "`status` is"),
                            ("RPC: commands from ThingsBoard", "`status` is")):
        text = section(heading)
        sentence = text[text.index(marker):].split(".\n")[0].split(". ")[0]
        named = set(re.findall(r"`(\w+)`", sentence)) - {"status", "result", "error", "code",
                                                        "description", "details", "reason",
                                                        "call_timeout", "limit_min_interval"}
        assert named == statuses, (heading, named ^ statuses)


def test_identity_examples() -> None:
    """"Topics and payloads" (ID-03): the README's path and escaping examples."""
    from ocpp_mqtt.ocppj.identity import escape_topic_level, identity_from_path

    text = section("Topics and payloads")
    example = re.search(r"\(`(/ocpp/\S+)` → `(\S+)`\)", text)
    assert example
    assert identity_from_path(example.group(1)) == example.group(2)
    pairs = re.findall(r"identity `(\S+)` is `(\S+)` in topics, `(\S+)` is `(\S+)`", text)
    assert pairs
    for raw, escaped, raw2, escaped2 in pairs:
        assert escape_topic_level(raw) == escaped and escape_topic_level(raw2) == escaped2

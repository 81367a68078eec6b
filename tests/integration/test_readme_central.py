"""README "Central mode", example by example: the connector JSON, the transaction record, the
command and its result, the `set` topics, against a gateway in central mode and Mosquitto.
The examples are read out of README.md (tests/readme_examples.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from tests.conftest import Backend
from tests.readme_examples import assert_same_shape, block_after, json_objects, partial, section

from .test_central import call, meter
from .wsutil import connect, recv_json

STATE = "Native state topics (profile `native`)"
COMMANDS = "Commands (profile `native`)"



async def _session(ws: Any) -> None:
    """The README's session: RFID-1 on connector 1 from 10 000 Wh, 1.5 kWh and 7.2 kW five
    minutes later (three phases), stopped at 12 000 Wh."""
    await call(ws, "b1", "BootNotification", {"chargePointVendor": "V",
                                              "chargePointModel": "M"})
    await call(ws, "s1", "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                               "status": "Charging"})
    start = await call(ws, "t1", "StartTransaction", {
        "connectorId": 1, "idTag": "RFID-1", "meterStart": 10000,
        "timestamp": "2026-01-01T10:00:00Z"})
    tx = start[2]["transactionId"]
    await call(ws, "m1", "MeterValues", meter(1, tx, [
        {"value": "11500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
        *({"value": str(10.0 + n / 10), "measurand": "Current.Import", "unit": "A",
           "phase": f"L{n}"} for n in (1, 2, 3))]))
    return tx


async def test_connector_state_and_transaction_record(make_gateway: Any, backend: Backend,
                                                      tmp_path: Path) -> None:
    connector_block = block_after(STATE, "keyed `Measurand[.phase][@location]`")
    connector = json_objects(connector_block)[0]
    record = json_objects(block_after(STATE, "**Transactions**"))[0]
    gw = await make_gateway(mode="central", store=str(tmp_path / "gw.sqlite3"),
                            trigger_after_connect=0, gateway_id="gw-1",
                            id_tags={"RFID-1": "Accepted"})
    await backend.subscribe(gw.prefix + "state/CP1/1")
    await backend.subscribe(gw.prefix + "transactions/CP1")
    async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:
        tx = await _session(ws)
        state = await backend.wait_for(gw.prefix + "state/CP1/1",
                                       where=lambda b: b["session_energy_wh"] == 1500.0)
        # the README's connector, its numbers too: the readings of the session above
        assert partial(connector_block)
        assert_same_shape(connector, state, subset=True)
        assert {k: state[k] for k in connector if k not in ("transaction_id",)} == {
            k: v for k, v in connector.items() if k != "transaction_id"}
        assert state["transaction_id"] == str(tx)
        await call(ws, "e1", "StopTransaction", {
            "transactionId": tx, "meterStop": 12000, "timestamp": "2026-01-01T11:00:00Z",
            "idTag": "RFID-1"})
    ended = await backend.wait_for(gw.prefix + "transactions/CP1",
                                   where=lambda b: b["event"] == "ended")
    assert_same_shape(record, ended)
    assert {k: v for k, v in ended.items() if k != "transaction_id"} == {
        k: v for k, v in record.items() if k != "transaction_id"}


async def test_command_example_and_set_topics(make_gateway: Any, backend: Backend,
                                              tmp_path: Path) -> None:
    text = section(COMMANDS)
    pub = re.search(r"mosquitto_pub -t (\S+) -m '(.*)'", text)
    result_line = re.search(r"^(\S+/result) (\{.*\})$", text, re.MULTILINE)
    assert pub and result_line
    gw = await make_gateway(mode="central", store=str(tmp_path / "gw.sqlite3"),
                            trigger_after_connect=0, limit_min_interval=0)

    def topic(readme_topic: str) -> str:
        return readme_topic.replace("ocpp/", gw.prefix, 1).replace("{cid}", "CP1")

    await backend.subscribe(topic(result_line.group(1)))
    async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:
        await call(ws, "b1", "BootNotification", {"chargePointVendor": "V",
                                                  "chargePointModel": "M"})
        backend.publish(topic(pub.group(1)), pub.group(2).encode())
        frame = await recv_json(ws)
        assert frame[2] == "RemoteStartTransaction" and frame[3]["connectorId"] == 1
        await ws.send(orjson.dumps([3, frame[1], {"status": "Accepted"}]).decode())
        result = await backend.wait_for(topic(result_line.group(1)))
        example = orjson.loads(result_line.group(2))
        assert_same_shape(example, result)
        assert result == example
        # each `set` topic of the table, with its example value, becomes its command
        rows = re.findall(r"^\| `(ocpp/set/[^`]+)`(?:, `[^`]+`)? \| (.*?) \| (.*?) \|$", text,
                          re.MULTILINE)
        assert len(rows) == 7, rows
        answers = {"RemoteStartTransaction": {"status": "Accepted"},
                   "ChangeAvailability": {"status": "Accepted"},
                   "UnlockConnector": {"status": "Unlocked"}, "Reset": {"status": "Accepted"},
                   "SetChargingProfile": {"status": "Accepted"}}
        for set_topic, value_cell, _command in rows:
            value = re.findall(r"`([^`]+)`", value_cell)
            payload = value[0] if value else "1000"  # "watts"
            full = topic(set_topic).replace("{n}", "1")
            backend.publish(full, payload.encode())
            rest = full.removeprefix(gw.prefix + "set/CP1/")
            if not set_topic.endswith("/charging_enabled"):  # the gateway's own switch
                sent = await recv_json(ws)
                assert sent[2] in answers, (set_topic, sent)
                await ws.send(orjson.dumps([3, sent[1], answers[sent[2]]]).decode())
            result = await backend.wait_for(topic(result_line.group(1)))
            assert result["id"] == f"set/{rest}", (set_topic, result)
            assert result["status"] == "answered", (set_topic, result)

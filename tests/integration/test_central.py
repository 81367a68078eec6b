"""Central mode against a real Mosquitto: the gateway answers charge points itself, keeps
transactions in SQLite, publishes state (native profile) and runs commands.

Charge points are raw WebSocket clients sending exact frames (so every answer can be checked
against the spec) and, for whole sessions, the python `ocpp` package's ChargePoint.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import Backend

from .wsutil import connect, recv_json

T0 = "2026-01-01T10:00:00Z"


def frame(uid: str, action: str, payload: dict[str, Any]) -> str:
    return orjson.dumps([2, uid, action, payload]).decode()


async def call(ws: Any, uid: str, action: str, payload: dict[str, Any]) -> Any:
    await ws.send(frame(uid, action, payload))
    reply = await recv_json(ws)
    assert reply[1] == uid, reply
    return reply


def meter(connector: int, tx: int | None, samples: list[dict[str, Any]],
          at: str = "2026-01-01T10:05:00Z") -> dict[str, Any]:
    body: dict[str, Any] = {"connectorId": connector,
                            "meterValue": [{"timestamp": at, "sampledValue": samples}]}
    if tx is not None:
        body["transactionId"] = tx
    return body


async def raw_until(backend: Backend, topic: str, expected: bytes) -> bool:
    """Field topics carry bare values: read them until `expected` comes."""
    seen = []
    for _ in range(20):
        payload, _ = await backend.wait_raw(topic)
        seen.append(payload)
        if payload == expected:
            return True
    raise AssertionError(f"{topic}: {seen}")


@pytest.fixture
async def central(make_gateway: Any, tmp_path: Path) -> Any:
    async def start(**overrides: Any) -> Any:
        values: dict[str, Any] = {"mode": "central", "store": str(tmp_path / "gw.sqlite3"),
                                  "trigger_after_connect": 0,
                                  "id_tags": {"TAG1": "Accepted", "BLOCKED1": "Blocked"}}
        values.update(overrides)
        return await make_gateway(**values)
    return start


async def test_16_session_answers_state_and_transaction_record(central: Any,
                                                              backend: Backend) -> None:
    gw = await central()
    await backend.subscribe(gw.prefix + "#")
    state = gw.prefix + "state/CS1"
    async with connect(gw.url("CS1"), ["ocpp1.6"]) as ws:
        boot = await call(ws, "b1", "BootNotification",
                          {"chargePointVendor": "VendorX", "chargePointModel": "M1",
                           "firmwareVersion": "1.0"})
        assert boot[0] == 3 and boot[2]["status"] == "Accepted"
        assert boot[2]["interval"] == 300
        assert boot[2]["currentTime"].endswith("Z")  # ocpp2mqtt bug 10
        # Authorize: listed tags get their status, unknown ones Invalid, never Accepted
        assert (await call(ws, "a1", "Authorize", {"idTag": "tag1"}))[2] == {
            "idTagInfo": {"status": "Accepted"}}  # case-insensitive
        assert (await call(ws, "a2", "Authorize", {"idTag": "NOPE"}))[2]["idTagInfo"] == {
            "status": "Invalid"}
        assert (await call(ws, "a3", "Authorize", {"idTag": "BLOCKED1"}))[2]["idTagInfo"] == {
            "status": "Blocked"}
        await call(ws, "s1", "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                                    "status": "Preparing"})
        start = await call(ws, "t1", "StartTransaction", {
            "connectorId": 1, "idTag": "TAG1", "meterStart": 10_000, "timestamp": T0})
        tx = start[2]["transactionId"]
        assert type(tx) is int and start[2]["idTagInfo"]["status"] == "Accepted"
        # the charge point repeats the same StartTransaction (no answer seen): same id
        again = await call(ws, "t1b", "StartTransaction", {
            "connectorId": 1, "idTag": "TAG1", "meterStart": 10_000, "timestamp": T0})
        assert again[2]["transactionId"] == tx
        started = await backend.wait_for(gw.prefix + "transactions/CS1")
        assert started["event"] == "started" and started["transaction_id"] == tx
        await call(ws, "s2", "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                                    "status": "Charging"})
        three_phase = [
            {"value": "11.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
            {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
            {"value": "10.1", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
            {"value": "10.2", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
            {"value": "10.3", "measurand": "Current.Import", "phase": "L3", "unit": "A"},
        ]
        assert (await call(ws, "m1", "MeterValues", meter(1, tx, three_phase)))[2] == {}
        doc = await backend.wait_for(state + "/1", where=lambda d: d.get("power_w") == 7200)
        assert doc["energy_wh"] == 11_500 and doc["session_energy_wh"] == 1_500
        assert doc["readings"]["Current.Import.L1"] == 10.1
        assert doc["readings"]["Current.Import.L3"] == 10.3  # phases kept apart (bug 4)
        assert doc["status"] == "Charging" and doc["transaction_id"] == str(tx)
        assert await raw_until(backend, state + "/1/energy_kwh", b"11.5")
        # StopTransaction without the optional reason (ocpp2mqtt bug 5)
        stop = await call(ws, "t2", "StopTransaction", {
            "transactionId": tx, "meterStop": 12_000, "timestamp": "2026-01-01T11:00:00Z"})
        assert stop[0] == 3 and stop[2] == {}
        ended = await backend.wait_for(gw.prefix + "transactions/CS1")
        assert ended["event"] == "ended" and ended["reason"] == "Local"
        assert ended["energy_wh"] == 2_000 and ended["id_tag"] == "TAG1"
        # DataTransfer is answered, never a crash (ocpp2mqtt bug 3)
        dt = await call(ws, "d1", "DataTransfer", {"vendorId": "acme", "data": "x"})
        assert dt[2] == {"status": "UnknownVendorId"}
        # the EMQX stream still carries every frame
        mirrored = await backend.wait_for(gw.prefix + "cp/CS1",
                                          where=lambda m: m["Action"] == "StopTransaction")
        assert mirrored["UniqueId"] == "t2"
    offline = await backend.wait_for(state, where=lambda d: d["online"] is False)
    assert offline["vendor"] == "VendorX" and offline["connectors"]["1"]["power_w"] == 0


async def test_transaction_ids_survive_a_restart(central: Any, tmp_path: Path) -> None:
    """Unique, persistent transaction ids (ocpp2mqtt bug 6: it always answered 1)."""
    ids = []
    for run in range(2):
        gw = await central(store=str(tmp_path / "ids.sqlite3"))
        async with connect(gw.url("CS2"), ["ocpp1.6"]) as ws:
            for n in range(2):
                reply = await call(ws, f"t{n}", "StartTransaction", {
                    "connectorId": 1, "idTag": "TAG1", "meterStart": run * 10 + n,
                    "timestamp": T0})
                ids.append(reply[2]["transactionId"])
        await gw.gateway.stop()
    assert len(set(ids)) == 4 and ids == sorted(ids)


async def test_201_transaction_event_session(central: Any, backend: Backend) -> None:
    gw = await central()
    await backend.subscribe(gw.prefix + "#")
    async with connect(gw.url("CS3"), ["ocpp2.0.1"]) as ws:
        boot = await call(ws, "b", "BootNotification", {
            "chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"})
        assert boot[2]["status"] == "Accepted"
        token = {"idToken": "TAG1", "type": "ISO14443"}
        auth = await call(ws, "a", "Authorize", {"idToken": token})
        assert auth[2] == {"idTokenInfo": {"status": "Accepted"}}
        energy = {"timestamp": T0, "sampledValue": [
            {"value": 5.0, "measurand": "Energy.Active.Import.Register",
             "unitOfMeasure": {"unit": "kWh"}}]}
        started = await call(ws, "e1", "TransactionEvent", {
            "eventType": "Started", "timestamp": T0, "triggerReason": "Authorized", "seqNo": 0,
            "transactionInfo": {"transactionId": "tx-abc", "chargingState": "Charging"},
            "evse": {"id": 1, "connectorId": 1}, "idToken": token, "meterValue": [energy]})
        assert started[2] == {"idTokenInfo": {"status": "Accepted"}}
        record = await backend.wait_for(gw.prefix + "transactions/CS3")
        assert record["transaction_id"] == "tx-abc" and record["meter_start_wh"] == 5000
        doc = await backend.wait_for(gw.prefix + "state/CS3/1",
                                     where=lambda d: d["status"] == "Charging")
        assert doc["transaction_id"] == "tx-abc"
        ended = await call(ws, "e2", "TransactionEvent", {
            "eventType": "Ended", "timestamp": "2026-01-01T11:00:00Z",
            "triggerReason": "EVDeparted", "seqNo": 1,
            "transactionInfo": {"transactionId": "tx-abc", "stoppedReason": "EVDisconnected"},
            "evse": {"id": 1, "connectorId": 1}, "meterValue": [
                {"timestamp": "2026-01-01T11:00:00Z", "sampledValue": [
                    {"value": 6500, "measurand": "Energy.Active.Import.Register"}]}]})
        assert ended[0] == 3 and ended[2] == {}
        record = await backend.wait_for(gw.prefix + "transactions/CS3")
        assert record["event"] == "ended" and record["energy_wh"] == 1500
        assert record["reason"] == "EVDisconnected"
        # a request a small central system cannot serve gets the response's own "no"
        sign = await call(ws, "c", "SignCertificate", {"csr": "x" * 10})
        assert sign[2] == {"status": "Rejected"}


async def test_21_message_without_builtin_answer_gets_not_supported(central: Any) -> None:
    """ER-04: a known action the mode cannot answer gets NotSupported, not a crash."""
    gw = await central()
    async with connect(gw.url("CS4"), ["ocpp2.1"]) as ws:
        reply = await call(ws, "g", "GetCertificateChainStatus", {
            "certificateStatusRequests": [{"source": "OCSP", "urls": ["http://x"],
                                           "certificateHashData": {
                                               "hashAlgorithm": "SHA256", "issuerNameHash": "a",
                                               "issuerKeyHash": "b", "serialNumber": "1"}}]})
        assert reply[0] == 4 and reply[2] == "NotSupported"
        # and a notification the mode only takes in still gets its empty answer
        notify = await call(ws, "n", "NotifyEvent", {
            "generatedAt": T0, "seqNo": 0, "eventData": [{
                "eventId": 1, "timestamp": T0, "trigger": "Delta", "actualValue": "1",
                "eventNotificationType": "HardWiredNotification",
                "component": {"name": "Connector"}, "variable": {"name": "Available"}}]})
        assert notify[:3] == [3, "n", {}]


async def test_boot_policy_listed_and_unknown_tag_default(central: Any) -> None:
    gw = await central(boot_policy="listed", boot_allowed=["GOOD"], unknown_id_tag="Accepted")
    async with connect(gw.url("BAD"), ["ocpp1.6"]) as ws:
        boot = await call(ws, "b", "BootNotification", {"chargePointVendor": "V",
                                                        "chargePointModel": "M"})
        assert boot[2]["status"] == "Rejected"
    async with connect(gw.url("GOOD"), ["ocpp1.6"]) as ws:
        boot = await call(ws, "b", "BootNotification", {"chargePointVendor": "V",
                                                        "chargePointModel": "M"})
        assert boot[2]["status"] == "Accepted"
        auth = await call(ws, "a", "Authorize", {"idTag": "ANYONE"})
        assert auth[2]["idTagInfo"]["status"] == "Accepted"


async def test_hybrid_backend_answers_authorize_and_state_learns_it(
        central: Any, backend: Backend) -> None:
    """`answer`: Authorize goes to the MQTT backend; Heartbeat stays local."""
    gw = await central(answer={"Authorize": "backend"})
    await backend.subscribe(gw.prefix + "cp/#")
    async with connect(gw.url("HY1"), ["ocpp1.6"]) as ws:
        hb = await call(ws, "h", "Heartbeat", {})
        assert "currentTime" in hb[2]
        await ws.send(frame("a", "Authorize", {"idTag": "X"}))
        msg = await backend.wait_for(gw.prefix + "cp/HY1",
                                     where=lambda m: m["Action"] == "Authorize")
        backend.publish(gw.prefix + "cs/HY1", {"MessageTypeId": 3, "UniqueId": msg["UniqueId"],
                                               "Payload": {"idTagInfo": {"status": "Expired"}}})
        reply = await recv_json(ws)
        assert reply == [3, "a", {"idTagInfo": {"status": "Expired"}}]


async def test_fallback_answers_when_the_backend_is_silent(central: Any) -> None:
    gw = await central(answer={"Authorize": "fallback"}, fallback_timeout=0.3)
    async with connect(gw.url("HY2"), ["ocpp1.6"]) as ws:
        started = asyncio.get_running_loop().time()
        reply = await call(ws, "a", "Authorize", {"idTag": "TAG1"})
        assert reply[2] == {"idTagInfo": {"status": "Accepted"}}
        assert asyncio.get_running_loop().time() - started >= 0.25


async def test_commands_by_name_and_set_topic_reach_the_charge_point(
        central: Any, backend: Backend) -> None:
    gw = await central()
    await backend.subscribe(gw.prefix + "cmd/#")
    async with connect(gw.url("CM1"), ["ocpp1.6"]) as ws:
        backend.publish(gw.prefix + "cmd/CM1", {"id": "r1", "action": "start_charging",
                                                "args": {"connector": 2}})
        request = await recv_json(ws)
        assert request[0] == 2 and request[2] == "RemoteStartTransaction"
        assert request[3] == {"connectorId": 2, "idTag": "ocpp-mqtt"}
        await ws.send(orjson.dumps([3, request[1], {"status": "Accepted"}]).decode())
        result = await backend.wait_for(gw.prefix + "cmd/CM1/result")
        assert result["id"] == "r1" and result["status"] == "answered"
        assert result["result"] == {"status": "Accepted"}
        # an OCPP action by its snake_case name, snake_case args
        backend.publish(gw.prefix + "cmd/CM1", {"id": "r2", "action": "change_availability",
                                                "args": {"connector_id": 1,
                                                         "type": "Inoperative"}})
        request = await recv_json(ws)
        assert request[2:] == ["ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}]
        await ws.send(orjson.dumps([4, request[1], "NotSupported", "no", {}]).decode())
        result = await backend.wait_for(gw.prefix + "cmd/CM1/result")
        assert result["id"] == "r2" and result["status"] == "rejected"
        assert result["error"]["code"] == "NotSupported"
        # a simple control
        backend.publish(gw.prefix + "set/CM1/reset", b"PRESS")
        request = await recv_json(ws)
        assert request[2:] == ["Reset", {"type": "Soft"}]
        await ws.send(orjson.dumps([3, request[1], {"status": "Accepted"}]).decode())
        result = await backend.wait_for(gw.prefix + "cmd/CM1/result")
        assert result["id"] == "set/reset" and result["status"] == "answered"
        # bad input gets a clear answer
        backend.publish(gw.prefix + "cmd/CM1", b"{nope")
        result = await backend.wait_for(gw.prefix + "cmd/CM1/result")
        assert result["status"] == "invalid" and "JSON" in result["reason"]
        backend.publish(gw.prefix + "cmd/CM1", {"id": "r3", "action": "heartbeat"})
        result = await backend.wait_for(gw.prefix + "cmd/CM1/result")
        assert result["id"] == "r3" and result["status"] == "invalid"
    backend.publish(gw.prefix + "cmd/CM1", {"id": "r4", "action": "reset"})
    result = await backend.wait_for(gw.prefix + "cmd/CM1/result")
    assert result["id"] == "r4" and result["status"] == "offline"


async def test_trigger_after_a_connect_without_boot(central: Any) -> None:
    """A charge point that reconnects without booting is asked for Boot and statuses."""
    gw = await central(trigger_after_connect=0.2)
    async with connect(gw.url("TR1"), ["ocpp1.6"]) as ws:
        asked = []
        for _ in range(2):
            request = await recv_json(ws)
            assert request[2] == "TriggerMessage"
            asked.append(request[3]["requestedMessage"])
            await ws.send(orjson.dumps([3, request[1], {"status": "Accepted"}]).decode())
        assert asked == ["BootNotification", "StatusNotification"]


async def test_remove_charge_point_clears_its_retained_state(central: Any,
                                                            backend: Backend) -> None:
    gw = await central()
    await backend.subscribe(gw.prefix + "#")
    async with connect(gw.url("RM1"), ["ocpp1.6"]) as ws:
        await call(ws, "b", "BootNotification", {"chargePointVendor": "V",
                                                 "chargePointModel": "M"})
        backend.publish(gw.prefix + "cmd/RM1", {"id": "x", "action": "remove_charge_point"})
        refused = await backend.wait_for(gw.prefix + "cmd/RM1/result")
        assert refused["status"] == "invalid" and "not connected" in refused["reason"]
    await backend.wait_for(gw.prefix + "state/RM1", where=lambda d: d["online"] is False)
    backend.publish(gw.prefix + "cmd/RM1", {"id": "y", "action": "remove_charge_point"})
    done = await backend.wait_for(gw.prefix + "cmd/RM1/result")
    assert done["status"] == "answered"
    cleared, _ = await backend.wait_raw(gw.prefix + "state/RM1/vendor")
    while cleared:  # retained field topics are emptied (deleted on the broker)
        cleared, _ = await backend.wait_raw(gw.prefix + "state/RM1/vendor")
    assert "RM1" not in gw.gateway.central.states

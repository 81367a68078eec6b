"""Central mode with real third-party charge points: the python `ocpp` package's ChargePoint
and npm `ocpp-rpc`'s RPCClient (strict mode: it validates every answer the gateway sends
against the official schemas) drive whole sessions; the test checks the published state,
the transaction records and commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ocpp import v16, v201
from ocpp.routing import on

from tests.integration.ocpp_client import running

from .test_ocpp_rpc import HAS_OCPP_RPC, NODE, of, run_cp, scenario_for

WAIT = 5.0
T0 = "2026-05-01T08:00:00Z"


@pytest.fixture
async def central(make_gateway: Any, tmp_path: Path) -> Any:
    return await make_gateway(mode="central", store=str(tmp_path / "c.sqlite3"),
                              trigger_after_connect=0, id_tags={"RFID-1": "Accepted"})


class Cp16(v16.ChargePoint):  # type: ignore[misc]
    @on("RemoteStartTransaction")  # type: ignore[untyped-decorator]
    def remote_start(self, connector_id: int, id_tag: str, **_: Any) -> Any:
        self.remote_started = (connector_id, id_tag)
        return v16.call_result.RemoteStartTransaction(status="Accepted")


async def test_python_ocpp_16_session_and_remote_start(central: Any, backend: Any) -> None:
    await backend.subscribe(central.prefix + "#")
    async with running(Cp16, central.url("PY16"), "PY16") as cp:
        boot = await cp.call(v16.call.BootNotification(charge_point_model="M",
                                                       charge_point_vendor="V"))
        assert boot.status == "Accepted" and boot.current_time.endswith("Z")
        auth = await cp.call(v16.call.Authorize(id_tag="RFID-1"))
        assert auth.id_tag_info["status"] == "Accepted"
        start = await cp.call(v16.call.StartTransaction(connector_id=1, id_tag="RFID-1",
                                                        meter_start=2000, timestamp=T0))
        tx = start.transaction_id
        samples = [{"value": v, "measurand": "Voltage", "phase": p, "unit": "V"}
                   for p, v in (("L1-N", "229.5"), ("L2-N", "231.0"), ("L3-N", "230.2"))]
        samples.append({"value": "2.5", "measurand": "Energy.Active.Import.Register",
                        "unit": "kWh"})
        await cp.call(v16.call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[
            {"timestamp": T0, "sampled_value": samples}]))
        doc = await backend.wait_for(central.prefix + "state/PY16/1",
                                     where=lambda d: d.get("energy_wh") == 2500)
        assert doc["readings"]["Voltage.L2-N"] == 231.0
        assert doc["session_energy_wh"] == 500
        await cp.call(v16.call.StopTransaction(meter_stop=3000, timestamp=T0,
                                               transaction_id=tx))
        record = await backend.wait_for(central.prefix + "transactions/PY16",
                                        where=lambda r: r["event"] == "ended")
        assert record["transaction_id"] == tx and record["energy_wh"] == 1000
        backend.publish(central.prefix + "cmd/PY16", {"id": "go", "action": "start_charging",
                                                      "args": {"connector": 1}})
        result = await backend.wait_for(central.prefix + "cmd/PY16/result")
        assert result["status"] == "answered" and result["result"] == {"status": "Accepted"}
        assert cp.remote_started == (1, "ocpp-mqtt")


async def test_python_ocpp_201_transaction_events(central: Any, backend: Any) -> None:
    await backend.subscribe(central.prefix + "#")
    async with running(v201.ChargePoint, central.url("PY201"), "PY201", "ocpp2.0.1") as cp:
        boot = await cp.call(v201.call.BootNotification(
            charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"))
        assert boot.status == "Accepted"
        token = {"id_token": "RFID-1", "type": "ISO14443"}
        common = {"timestamp": T0, "evse": {"id": 1, "connector_id": 1}}
        started = await cp.call(v201.call.TransactionEvent(
            event_type="Started", trigger_reason="Authorized", seq_no=0, id_token=token,
            transaction_info={"transaction_id": "T-1", "charging_state": "Charging"},
            meter_value=[{"timestamp": T0, "sampled_value": [
                {"value": 1000, "measurand": "Energy.Active.Import.Register"}]}], **common))
        assert started.id_token_info["status"] == "Accepted"
        await cp.call(v201.call.TransactionEvent(
            event_type="Updated", trigger_reason="MeterValuePeriodic", seq_no=1,
            transaction_info={"transaction_id": "T-1", "charging_state": "Charging"},
            meter_value=[{"timestamp": T0, "sampled_value": [
                {"value": 11000, "measurand": "Power.Active.Import"},
                {"value": 1.75, "measurand": "Energy.Active.Import.Register",
                 "unit_of_measure": {"unit": "kWh"}}]}], **common))
        doc = await backend.wait_for(central.prefix + "state/PY201/1",
                                     where=lambda d: d.get("power_w") == 11000)
        assert doc["status"] == "Charging" and doc["session_energy_wh"] == 750
        await cp.call(v201.call.TransactionEvent(
            event_type="Ended", trigger_reason="StopAuthorized", seq_no=2,
            transaction_info={"transaction_id": "T-1", "stopped_reason": "Local"},
            meter_value=[{"timestamp": T0, "sampled_value": [
                {"value": 2000, "measurand": "Energy.Active.Import.Register"}]}], **common))
        record = await backend.wait_for(central.prefix + "transactions/PY201",
                                        where=lambda r: r["event"] == "ended")
        assert record["energy_wh"] == 1000 and record["transaction_id"] == "T-1"


SESSION = {
    "ocpp1.6": [
        {"method": "BootNotification",
         "params": {"chargePointVendor": "V", "chargePointModel": "M"}},
        {"method": "StatusNotification",
         "params": {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"}},
        {"method": "Authorize", "params": {"idTag": "RFID-1"}},
        {"method": "StartTransaction",
         "params": {"connectorId": 1, "idTag": "RFID-1", "meterStart": 0, "timestamp": T0}},
        {"method": "DataTransfer", "params": {"vendorId": "acme", "messageId": "x"}},
        {"method": "Heartbeat", "params": {}},
    ],
    "ocpp2.0.1": [
        {"method": "BootNotification",
         "params": {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"}},
        {"method": "StatusNotification",
         "params": {"timestamp": T0, "connectorStatus": "Occupied", "evseId": 1,
                    "connectorId": 1}},
        {"method": "Authorize", "params": {"idToken": {"idToken": "RFID-1",
                                                       "type": "ISO14443"}}},
        {"method": "NotifyReport", "params": {"requestId": 1, "generatedAt": T0, "seqNo": 0}},
        {"method": "SecurityEventNotification", "params": {"type": "FirmwareUpdated",
                                                           "timestamp": T0}},
        {"method": "Heartbeat", "params": {}},
    ],
}


@pytest.mark.interop
@pytest.mark.skipif(NODE is None or not HAS_OCPP_RPC, reason="needs node and ocpp-rpc")
@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_ocpp_rpc_strict_client_accepts_every_answer(protocol: str, central: Any,
                                                           backend: Any) -> None:
    """ocpp-rpc in strict mode rejects any answer that breaks its schema: all pass."""
    await backend.subscribe(central.prefix + "state/#")
    cid = f"RPC-{protocol}"
    events = await run_cp(scenario_for(central, cid, [protocol], True, calls=SESSION[protocol]))
    assert of(events, "error") == [] and of(events, "badMessage") == []
    results = {e["method"]: e["result"] for e in of(events, "result")}
    assert results["BootNotification"]["status"] == "Accepted"
    if protocol == "ocpp1.6":
        assert results["Authorize"] == {"idTagInfo": {"status": "Accepted"}}
        assert type(results["StartTransaction"]["transactionId"]) is int
        assert results["DataTransfer"] == {"status": "UnknownVendorId"}
    else:
        assert results["Authorize"] == {"idTokenInfo": {"status": "Accepted"}}
        assert results["NotifyReport"] == {} and results["SecurityEventNotification"] == {}
    doc = await backend.wait_for(central.prefix + f"state/{cid}",
                                 where=lambda d: d.get("vendor") == "V")
    assert doc["model"] == "M"

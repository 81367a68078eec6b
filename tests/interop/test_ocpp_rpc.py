"""Interop: npm `ocpp-rpc` 2.2.1 RPCClient (driven by cp.mjs) as the charge point.

The Node script runs one JSON scenario and prints one JSON line per event; the gateway and the
MQTT backend run in the test's event loop meanwhile. Assertions follow the OCPP-J rules
(ocpp-j-rules.md), not ocpp-rpc: its own missing-field spelling is swapped (§12), so the codes
checked here are the spec's, as sent by the gateway. `strictMode` is used with 1.6 and 2.0.1 only
(it is broken with 2.1, mikuso/ocpp-rpc#94).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ocpp_mqtt.ocppj.identity import escape_topic_level

from .conftest import NOW, WAIT

HERE = Path(__file__).resolve().parent
CP_SCRIPT = HERE / "cp.mjs"
NODE = shutil.which("node")
HAS_OCPP_RPC = (HERE / "node_modules" / "ocpp-rpc" / "package.json").is_file()

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(NODE is None, reason="node is not installed (needed for ocpp-rpc)"),
    pytest.mark.skipif(not HAS_OCPP_RPC, reason="tests/interop/node_modules/ocpp-rpc is missing: "
                       "run `make node-deps` (or `cd tests/interop && npm ci`)"),
]

NODE_LIMIT_MS = 15000  # cp.mjs exits by itself after this


async def run_cp(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    """Run cp.mjs with `scenario`; the events it printed (it must exit 0)."""
    scenario = {"timeoutMs": NODE_LIMIT_MS, **scenario}
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE, str(CP_SCRIPT), json.dumps(scenario), cwd=HERE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), NODE_LIMIT_MS / 1000 + 5)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    events = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    assert proc.returncode == 0, f"cp.mjs exited {proc.returncode}: {events} {err.decode()}"
    assert events[-1]["event"] == "done", events
    return events


def of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == kind]


def scenario_for(gw: Any, identity: str, protocols: list[str], strict: bool,
                 **extra: Any) -> dict[str, Any]:
    return {"endpoint": f"ws://127.0.0.1:{gw.port}/ocpp", "identity": identity,
            "protocols": protocols, "strictMode": strict, **extra}




BOOT = {
    "ocpp1.6": {"chargePointVendor": "Vendor-Y", "chargePointModel": "Model-X"},
    "ocpp2.0.1": {"chargingStation": {"vendorName": "Vendor-Y", "model": "Model-X"},
                  "reason": "PowerUp"},
    "ocpp2.1": {"chargingStation": {"vendorName": "Vendor-Y", "model": "Model-X"},
                "reason": "PowerUp"},
}


@pytest.mark.parametrize(("protocol", "strict"), [
    ("ocpp1.6", True), ("ocpp2.0.1", True),
    ("ocpp2.1", False),  # strictMode is broken for 2.1 in ocpp-rpc 2.2.1 (§12)
])
async def test_boot_and_heartbeat_answered_by_backend_lc03(
        protocol: str, strict: bool, make_gateway: Any, backend: Any, csms: Any) -> None:
    """LC-03 / MID-03: ocpp-rpc's BootNotification and Heartbeat are relayed to MQTT verbatim and
    the backend's CALLRESULTs come back as the call results (strict schema checks pass)."""
    gw = await make_gateway()
    cid = f"rpc-boot-{protocol}"
    await backend.subscribe(gw.prefix + "#")
    seen = csms(gw, cid)
    events = await run_cp(scenario_for(gw, cid, [protocol], strict, calls=[
        {"method": "BootNotification", "params": BOOT[protocol]},
        {"method": "Heartbeat", "params": {}},
    ]))
    assert of(events, "connected") == [{"event": "connected", "protocol": protocol}]
    assert of(events, "error") == []
    assert of(events, "result") == [
        {"event": "result", "method": "BootNotification",
         "result": {"currentTime": NOW, "interval": 300, "status": "Accepted"}},
        {"event": "result", "method": "Heartbeat", "result": {"currentTime": NOW}},
    ]
    assert [(m["MessageTypeId"], m["Action"], m["Payload"]) for m in seen] == [
        (2, "BootNotification", BOOT[protocol]), (2, "Heartbeat", {})]
    assert of(events, "closed")[0]["code"] == 1000


CP_RESULT = {
    "ocpp1.6": ("GetConfiguration", {"key": ["HeartbeatInterval"]},
                {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False,
                                       "value": "300"}]}),
    "ocpp2.0.1": ("GetVariables",
                  {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                                        "variable": {"name": "HeartbeatInterval"}}]},
                  {"getVariableResult": [{"attributeStatus": "Accepted",
                                          "attributeValue": "300",
                                          "component": {"name": "OCPPCommCtrlr"},
                                          "variable": {"name": "HeartbeatInterval"}}]}),
}


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_backend_call_handled_by_rpc_handler_fr10(protocol: str, make_gateway: Any,
                                                        backend: Any) -> None:
    """FR-10 / LC-03: a backend CALL reaches ocpp-rpc's handler with the params as published;
    its CALLRESULT is published on `cp/{cid}/Reply` with the Action attached; the ack says
    `answered`. The identity contains `+`, so every topic uses `%2B` (ID-03)."""
    gw = await make_gateway()
    identity = f"rpc+cmd-{protocol}"
    level = escape_topic_level(identity)
    assert "%2B" in level
    action, params, result = CP_RESULT[protocol]
    await backend.subscribe(gw.prefix + "#")
    node = asyncio.get_running_loop().create_task(run_cp(scenario_for(
        gw, identity, [protocol], True, handlers={action: {"result": result}},
        expectHandled=1)))
    try:
        await backend.wait_for(gw.prefix + f"presence/{level}", WAIT,
                               where=lambda m: m["status"] == "online")
        backend.publish(gw.prefix + f"cs/{level}", {"MessageTypeId": 2, "UniqueId": "rpc-cmd-1",
                                                    "Action": action, "Payload": params})
        reply = await backend.wait_for(gw.prefix + f"cp/{level}/Reply", WAIT)
        answered = await backend.wait_for(gw.prefix + f"cs/{level}/Ack", WAIT,
                                          where=lambda m: m["Status"] != "sent")
        events = await node
    finally:
        node.cancel()
        await asyncio.gather(node, return_exceptions=True)

    assert reply["MessageTypeId"] == 3
    assert reply["UniqueId"] == "rpc-cmd-1"
    assert reply["Action"] == action
    assert reply["Payload"] == result
    assert answered["Status"] == "answered"
    assert answered["UniqueId"] == "rpc-cmd-1"
    assert answered["Action"] == action
    assert answered["ReplyMessageTypeId"] == 3
    handled = of(events, "handler")
    assert [(h["method"], h["messageId"], h["params"]) for h in handled] == [
        (action, "rpc-cmd-1", params)]
    assert of(events, "badMessage") == []
    assert of(events, "strictValidationFailure") == []


@pytest.mark.parametrize(("protocol", "params", "code"), [
    # 1.6 keeps the spec's misspelling (ER-03); ocpp-rpc itself would swap these (§12).
    ("ocpp1.6", {"chargePointModel": "Model-X"}, "OccurenceConstraintViolation"),
    ("ocpp2.0.1", {"chargingStation": {"vendorName": "V", "model": "M"}},
     "OccurrenceConstraintViolation"),
    ("ocpp2.1", {"chargingStation": {"vendorName": "V", "model": "M"}},
     "OccurrenceConstraintViolation"),
])
async def test_missing_required_field_gets_spec_code_er08(
        protocol: str, params: dict[str, Any], code: str, make_gateway: Any,
        backend: Any) -> None:
    """ER-08 / ER-03 / ER-07: a BootNotification missing a required field (sent with strictMode
    off) gets the gateway's CALLERROR with the version's spelling of the missing-field code and
    is not relayed to MQTT."""
    gw = await make_gateway()
    cid = f"rpc-invalid-{protocol}"
    await backend.subscribe(gw.prefix + "#")
    events = await run_cp(scenario_for(gw, cid, [protocol], False, calls=[
        {"method": "BootNotification", "params": params}]))
    errors = of(events, "error")
    assert len(errors) == 1, events
    assert errors[0]["method"] == "BootNotification"
    assert errors[0]["code"] == code
    assert errors[0]["details"] == {}
    assert of(events, "result") == []
    await backend.silence(gw.prefix + f"cp/{cid}", 0.3)


@pytest.mark.parametrize(("offered", "chosen"), [
    (["ocpp2.0.1", "ocpp1.6"], "ocpp2.0.1"),
    (["ocpp1.6", "ocpp2.0.1"], "ocpp1.6"),
])
async def test_client_preference_order_decides_version_hs05(
        offered: list[str], chosen: str, make_gateway: Any, backend: Any) -> None:
    """HS-05 / HS-04: the gateway picks the first protocol in the *client's* order; ocpp-rpc
    reports it, and the gateway's presence shows the same version."""
    gw = await make_gateway()
    cid = "rpc-hs05-" + offered[0]
    await backend.subscribe(gw.prefix + "#")
    events = await run_cp(scenario_for(gw, cid, offered, True))
    assert of(events, "connected") == [{"event": "connected", "protocol": chosen}]
    online = await backend.wait_for(gw.prefix + f"presence/{escape_topic_level(cid)}", WAIT,
                                    where=lambda m: m["status"] == "online")
    assert online["proto_ver"] == chosen.removeprefix("ocpp")

"""Interop: the PyPI `ocpp` package's ChargePoint (1.6, 2.0.1, 2.1) as the charge point.

Each test connects a real `ocpp` ChargePoint over a `websockets` client to a gateway started
in-process, while the test's MQTT `backend` plays the central system (EMQX wire format, §5 of
the EMQX reference): CP CALLs arrive on `{prefix}cp/{cid}`, the backend answers on
`{prefix}cs/{cid}`, CP replies to backend CALLs arrive on `{prefix}cp/{cid}/Reply`, outcomes on
`{prefix}cs/{cid}/Ack`. Assertions follow the OCPP-J rules (ocpp-j-rules.md), not the library.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
import websockets
from ocpp import exceptions as oe
from ocpp import v16, v21, v201
from ocpp.routing import on

from ocpp_mqtt.ocppj.identity import escape_topic_level

from .conftest import NOW, WAIT

SUBPROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1", "2.1": "ocpp2.1"}
MODULES: dict[str, Any] = {"1.6": v16, "2.0.1": v201, "2.1": v21}


def boot_request(version: str) -> tuple[Any, dict[str, Any]]:
    """The library's BootNotification request and the camelCase payload it must put on the wire."""
    mod = MODULES[version]
    if version == "1.6":
        return (mod.call.BootNotification(charge_point_model="Model-X",
                                          charge_point_vendor="Vendor-Y",
                                          firmware_version="1.2.3"),
                {"chargePointModel": "Model-X", "chargePointVendor": "Vendor-Y",
                 "firmwareVersion": "1.2.3"})
    return (mod.call.BootNotification(
                charging_station={"model": "Model-X", "vendor_name": "Vendor-Y",
                                  "firmware_version": "1.2.3"},
                reason="PowerUp"),
            {"chargingStation": {"model": "Model-X", "vendorName": "Vendor-Y",
                                 "firmwareVersion": "1.2.3"},
             "reason": "PowerUp"})




@contextlib.asynccontextmanager
async def connected(cp_class: type, gw: Any, backend: Any, identity: str,
                    version: str) -> AsyncIterator[Any]:
    """A ChargePoint of `cp_class` connected to the gateway, reading in a background task."""
    await backend.subscribe(gw.prefix + "#")
    ws = await websockets.connect(gw.url(quote(identity, safe="")),
                                  subprotocols=[SUBPROTOCOL[version]],  # type: ignore[list-item]
                                  open_timeout=WAIT)
    assert ws.subprotocol == SUBPROTOCOL[version]
    cp = cp_class(identity, ws, response_timeout=WAIT)
    reader = asyncio.get_running_loop().create_task(cp.start())
    try:
        # Presence goes online only after the gateway's SUBACK: from then on commands reach the CP.
        await backend.wait_for(gw.prefix + f"presence/{escape_topic_level(identity)}", WAIT,
                               where=lambda m: m["status"] == "online")
        yield cp
    finally:
        await ws.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


# ---- charge points with @on handlers --------------------------------------------------------

CONFIG_KEY = {"key": "HeartbeatInterval", "readonly": False, "value": "300"}
GET_VARIABLE_RESULT = {"attributeStatus": "Accepted", "attributeValue": "300",
                       "component": {"name": "OCPPCommCtrlr"},
                       "variable": {"name": "HeartbeatInterval"}}


class Cp16(v16.ChargePoint):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handled: list[tuple[str, dict[str, Any]]] = []

    @on("GetConfiguration")
    def on_get_configuration(self, **kwargs: Any) -> Any:
        self.handled.append(("GetConfiguration", kwargs))
        unknown = [k for k in kwargs.get("key", []) if k != "HeartbeatInterval"]
        return v16.call_result.GetConfiguration(configuration_key=[dict(CONFIG_KEY)],
                                                unknown_key=unknown)

    @on("ChangeAvailability")
    def on_change_availability(self, **kwargs: Any) -> Any:
        self.handled.append(("ChangeAvailability", kwargs))
        return v16.call_result.ChangeAvailability(status="Scheduled")


def _cp2x(mod: Any) -> type:
    class Cp2x(mod.ChargePoint):  # type: ignore[misc,name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.handled: list[tuple[str, dict[str, Any]]] = []

        @on("GetVariables")
        def on_get_variables(self, **kwargs: Any) -> Any:
            self.handled.append(("GetVariables", kwargs))
            result = {"attribute_status": "Accepted", "attribute_value": "300",
                      "component": {"name": "OCPPCommCtrlr"},
                      "variable": {"name": "HeartbeatInterval"}}
            return mod.call_result.GetVariables(get_variable_result=[result])

        @on("ChangeAvailability")
        def on_change_availability(self, **kwargs: Any) -> Any:
            self.handled.append(("ChangeAvailability", kwargs))
            return mod.call_result.ChangeAvailability(status="Scheduled")

    return Cp2x


CP_CLASS: dict[str, type] = {"1.6": Cp16, "2.0.1": _cp2x(v201), "2.1": _cp2x(v21)}


# ---- CP-initiated CALLs ---------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
async def test_boot_and_heartbeat_round_trip_lc03_ka02(version: str, make_gateway: Any,
                                                      backend: Any, csms: Any) -> None:
    """LC-03 / KA-02 / MID-03: BootNotification and Heartbeat relayed to MQTT and answered from
    MQTT; the CP gets the backend's payload under its own message id."""
    gw = await make_gateway()
    cid = f"py-boot-{version}"
    seen = csms(gw, cid)
    async with connected(CP_CLASS[version], gw, backend, cid, version) as cp:
        request, wire_payload = boot_request(version)
        boot = await cp.call(request, unique_id="boot-1")
        assert boot.status == "Accepted"
        assert boot.interval == 300
        assert boot.current_time == NOW

        beat = await cp.call(MODULES[version].call.Heartbeat(), unique_id="beat-1")
        assert beat.current_time == NOW

    assert [m["UniqueId"] for m in seen] == ["boot-1", "beat-1"]
    boot_msg, beat_msg = seen
    assert boot_msg["MessageTypeId"] == 2
    assert boot_msg["Action"] == "BootNotification"
    assert boot_msg["Payload"] == wire_payload
    assert beat_msg["MessageTypeId"] == 2
    assert beat_msg["Action"] == "Heartbeat"
    assert beat_msg["Payload"] == {}


# (version, backend error code, the code the CP must receive, the library's exception class)
CALLERROR_CASES = [
    ("1.6", "NotSupported", "NotSupported", oe.NotSupportedError),
    ("2.0.1", "NotSupported", "NotSupported", oe.NotSupportedError),
    ("2.1", "NotSupported", "NotSupported", oe.NotSupportedError),
    # ER-03: the gateway spells codes the way the connection's version requires.
    ("1.6", "OccurrenceConstraintViolation", "OccurenceConstraintViolation",
     oe.OccurenceConstraintViolationError),
    ("2.0.1", "FormationViolation", "FormatViolation", oe.FormatViolationError),
]


@pytest.mark.parametrize(("version", "sent_code", "cp_code", "exc_class"), CALLERROR_CASES)
async def test_backend_callerror_raises_mapped_exception_er03(
        version: str, sent_code: str, cp_code: str, exc_class: type[Exception],
        make_gateway: Any, backend: Any, csms: Any) -> None:
    """ER-03 / MID-03: a CALLERROR published by the backend for a CP CALL reaches the CP as a
    CALLERROR with the same id, the version's spelling of the code, the description and details;
    the ChargePoint raises the mapped exception."""
    gw = await make_gateway()
    cid = f"py-err-{version}-{cp_code}"
    details = {"hint": "heartbeat is handled elsewhere"}

    def refuse(msg: dict[str, Any]) -> dict[str, Any]:
        return {"MessageTypeId": 4, "UniqueId": msg["UniqueId"], "ErrorCode": sent_code,
                "ErrorDescription": "Heartbeat not supported here", "ErrorDetails": details}

    csms(gw, cid, refuse)
    async with connected(CP_CLASS[version], gw, backend, cid, version) as cp:
        with pytest.raises(exc_class) as raised:
            await cp.call(MODULES[version].call.Heartbeat(), suppress=False, unique_id="hb-err")
        error: Any = raised.value
        assert error.code == cp_code
        assert error.description == "Heartbeat not supported here"
        assert error.details == details

        ack = await backend.wait_for(gw.prefix + f"cs/{cid}/Ack", WAIT,
                                     where=lambda m: m["UniqueId"] == "hb-err")
        assert ack["Status"] == "sent"
        assert ack["MessageTypeId"] == 4


# ---- backend-initiated CALLs handled by @on handlers ----------------------------------------

# (version, action, MQTT payload, expected handler kwargs, expected CALLRESULT payload)
BACKEND_CALLS = [
    ("1.6", "GetConfiguration", {"key": ["HeartbeatInterval", "NoSuchKey"]},
     {"key": ["HeartbeatInterval", "NoSuchKey"]},
     {"configurationKey": [CONFIG_KEY], "unknownKey": ["NoSuchKey"]}),
    ("1.6", "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"},
     {"connector_id": 1, "type": "Inoperative"}, {"status": "Scheduled"}),
    ("2.0.1", "GetVariables",
     {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                           "variable": {"name": "HeartbeatInterval"}}]},
     {"get_variable_data": [{"component": {"name": "OCPPCommCtrlr"},
                             "variable": {"name": "HeartbeatInterval"}}]},
     {"getVariableResult": [GET_VARIABLE_RESULT]}),
    ("2.0.1", "ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}},
     {"operational_status": "Inoperative", "evse": {"id": 1}}, {"status": "Scheduled"}),
    ("2.1", "GetVariables",
     {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                           "variable": {"name": "HeartbeatInterval"}}]},
     {"get_variable_data": [{"component": {"name": "OCPPCommCtrlr"},
                             "variable": {"name": "HeartbeatInterval"}}]},
     {"getVariableResult": [GET_VARIABLE_RESULT]}),
    ("2.1", "ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}},
     {"operational_status": "Inoperative", "evse": {"id": 1}}, {"status": "Scheduled"}),
]


@pytest.mark.parametrize(("version", "action", "payload", "kwargs", "result"), BACKEND_CALLS,
                         ids=[f"{c[0]}-{c[1]}" for c in BACKEND_CALLS])
async def test_backend_call_answered_by_on_handler_fr10(
        version: str, action: str, payload: dict[str, Any], kwargs: dict[str, Any],
        result: dict[str, Any], make_gateway: Any, backend: Any) -> None:
    """FR-10 / LC-03: a CALL published on `cs/{cid}` reaches the CP's @on handler; its CALLRESULT
    is published on `cp/{cid}/Reply` with the originating Action attached, and the ack topic
    reports `sent`, then `answered`."""
    gw = await make_gateway()
    cid = f"py-cmd-{version}-{action}"
    uid = f"cs-{action}"
    async with connected(CP_CLASS[version], gw, backend, cid, version) as cp:
        backend.publish(gw.prefix + f"cs/{cid}", {"MessageTypeId": 2, "UniqueId": uid,
                                                  "Action": action, "Payload": payload})
        reply = await backend.wait_for(gw.prefix + f"cp/{cid}/Reply", WAIT,
                                       where=lambda m: m["UniqueId"] == uid)
        assert reply["MessageTypeId"] == 3
        assert reply["Action"] == action
        assert reply["Payload"] == result
        assert cp.handled == [(action, kwargs)]

        ack_topic = gw.prefix + f"cs/{cid}/Ack"
        sent = await backend.wait_for(ack_topic, WAIT, where=lambda m: m["Status"] == "sent")
        answered = await backend.wait_for(ack_topic, WAIT,
                                          where=lambda m: m["Status"] == "answered")
        for ack in (sent, answered):
            assert ack["UniqueId"] == uid
            assert ack["Action"] == action
            assert ack["MessageTypeId"] == 2
        assert answered["ReplyMessageTypeId"] == 3


async def test_v21_library_silence_reported_as_timeout_then_queue_advances_sy03(
        make_gateway: Any, backend: Any) -> None:
    """SY-03 / SY-01, with the `ocpp` library's 2.1 quirk (§12): it never answers an action it
    has no handler for. The gateway reports `timeout` on the ack topic after call_timeout and
    only then sends the CALL queued behind it, which the CP answers."""
    gw = await make_gateway(call_timeout=1.0)
    cid = "py-timeout-21"
    ack_topic = gw.prefix + f"cs/{cid}/Ack"
    async with connected(CP_CLASS["2.1"], gw, backend, cid, "2.1") as cp:
        down = gw.prefix + f"cs/{cid}"
        backend.publish(down, {"MessageTypeId": 2, "UniqueId": "reset-1", "Action": "Reset",
                               "Payload": {"type": "Immediate"}})
        backend.publish(down, {"MessageTypeId": 2, "UniqueId": "avail-2",
                               "Action": "ChangeAvailability",
                               "Payload": {"operationalStatus": "Operative"}})
        timeout = await backend.wait_for(ack_topic, WAIT,
                                         where=lambda m: m["UniqueId"] == "reset-1"
                                         and m["Status"] != "sent")
        assert timeout["Status"] == "timeout"
        assert timeout["Action"] == "Reset"
        reply = await backend.wait_for(gw.prefix + f"cp/{cid}/Reply", WAIT,
                                       where=lambda m: m["UniqueId"] == "avail-2")
        assert reply["Action"] == "ChangeAvailability"
        assert reply["Payload"] == {"status": "Scheduled"}
        # SY-01: ChangeAvailability was held back until Reset ended, so it is the only handled one.
        assert cp.handled == [("ChangeAvailability", {"operational_status": "Operative"})]


async def test_presence_and_events_escaped_identity_lc02_id03(make_gateway: Any,
                                                              backend: Any) -> None:
    """LC-02 / ID-03: a 2.0.1 identity with `+` appears escaped (`%2B`) in every topic; presence
    is retained online, then offline after the CP closes, with connected/disconnected events;
    a command on the escaped downstream topic reaches the CP."""
    gw = await make_gateway()
    identity = "PY+201"
    level = "PY%2B201"
    async with connected(CP_CLASS["2.0.1"], gw, backend, identity, "2.0.1") as cp:
        connected_event = await backend.wait_for(gw.prefix + f"events/{level}/connected", WAIT)
        assert connected_event["clientid"] == identity
        assert connected_event["proto_ver"] == "2.0.1"
        backend.publish(gw.prefix + f"cs/{level}", {
            "MessageTypeId": 2, "UniqueId": "esc-1", "Action": "ChangeAvailability",
            "Payload": {"operationalStatus": "Operative"}})
        reply = await backend.wait_for(gw.prefix + f"cp/{level}/Reply", WAIT)
        assert reply["UniqueId"] == "esc-1"
        assert cp.handled == [("ChangeAvailability", {"operational_status": "Operative"})]

    presence_topic = gw.prefix + f"presence/{level}"
    offline = await backend.wait_for(presence_topic, WAIT,
                                     where=lambda m: m["status"] == "offline")
    assert offline["clientid"] == identity
    disconnected = await backend.wait_for(gw.prefix + f"events/{level}/disconnected", WAIT)
    assert disconnected["clientid"] == identity
    assert disconnected["reason"]
    # Retained: a subscriber arriving now still learns the CP is offline.
    backend.messages.clear()
    await backend.subscribe(presence_topic)
    retained = await backend.wait_for(presence_topic, WAIT)
    assert retained["status"] == "offline"
    assert retained["clientid"] == identity

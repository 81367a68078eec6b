"""The simulator is not tied to the gateway: a small CSMS written with the python `ocpp`
package's server side, and a raw WebSocket server that checks the OCPP-J rules the simulated
charge points must keep (SY-01, ER-04, ER-07) and the back-off after refused handshakes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from ocpp import v16, v201
from ocpp.routing import on
from websockets.asyncio.server import ServerConnection, serve

from ocpp_mqtt.ocppj.versions import Version
from ocpp_mqtt.simulate.link import basic_auth
from ocpp_mqtt.simulate.options import Span
from tests.conftest import free_port

from .simkit import simulate
from .wsutil import ws_server


def now() -> str:
    return datetime.now(UTC).isoformat()


class Csms16(v16.ChargePoint):  # type: ignore[misc]
    started: asyncio.Queue[dict[str, Any]]

    @on("BootNotification")  # type: ignore[untyped-decorator]
    def boot(self, **_: Any) -> Any:
        return v16.call_result.BootNotification(current_time=now(), interval=30,
                                                status="Accepted")

    @on("Heartbeat")  # type: ignore[untyped-decorator]
    def heartbeat(self) -> Any:
        return v16.call_result.Heartbeat(current_time=now())

    @on("StatusNotification")  # type: ignore[untyped-decorator]
    def status(self, **_: Any) -> Any:
        return v16.call_result.StatusNotification()

    @on("StartTransaction")  # type: ignore[untyped-decorator]
    def start_tx(self, connector_id: int, id_tag: str, **_: Any) -> Any:
        self.started.put_nowait({"connector": connector_id, "id_tag": id_tag})
        return v16.call_result.StartTransaction(transaction_id=77,
                                                id_tag_info={"status": "Accepted"})

    @on("MeterValues")  # type: ignore[untyped-decorator]
    def meter(self, **_: Any) -> Any:
        return v16.call_result.MeterValues()

    @on("StopTransaction")  # type: ignore[untyped-decorator]
    def stop_tx(self, **_: Any) -> Any:
        return v16.call_result.StopTransaction()


class Csms201(v201.ChargePoint):  # type: ignore[misc]
    started: asyncio.Queue[dict[str, Any]]

    @on("BootNotification")  # type: ignore[untyped-decorator]
    def boot(self, **_: Any) -> Any:
        return v201.call_result.BootNotification(current_time=now(), interval=30,
                                                 status="Accepted")

    @on("Heartbeat")  # type: ignore[untyped-decorator]
    def heartbeat(self) -> Any:
        return v201.call_result.Heartbeat(current_time=now())

    @on("StatusNotification")  # type: ignore[untyped-decorator]
    def status(self, **_: Any) -> Any:
        return v201.call_result.StatusNotification()

    @on("TransactionEvent")  # type: ignore[untyped-decorator]
    def event(self, event_type: str, transaction_info: dict[str, Any], **kw: Any) -> Any:
        if event_type == "Started":
            self.started.put_nowait({"info": transaction_info, "trigger": kw["trigger_reason"]})
        return v201.call_result.TransactionEvent()


async def test_against_a_python_ocpp_csms() -> None:
    """Boot, status, heartbeat interval, configuration read and a remote start driven by a
    CSMS built on the python `ocpp` package (1.6 and 2.0.1)."""
    port = free_port()
    csms: dict[str, Any] = {}
    started: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def handler(connection: ServerConnection) -> None:
        assert connection.request is not None
        identity = connection.request.path.rsplit("/", 1)[1]
        cls = Csms16 if connection.subprotocol == "ocpp1.6" else Csms201
        cp = cls(identity, connection)
        cp.started = started
        csms[identity] = cp
        await cp.start()

    server = serve(handler, "127.0.0.1", port,
                   subprotocols=["ocpp1.6", "ocpp2.0.1"])  # type: ignore[list-item]
    async with server, simulate(f"ws://127.0.0.1:{port}/csms", count=2,
                                versions=(Version.V16, Version.V201),
                                tx_pause=Span(3600, 3600)) as sim:
        await sim.until(lambda: all(cp.online.is_set() for cp in sim.fleet.charge_points),
                        10, "booted at the python ocpp CSMS")
        conf = await csms["SIM0001"].call(v16.call.GetConfiguration(
            key=["HeartbeatInterval", "NoSuchKey"]))
        assert conf.configuration_key == [{"key": "HeartbeatInterval", "readonly": False,
                                           "value": "30"}]  # the Boot answer's interval
        assert conf.unknown_key == ["NoSuchKey"]
        result = await csms["SIM0001"].call(v16.call.RemoteStartTransaction(
            id_tag="CSMS1", connector_id=1))
        assert result.status == "Accepted"
        assert await asyncio.wait_for(started.get(), 5) == {"connector": 1,
                                                            "id_tag": "CSMS1"}
        variables = await csms["SIM0002"].call(v201.call.GetVariables(get_variable_data=[
            {"component": {"name": "OCPPCommCtrlr"},
             "variable": {"name": "HeartbeatInterval"}}]))
        assert variables.get_variable_result[0]["attribute_value"] == "30"
        result = await csms["SIM0002"].call(v201.call.RequestStartTransaction(
            id_token={"id_token": "CSMS2", "type": "Central"}, remote_start_id=5))
        assert result.status == "Accepted"
        event = await asyncio.wait_for(started.get(), 5)
        assert event["trigger"] == "RemoteStart"
        assert event["info"]["remote_start_id"] == 5
        sim.stop.set()
        summary = await sim.summary()
    assert summary["total"]["boots"] == 2 and summary["total"]["callerrors_received"] == 0
    assert summary["total"]["transactions_ended"] == 2  # ended by the stop


async def test_ocpp_j_rules_against_a_raw_server() -> None:
    """SY-01: the next CALL waits for the answer to the previous one. ER-04: an unknown action
    gets NotImplemented, a CALL of a charge point action NotSupported. ER-07: an invalid payload
    gets the version's code, in its spelling (ER-03). SY-06: an unknown CALLRESULT is not
    answered. A refused handshake (HTTP 401) is retried with back-off."""
    port = free_port()
    seen: list[list[Any]] = []
    replies: dict[str, list[Any]] = {}
    refused = 0

    async def ws_handler(request: web.Request) -> web.StreamResponse:
        nonlocal refused
        # security profile 1: HTTP Basic, the identity as the user (SEC rules)
        assert request.headers.get("Authorization") == basic_auth("SIM0001", "secret")
        if refused < 2:
            refused += 1
            return web.Response(status=401, text="who are you")
        ws = web.WebSocketResponse(protocols=("ocpp1.6",))
        await ws.prepare(request)
        boot = orjson.loads((await ws.receive()).data)
        assert boot[2] == "BootNotification"
        # hold the Boot answer: SY-01 says nothing else may come meanwhile
        for frame in ([2, "c1", "FooBar", {}], [2, "c2", "Heartbeat", {}],
                      [2, "c3", "ChangeConfiguration", {"key": 5}],
                      [3, "no-such-id", {}], [2, "c4", "ReserveNow", {
                          "connectorId": 1, "expiryDate": now(), "idTag": "T",
                          "reservationId": 1}]):
            await ws.send_str(orjson.dumps(frame).decode())
        deadline = asyncio.get_running_loop().time() + 3
        while len(replies) < 4 and asyncio.get_running_loop().time() < deadline:
            msg = await ws.receive(timeout=3)
            frame = orjson.loads(msg.data)
            if frame[0] == 2:
                seen.append(frame)
            else:
                replies[frame[1]] = frame
        await asyncio.sleep(0.3)
        early = list(seen)
        await ws.send_str(orjson.dumps([3, boot[1], {"status": "Accepted", "interval": 60,
                                                     "currentTime": now()}]).decode())
        msg = await ws.receive(timeout=3)
        seen.append(orjson.loads(msg.data))
        replies["early"] = early
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                frame = orjson.loads(msg.data)
                if frame[0] == 2:
                    await ws.send_str(orjson.dumps([3, frame[1], {}]).decode())
        return ws

    async with ws_server(ws_handler, port), simulate(
            f"ws://127.0.0.1:{port}/ocpp", count=1, versions=(Version.V16,),
            tx_pause=Span(3600, 3600), password="secret") as sim:
        # stop only once the charge point has its StatusNotification answered too: the
        # server seeing it is not enough (the "reported" event would race the stop)
        await sim.until(lambda: "early" in replies and len(seen) >= 1
                        and any(e[1] == "reported" for e in sim.events), 15,
                        "the raw server's script")
        sim.stop.set()
        summary = await sim.summary()
    assert replies["early"] == [], "no CALL while the BootNotification is unanswered (SY-01)"
    assert seen[0][2] == "StatusNotification"
    assert replies["c1"][:3] == [4, "c1", "NotImplemented"]
    assert replies["c2"][:3] == [4, "c2", "NotSupported"]
    # a required field missing, in the 1.6 spelling (ER-03)
    assert replies["c3"][:3] == [4, "c3", "OccurenceConstraintViolation"]
    assert replies["c4"][:3] == [4, "c4", "NotSupported"]
    assert "no-such-id" not in replies  # SY-06
    total = summary["total"]
    assert total["connect_errors"] == {"HTTP 401": 2} and total["boots"] == 1
    assert [e[1:] for e in sim.events] == [
        ("connect_failed", "HTTP 401"), ("connect_failed", "HTTP 401"), ("connected", ""),
        ("booted", ""), ("reported", ""), ("disconnected", "")]
    assert total["callerrors_sent"] == 4 and total["calls_received"] == 4

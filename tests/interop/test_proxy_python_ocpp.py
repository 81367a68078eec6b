"""Interop, proxy mode: the PyPI `ocpp` package on both ends. Its central system (a
`ChargePoint` on a `websockets` server) is the upstream CSMS; its charge point connects to the
gateway. The CSMS keeps working through the gateway while MQTT injects a command (MID-06)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import websockets
from ocpp import v16, v201
from ocpp.routing import on

from tests.conftest import Backend, free_port

from .conftest import NOW, WAIT


class Csms16(v16.ChargePoint):  # type: ignore[misc]
    """The central system's end of one connection."""

    booted: ClassVar[list[str]] = []

    @on("BootNotification")
    async def boot(self, charge_point_vendor: str, **kw: Any) -> Any:
        self.booted.append(charge_point_vendor)
        return v16.call_result.BootNotification(current_time=NOW, interval=300,
                                                status="Accepted")

    @on("Heartbeat")
    async def heartbeat(self) -> Any:
        return v16.call_result.Heartbeat(current_time=NOW)


class Csms201(v201.ChargePoint):  # type: ignore[misc]
    @on("BootNotification")
    async def boot(self, charging_station: dict[str, Any], reason: str, **kw: Any) -> Any:
        return v201.call_result.BootNotification(current_time=NOW, interval=300,
                                                 status="Accepted")


class Charger16(v16.ChargePoint):  # type: ignore[misc]
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.remote_starts: list[str] = []

    @on("GetConfiguration")
    async def get_configuration(self, **kw: Any) -> Any:
        return v16.call_result.GetConfiguration(configuration_key=[
            {"key": "HeartbeatInterval", "readonly": False, "value": "300"}])

    @on("RemoteStartTransaction")
    async def remote_start(self, id_tag: str, **kw: Any) -> Any:
        self.remote_starts.append(id_tag)
        return v16.call_result.RemoteStartTransaction(status="Accepted")


@contextlib.asynccontextmanager
async def python_ocpp_csms() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A python-ocpp central system; yields its URL template and its connections by id."""
    port = free_port()
    sessions: dict[str, Any] = {}

    async def handler(ws: Any) -> None:
        identity = ws.request.path.rsplit("/", 1)[-1]
        cls = Csms16 if ws.subprotocol == "ocpp1.6" else Csms201
        cp = sessions[identity] = cls(identity, ws, response_timeout=WAIT)
        with contextlib.suppress(websockets.ConnectionClosed):
            await cp.start()

    async with websockets.serve(handler, "127.0.0.1", port,
                                subprotocols=["ocpp1.6", "ocpp2.0.1"]):  # type: ignore[list-item]
        yield f"ws://127.0.0.1:{port}/ocpp/{{cid}}", sessions


@contextlib.asynccontextmanager
async def charger(cls: type, url: str, identity: str, protocol: str) -> AsyncIterator[Any]:
    ws = await websockets.connect(url, subprotocols=[protocol],  # type: ignore[list-item]
                                  open_timeout=WAIT)
    cp = cls(identity, ws, response_timeout=WAIT)
    reader = asyncio.get_running_loop().create_task(cp.start())
    try:
        yield cp
    finally:
        await ws.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def test_python_ocpp_on_both_ends_16(make_gateway: Any, backend: Backend) -> None:
    async with python_ocpp_csms() as (url, sessions):
        gw = await make_gateway(mode="proxy", upstream=url)
        await backend.subscribe(gw.prefix + "#")
        async with charger(Charger16, gw.url("PY1"), "PY1", "ocpp1.6") as cp:
            boot = await cp.call(v16.call.BootNotification(charge_point_model="M",
                                                           charge_point_vendor="Vendor-Y"))
            assert boot.status == "Accepted" and Csms16.booted[-1] == "Vendor-Y"
            # the CSMS's own command reaches the charger and its answer comes back
            config = await sessions["PY1"].call(v16.call.GetConfiguration())
            assert config.configuration_key[0]["key"] == "HeartbeatInterval"
            # MQTT injects a remote start; the charger answers it to MQTT only (MID-06)
            backend.publish(gw.prefix + "cs/PY1", {
                "MessageTypeId": 2, "UniqueId": "ha-start", "Action": "RemoteStartTransaction",
                "Payload": {"idTag": "HOME"}})
            result = await backend.wait_for(gw.prefix + "cp/PY1/Reply", WAIT,
                                            where=lambda b: b["UniqueId"] == "ha-start")
            assert result["Payload"] == {"status": "Accepted"}
            assert cp.remote_starts == ["HOME"]
            heartbeat = await cp.call(v16.call.Heartbeat())  # the CSMS still answers
            assert heartbeat.current_time == NOW


async def test_python_ocpp_on_both_ends_201(make_gateway: Any) -> None:
    async with python_ocpp_csms() as (url, _sessions):
        gw = await make_gateway(mode="proxy", upstream=url)
        async with charger(v201.ChargePoint, gw.url("PY2"), "PY2", "ocpp2.0.1") as cp:
            boot = await cp.call(v201.call.BootNotification(
                charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"))
            assert boot.status == "Accepted" and boot.interval == 300

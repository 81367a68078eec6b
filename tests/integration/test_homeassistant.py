"""Home Assistant discovery against a real Mosquitto, with the python `ocpp` package's 1.6
ChargePoint as the charger: what Home Assistant would read (retained device configs, the state
topics they name) and what it would do (press the charge switch, say `online` at its birth)."""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from ocpp import v16
from ocpp.routing import on

from tests.conftest import Backend, Mosquitto

from .ocpp_client import running

WAIT = 5.0
NOW = "2026-01-01T10:00:00Z"
_runs = itertools.count(1)


class Charger(v16.ChargePoint):  # type: ignore[misc]
    """A 1.6 charge point that accepts remote starts and remembers them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.remote_starts: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @on("RemoteStartTransaction")
    def on_remote_start(self, **kwargs: Any) -> Any:
        self.remote_starts.put_nowait(kwargs)
        return v16.call_result.RemoteStartTransaction(status="Accepted")


def charger(url: str, identity: str) -> Any:
    return running(Charger, url, identity)


@pytest.fixture
async def ha_gateway(make_gateway: Any, tmp_path: Path) -> Any:
    run = next(_runs)
    prefix = f"t{os.getpid()}ha{run}/"
    ha = f"ha{os.getpid()}x{run}"  # a discovery prefix of this test's own
    gw = await make_gateway(mode="central", prefix=prefix, store=str(tmp_path / "gw.sqlite3"),
                            trigger_after_connect=0, ha_discovery_prefix=ha,
                            ha_status_topic=f"{ha}/status")
    return gw, ha


def has(name: str) -> Any:
    return lambda config: bool(config) and name in config["components"]


async def test_discovery_birth_switch_energy_and_removal(ha_gateway: Any, backend: Backend,
                                                         mosquitto: Mosquitto) -> None:
    gw, ha = ha_gateway
    await backend.subscribe(f"{ha}/#")
    await backend.subscribe(gw.prefix + "#")
    topic = f"{ha}/device/ocpp_cp_CP1/config"
    # the gateway's own device, which each charge point names as via_device
    gateway = await backend.wait_for(f"{ha}/device/ocpp_gw_test-gw/config", WAIT)
    assert gateway["device"]["identifiers"] == ["ocpp_gw_test-gw"]

    async with charger(gw.url("CP1"), "CP1") as cp:
        await cp.call(v16.call.BootNotification(charge_point_model="M1",
                                                charge_point_vendor="VendorX",
                                                firmware_version="1.0"))
        await cp.call(v16.call.StatusNotification(connector_id=1, error_code="NoError",
                                                  status="Available"))
        config = await backend.wait_for(topic, WAIT, where=has("ocpp_cp1_energy_CP1"))
        assert config["device"]["manufacturer"] == "VendorX"
        assert config["device"]["via_device"] == "ocpp_gw_test-gw"
        components = config["components"]
        energy, charge = components["ocpp_cp1_energy_CP1"], components["ocpp_cp1_charge_CP1"]
        assert energy["state_topic"] == gw.prefix + "state/CP1/1/energy_kwh"

        # retained: a Home Assistant that starts now still finds the charger and its presence
        late = await Backend(mosquitto.port).connect()
        try:
            await late.subscribe(topic)
            payload, props = await late.wait_raw(topic, WAIT)
            assert props.get("retain") and orjson.loads(payload)["components"] == components
            online = config["availability"][1]["topic"]
            await late.subscribe(online)
            payload, props = await late.wait_raw(online, WAIT)
            assert payload == b"true" and props.get("retain")
        finally:
            await late.close()

        # Home Assistant's birth message: every config again, unchanged
        backend.messages.clear()
        backend.publish(f"{ha}/status", b"online", qos=1)
        assert (await backend.wait_for(topic, WAIT))["components"] == components
        await backend.wait_for(f"{ha}/device/ocpp_gw_test-gw/config", WAIT)
        backend.publish(f"{ha}/status", b"offline", qos=1)
        await backend.silence(topic, 0.5)

        # the charge switch: HA publishes payload_on to the command topic
        backend.publish(charge["command_topic"], charge["payload_on"].encode(), qos=1)
        start = await asyncio.wait_for(cp.remote_starts.get(), WAIT)
        assert start["connector_id"] == 1 and start["id_tag"]
        result = await backend.wait_for(gw.prefix + "cmd/CP1/result", WAIT)
        assert result["id"] == "set/1/charging" and result["status"] == "answered"

        # the energy sensor's state topic carries the meter register in kWh
        await cp.call(v16.call.MeterValues(connector_id=1, meter_value=[{
            "timestamp": NOW, "sampled_value": [
                {"value": "12345", "measurand": "Energy.Active.Import.Register",
                 "unit": "Wh"}]}]))
        payload, _ = await backend.wait_raw(energy["state_topic"], WAIT)
        assert float(payload) == pytest.approx(12.345)
        # a meter value changes no config
        await backend.silence(topic, 0.5)

    # deleted from the gateway: its device config is removed (an empty retained message)
    await backend.wait_for(gw.prefix + "state/CP1/online", WAIT, where=lambda v: v is False)
    assert gw.gateway.central.remove("CP1")
    payload, _ = await backend.wait_raw(topic, WAIT)
    assert payload == b""
    fresh = await Backend(mosquitto.port).connect()
    try:
        await fresh.subscribe(topic)
        await fresh.silence(topic, 0.5)  # nothing retained any more
    finally:
        await fresh.close()


async def test_second_connector_makes_connector_devices(ha_gateway: Any,
                                                        backend: Backend) -> None:
    gw, ha = ha_gateway
    await backend.subscribe(f"{ha}/#")
    async with charger(gw.url("Dual"), "Dual") as cp:
        await cp.call(v16.call.BootNotification(charge_point_model="Twin",
                                                charge_point_vendor="VendorX"))
        for connector in (0, 1, 2):
            await cp.call(v16.call.StatusNotification(connector_id=connector,
                                                      error_code="NoError",
                                                      status="Available"))
        first = await backend.wait_for(f"{ha}/device/ocpp_c1_Dual/config", WAIT)
        second = await backend.wait_for(f"{ha}/device/ocpp_c2_Dual/config", WAIT)
        main = await backend.wait_for(f"{ha}/device/ocpp_cp_Dual/config", WAIT,
                                      where=has("ocpp_cp_currentlimit_Dual"))
    for n, config in ((1, first), (2, second)):
        assert config["device"]["via_device"] == "ocpp_cp_Dual"
        energy = config["components"][f"ocpp_c{n}_energy_Dual"]
        assert energy["state_topic"] == gw.prefix + f"state/Dual/{n}/energy_kwh"
    # settled before publishing: never shown as a single-outlet charger
    mains = [main, *(orjson.loads(p) for t, p, _ in backend.messages
                     if t == f"{ha}/device/ocpp_cp_Dual/config")]
    assert all(set(c) == {"platform"} for config in mains
               for k, c in config["components"].items() if k.startswith("ocpp_cp1_"))

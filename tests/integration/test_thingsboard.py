"""ThingsBoard gateway API profile against real brokers: a second Mosquitto plays ThingsBoard
(`thingsboard_url = mqtt://TOKEN@127.0.0.1:<port>`), the python `ocpp` package's 1.6
ChargePoint is the charger, and a plain MQTT client subscribed to `v1/gateway/#` is ThingsBoard's
side.

The stand-in's ACL lets only the gateway's token and the observer touch `v1/gateway/#`, so a
gateway that logged in with anything but the token as its username gets nothing through (what
ThingsBoard itself does with a wrong token: it refuses the connection; that refusal is not
reproduced here, only that the username is the token).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gmqtt.mqtt.constants import MQTTv311
from ocpp import v16
from ocpp.routing import on

from tests.conftest import Backend, Mosquitto
from tests.readme_examples import block_after, json_objects

from .ocpp_client import running
from .tcpproxy import TcpProxy

TOKEN = "A1b2C3d4TOKEN"
WAIT = 5.0


class ThingsBoardStandIn(Mosquitto):
    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        acl = workdir / "acl"
        acl.write_text(f"user {TOKEN}\ntopic readwrite v1/gateway/#\n\n"
                       "user observer\ntopic readwrite v1/gateway/#\n")
        self.conf.write_text(
            "user root\n"
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            f"acl_file {acl}\n"
            "set_tcp_nodelay true\n"
            "persistence false\n")


@pytest.fixture
def tb(tmp_path: Path) -> Iterator[ThingsBoardStandIn]:
    broker = ThingsBoardStandIn(tmp_path)
    broker.start()
    yield broker
    broker.stop()


async def observer(port: int) -> Backend:
    client = Backend(port, MQTTv311)
    client.client.set_auth_credentials("observer", None)
    await client.connect()
    await client.subscribe("v1/gateway/#")
    return client


@pytest.fixture
async def central_tb(make_gateway: Any, tmp_path: Path) -> Any:
    async def start(tb_port: int, **overrides: Any) -> Any:
        values: dict[str, Any] = {
            "mode": "central", "store": str(tmp_path / "gw.sqlite3"),
            "trigger_after_connect": 0, "profiles": "emqx,native,thingsboard",
            "thingsboard_url": f"mqtt://{TOKEN}@127.0.0.1:{tb_port}",
            "mqtt_reconnect_min": 0.2, "mqtt_reconnect_max": 1.0}
        values.update(overrides)
        return await make_gateway(**values)
    return start


class Cp16(v16.ChargePoint):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handled: list[tuple[str, dict[str, Any]]] = []

    @on("RemoteStartTransaction")
    def on_remote_start(self, **kwargs: Any) -> Any:
        self.handled.append(("RemoteStartTransaction", kwargs))
        return v16.call_result.RemoteStartTransaction(status="Accepted")

    @on("ChangeConfiguration")
    def on_change_configuration(self, **kwargs: Any) -> Any:
        self.handled.append(("ChangeConfiguration", kwargs))
        return v16.call_result.ChangeConfiguration(status="Rejected")


def charge_point(gw: Any, identity: str) -> Any:
    return running(Cp16, gw.url(identity), identity)


async def boot(cp: Cp16) -> None:
    await cp.call(v16.call.BootNotification(charge_point_vendor="VendorTB",
                                            charge_point_model="ModelTB",
                                            firmware_version="4.2"))
    await cp.call(v16.call.StatusNotification(connector_id=1, error_code="NoError",
                                              status="Available"))


def telemetry_with(device: str, key: str) -> Any:
    def match(body: Any) -> bool:
        entries = body.get(device) or []
        return any(key in e or key in e.get("values", {}) for e in entries)
    return match


async def attributes_until(tbside: Backend, device: str, key: str) -> dict[str, Any]:
    """Client attributes go out as they change: merge the messages until `key` came."""
    merged: dict[str, Any] = {}
    while key not in merged:
        merged.update((await tbside.wait_for("v1/gateway/attributes", WAIT))[device])
    return merged


def values_of(body: Any, device: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for entry in body[device]:
        out.update(entry.get("values", entry))
    return out


async def test_rig_refuses_a_client_without_the_token(tb: ThingsBoardStandIn) -> None:
    """The check below can fail: an anonymous publisher gets nothing through."""
    watcher = await observer(tb.port)
    intruder = Backend(tb.port, MQTTv311)
    await intruder.connect()
    try:
        intruder.publish("v1/gateway/connect", {"device": "X"}, qos=1)
        await watcher.silence("v1/gateway/connect", 0.5)
    finally:
        await intruder.close()
        await watcher.close()


async def test_devices_telemetry_and_rpc_through_thingsboard(
        tb: ThingsBoardStandIn, central_tb: Any) -> None:
    gw = await central_tb(tb.port)
    tbside = await observer(tb.port)
    identity = "TB-CP1"
    try:
        async with charge_point(gw, identity) as cp:
            assert await tbside.wait_for("v1/gateway/connect", WAIT) == {
                "device": identity, "type": "default"}
            await boot(cp)
            attrs = await attributes_until(tbside, identity, "vendor")
            assert attrs["vendor"] == "VendorTB" and attrs["model"] == "ModelTB"
            assert attrs["firmwareVersion"] == "4.2" and attrs["registration"] == "Accepted"
            assert attrs["ocppVersion"] == "1.6" and attrs["gateway"] == "test-gw"
            status = await tbside.wait_for("v1/gateway/telemetry", WAIT,
                                           where=telemetry_with(identity, "status"))
            assert values_of(status, identity)["status"] == "Available"
            await cp.call(v16.call.MeterValues(connector_id=1, meter_value=[{
                "timestamp": "2023-11-14T22:13:20Z", "sampled_value": [
                    {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                    {"value": "12345", "measurand": "Energy.Active.Import.Register",
                     "unit": "Wh"}]}]))
            readings = await tbside.wait_for("v1/gateway/telemetry", WAIT,
                                             where=telemetry_with(identity, "power"))
            assert readings[identity] == [{"ts": 1700000000000,
                                           "values": {"energy": 12.345, "power": 7200}}]

            # RPC: an alias, an ocpp.<Action>, an unknown device
            tbside.publish("v1/gateway/rpc", {"device": identity, "data": {
                "id": 41, "method": "remoteStart",
                "params": {"connectorId": 1, "idTag": "TAG1"}}}, qos=1)
            reply = await tbside.wait_for("v1/gateway/rpc", WAIT,
                                          where=lambda b: b.get("id") == 41)
            # the README's example reply (section "RPC: commands from ThingsBoard")
            readme_reply = json_objects(block_after("RPC: commands from ThingsBoard",
                                                    "the command result:"))[0]
            assert reply == {"device": identity, "id": 41, "data": readme_reply}
            assert cp.handled[0] == ("RemoteStartTransaction",
                                     {"connector_id": 1, "id_tag": "TAG1"})

            tbside.publish("v1/gateway/rpc", {"device": identity, "data": {
                "id": 42, "method": "ocpp.ChangeConfiguration",
                "params": {"key": "MeterValueSampleInterval", "value": "30"}}}, qos=1)
            reply = await tbside.wait_for("v1/gateway/rpc", WAIT,
                                          where=lambda b: b.get("id") == 42)
            assert reply["data"]["status"] == "answered"
            assert reply["data"]["result"] == {"status": "Rejected"}
            assert cp.handled[1] == ("ChangeConfiguration",
                                     {"key": "MeterValueSampleInterval", "value": "30"})

            tbside.publish("v1/gateway/rpc", {"device": "nobody", "data": {
                "id": 43, "method": "reset", "params": "hard"}}, qos=1)
            reply = await tbside.wait_for("v1/gateway/rpc", WAIT,
                                          where=lambda b: b.get("id") == 43)
            assert reply["device"] == "nobody" and reply["data"]["status"] == "invalid"
            assert len(cp.handled) == 2

        off = await tbside.wait_for(
            "v1/gateway/telemetry", WAIT,
            where=lambda b: values_of(b, identity).get("online") is False)
        # power reads 0 once the charge point is gone: with ThingsBoard's time, not the
        # reading's (which would overwrite the 7.2 kW recorded then)
        assert off == {identity: [{"online": False, "power": 0.0}]}
        assert await tbside.wait_for("v1/gateway/disconnect", WAIT) == {"device": identity}
    finally:
        await tbside.close()


async def test_reconnect_to_thingsboard_announces_charge_points_again(
        tb: ThingsBoardStandIn, central_tb: Any) -> None:
    proxy = await TcpProxy(tb.port).start()
    gw = await central_tb(proxy.port)
    tbside = await observer(tb.port)
    identity = "TB-CP2"
    try:
        async with charge_point(gw, identity) as cp:
            await boot(cp)
            await tbside.wait_for("v1/gateway/telemetry", WAIT,
                                  where=telemetry_with(identity, "status"))
            tbside.messages.clear()
            # the connection to ThingsBoard breaks: ThingsBoard drops the devices' sessions
            proxy.cut()
            proxy.restore()
            assert await tbside.wait_for("v1/gateway/connect", WAIT) == {
                "device": identity, "type": "default"}
            attrs = await tbside.wait_for("v1/gateway/attributes", WAIT)
            assert attrs[identity]["vendor"] == "VendorTB"
            # (a publish whose PUBACK the cut lost is sent again first: skip such repeats)
            latest = values_of(await tbside.wait_for(
                "v1/gateway/telemetry", WAIT,
                where=lambda b: "online" in values_of(b, identity)), identity)
            assert latest["status"] == "Available" and latest["online"] is True
    finally:
        await tbside.close()
        await proxy.close()


async def test_thingsboard_down_at_start_does_not_stop_the_gateway(
        tb: ThingsBoardStandIn, central_tb: Any) -> None:
    proxy = TcpProxy(tb.port)  # not started: ThingsBoard is unreachable
    gw = await central_tb(proxy.port)
    tbside = await observer(tb.port)
    identity = "TB-CP3"
    try:
        async with charge_point(gw, identity) as cp:
            await boot(cp)  # charge points are served meanwhile
            await tbside.silence("v1/gateway/connect", 0.3)
            await proxy.start()
            assert await tbside.wait_for("v1/gateway/connect", WAIT) == {
                "device": identity, "type": "default"}
            status = values_of(await tbside.wait_for("v1/gateway/telemetry", WAIT), identity)
            assert status["status"] == "Available" and status["online"] is True
    finally:
        await tbside.close()
        await proxy.close()


async def test_on_the_main_broker_without_a_thingsboard_url(
        central_tb: Any, mosquitto: Mosquitto) -> None:
    """`thingsboard_url` empty: the same topics on the gateway's own broker (behind a bridge);
    the gateway's RPC replies come back to it there and must not be taken for requests."""
    gw = await central_tb(0, thingsboard_url="")
    tbside = Backend(mosquitto.port, MQTTv311)
    await tbside.connect()
    await tbside.subscribe("v1/gateway/#")
    identity = "TB-MAIN1"
    try:
        async with charge_point(gw, identity) as cp:
            assert await tbside.wait_for("v1/gateway/connect", WAIT) == {
                "device": identity, "type": "default"}
            await boot(cp)
            assert (await attributes_until(tbside, identity, "vendor"))["vendor"] == "VendorTB"
            tbside.publish("v1/gateway/rpc", {"device": identity, "data": {
                "id": 7, "method": "startCharging", "params": 1}}, qos=1)
            reply = await tbside.wait_for("v1/gateway/rpc", WAIT,
                                          where=lambda b: b.get("id") == 7)
            assert reply["data"]["result"] == {"status": "Accepted"}
            tbside.messages.clear()  # the request itself, seen by the observer too
            await tbside.silence("v1/gateway/rpc", 0.5)  # one reply, no answer to the reply
            assert len(cp.handled) == 1
    finally:
        await tbside.close()


@pytest.fixture
def refusing_tb(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker that knows one user, as ThingsBoard knows only its devices' tokens."""
    passwd = shutil.which("mosquitto_passwd")
    if passwd is None:
        pytest.skip("mosquitto_passwd is not installed")
    broker = Mosquitto(tmp_path)
    subprocess.run([passwd, "-c", "-b", str(tmp_path / "pw"), "someone", "secret"], check=True)
    broker.conf.write_text(f"user root\nlistener {broker.port} 127.0.0.1\n"
                           f"allow_anonymous false\npassword_file {tmp_path / 'pw'}\n")
    broker.start()
    yield broker
    broker.stop()


async def test_a_refused_token_is_logged_and_charge_points_are_still_served(
        refusing_tb: Mosquitto, central_tb: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "ocpp_mqtt.thingsboard"):
        gw = await central_tb(refusing_tb.port)
        async with charge_point(gw, "TB-CP4") as cp:
            await boot(cp)  # answered by the gateway all the same
    refused = [r for r in caplog.records if "check the access token" in r.getMessage()]
    assert refused and refused[0].levelno == logging.ERROR
    assert all(TOKEN not in str(r.__dict__) for r in caplog.records)

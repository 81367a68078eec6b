"""docs/mosquitto-acl.md, for real: a Mosquitto with that page's ACL and users, the gateway as
`ocpp-gateway`, and each client the page names doing what the page says it may (and failing at
what it says it may not)."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Backend, Mosquitto

from .wsutil import connect, recv_json

DOC = (Path(__file__).resolve().parents[2] / "docs" / "mosquitto-acl.md").read_text()
USERS = ("ocpp-gateway", "backend", "siem", "provisioning", "viewer")


def _acl() -> str:
    found = re.search(r"## /etc/mosquitto/acl\n\n```\n(.*?)```", DOC, re.DOTALL)
    assert found, "docs/mosquitto-acl.md has no ACL block"
    return found.group(1)


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    (tmp_path / "acl").write_text(_acl())
    passwd = tmp_path / "passwd"
    passwd.touch()
    for user in USERS:
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, f"pw-{user}"], check=True,
                       capture_output=True)
    broker = Mosquitto(tmp_path)
    # the page's settings (TLS aside), on a loopback port
    broker.conf.write_text(
        "user root\nper_listener_settings false\nallow_anonymous false\n"
        f"password_file {passwd}\nacl_file {tmp_path / 'acl'}\nset_tcp_nodelay true\n"
        f"persistence false\nlistener {broker.port} 127.0.0.1\n")
    broker.start()
    yield broker
    broker.stop()


async def _client(broker: Mosquitto, user: str) -> Backend:
    client = Backend(broker.port)
    client.client.set_auth_credentials(user, f"pw-{user}")
    return await client.connect()


async def test_the_acl_lets_each_user_do_its_job_and_no_more(make_gateway: Any,
                                                            acl_broker: Mosquitto) -> None:
    gw = await make_gateway(prefix="ocpp/", credentials_topic="admin/credentials",
                            mqtt=f"mqtt://ocpp-gateway:pw-ocpp-gateway@127.0.0.1:{acl_broker.port}")
    backend, provisioning, viewer = [await _client(acl_broker, u)
                                     for u in ("backend", "provisioning", "viewer")]
    try:
        for topic in ("ocpp/cp/#", "ocpp/cs/+/Ack", "ocpp/presence/#"):
            await backend.subscribe(topic)
        await provisioning.subscribe("ocpp/admin/credentials/result")
        await viewer.subscribe("ocpp/presence/#")
        async with connect(gw.url("CP1"), ["ocpp1.6"]) as ws:
            # relay: the backend reads the charge point's CALL and answers it
            await ws.send('[2,"b1","BootNotification",{"chargePointVendor":"V",'
                          '"chargePointModel":"M"}]')
            call = await backend.wait_for("ocpp/cp/CP1")
            assert call["UniqueId"] == "b1"
            backend.publish("ocpp/cs/CP1", {"MessageTypeId": 3, "UniqueId": "b1", "Payload": {
                "status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 60}})
            assert (await recv_json(ws))[:2] == [3, "b1"]
            # ... commands it, and reads the outcome
            backend.publish("ocpp/cs/CP1", {"MessageTypeId": 2, "UniqueId": "c1",
                                            "Action": "ClearCache", "Payload": {}})
            assert (await recv_json(ws))[2] == "ClearCache"
            ack = await backend.wait_for("ocpp/cs/CP1/Ack")
            assert ack["Status"] == "sent"
            presence = await viewer.wait_for("ocpp/presence/CP1")
            assert presence["status"] == "online"
        # the gateway's shared subscription answers for charge points connected nowhere
        backend.publish("ocpp/cs/NOBODY", {"MessageTypeId": 2, "UniqueId": "n1",
                                           "Action": "ClearCache", "Payload": {}})
        ack = await backend.wait_for("ocpp/cs/NOBODY/Ack")
        assert ack["Status"] == "offline"
        # provisioning may set passwords; the backend may not (dropped, no answer)
        provisioning.publish("ocpp/admin/credentials", {
            "id": "r1", "op": "add", "identity": "CP9", "password": "a-16-to-40-char-password"},
            qos=1)
        result = await provisioning.wait_for("ocpp/admin/credentials/result")
        assert (result["id"], result["ok"]) == ("r1", True)
        backend.publish("ocpp/admin/credentials", {"id": "r2", "op": "remove",
                                                   "identity": "CP9"}, qos=1)
        await provisioning.silence("ocpp/admin/credentials/result", 1.0)
        # ... and the provisioning tool cannot command charge points: its CALL is dropped
        provisioning.publish("ocpp/cs/NOBODY", {"MessageTypeId": 2, "UniqueId": "p1",
                                                "Action": "ClearCache", "Payload": {}}, qos=1)
        await asyncio.sleep(0.5)
        assert not [b for t, b, _ in backend.messages if t == "ocpp/cs/NOBODY/Ack"]
    finally:
        for client in (backend, provisioning, viewer):
            await client.close()

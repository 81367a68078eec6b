"""Topic safety (issue 5, point 6; ID-02, ID-03): whatever the identity, the message id or
the action, nothing the gateway publishes or subscribes leaves its prefix, no wildcard or
`$`-topic is ever produced, and one charge point never reads or writes another's topics.

The broker is the witness: a Mosquitto with `log_type all` logs every PUBLISH and SUBSCRIBE it
receives, and the test reads what the gateway's own client sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from ocpp_mqtt.ocppj.identity import escape_topic_level
from tests.conftest import Backend, Mosquitto

from .wsutil import connect, raw_handshake, recv_json

VICTIM = "CP1"
# accepted by the 1.6 handshake (ID-02): every one must get topics of its own
NASTY_16 = ["+", "#", "$SYS", "$share", "CP1+", "CP1#", "%2F", "%2B", "${cid}", "${action}",
            "СР1",  # Cyrillic look-alike of CP1
            "CP１",  # fullwidth digit
            "ＣＰ1", "CP1\u200b", "cp1", "CP1 ", " CP1", "a b", "\ufdd0x", "💡"]
# refused by the handshake: must publish nothing at all
REFUSED_16 = ["a/b", "CP1/#", "\x00", "CP1\x00", "x" * 10_240, "\x1b[31m", "x\u0085y"]
NASTY_201 = ["CP2+", "a|b@c=d*e", "CP1.", "CP1-"]
REFUSED_201 = ["#", "$SYS", "СР1", "CP1 "]

_PUBLISH = re.compile(r"Received PUBLISH from (\S+) \(d\d, q\d, r\d, m\d+, '(.*)', \.\.\. "
                      r"\(\d+ bytes\)\)$")


def path(identity: str) -> str:
    return "/ocpp/" + quote(identity, safe="")


def broker_log(broker: Mosquitto, client_id: str) -> tuple[list[str], list[str]]:
    """The topics the gateway's client published and the filters it subscribed."""
    published: list[str] = []
    subscribed: list[str] = []
    in_subscribe = False
    for line in broker.log.read_text(encoding="utf-8", errors="replace").splitlines():
        _, _, text = line.partition(": ")
        match = _PUBLISH.match(text)
        if match:
            in_subscribe = False
            if match.group(1) == client_id:
                published.append(match.group(2))
            continue
        if text.startswith(("Received SUBSCRIBE from ", "Received UNSUBSCRIBE from ")):
            in_subscribe = text.rsplit(" ", 1)[1] == client_id
            continue
        if in_subscribe and text.startswith("\t"):
            subscribed.append(text.strip().rsplit(" (QoS", 1)[0])
        else:
            in_subscribe = False
    return published, subscribed


@pytest.fixture
def witness(tmp_path: Path) -> Any:
    broker = Mosquitto(tmp_path, "log_type all\n")
    broker.start()
    yield broker
    broker.stop()


async def exercise(ws: Any, identity: str) -> None:
    """CALLs whose id and action are hostile too; each gets its answer or CALLERROR."""
    frames = [
        [2, "b1", "BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}],
        [2, "x/#/+/$SYS", "DataTransfer", {"vendorId": identity, "messageId": "+/#"}],
        [2, "${cid}", "Heart/beat/#", {}],
    ]
    for frame in frames:
        await ws.send(orjson.dumps(frame).decode())


async def test_nasty_identities_ids_and_actions_stay_in_their_own_topics(
        make_gateway: Any, witness: Mosquitto, tmp_path: Path) -> None:
    gw = await make_gateway(  # central mode: every CALL gets its answer from the gateway
        mqtt=f"mqtt://127.0.0.1:{witness.port}", mode="central", profiles=["emqx", "native"],
        store=str(tmp_path / "store.sqlite3"), trigger_after_connect=0,
        upstream_topic_override_mapping={"DataTransfer": "cp/${cid}/dt/${action}/${id}"},
        dnstream_action_topic="cs/${cid}/call/${action}")
    backend = await Backend(witness.port).connect()
    received: dict[str, list[Any]] = {}
    try:
        await backend.subscribe(gw.prefix + "#")
        async with contextlib.AsyncExitStack() as stack:
            sockets = []
            for identity, version in ([(i, "ocpp1.6") for i in [*NASTY_16, VICTIM]]
                                      + [(i, "ocpp2.0.1") for i in NASTY_201]):
                url = f"ws://127.0.0.1:{gw.port}{path(identity)}"
                sockets.append((identity, await stack.enter_async_context(
                    connect(url, [version]))))
            for identity in REFUSED_16:
                reply, _, writer = await raw_handshake(gw.port, path(identity), ["ocpp1.6"])
                assert reply.status in (400, 414), (identity[:20], reply.status)
                writer.close()
            for identity in REFUSED_201:
                reply, _, writer = await raw_handshake(gw.port, path(identity), ["ocpp2.0.1"])
                assert reply.status == 400, (identity, reply.status)
                writer.close()
            for identity, ws in sockets:
                await exercise(ws, identity)
            # a command for the victim reaches the victim alone
            backend.publish(gw.prefix + "cs/" + VICTIM, {
                "MessageTypeId": 2, "UniqueId": "only-cp1", "Action": "ClearCache",
                "Payload": {}}, 1)
            received = {identity: [] for identity, _ in sockets}

            async def drain(identity: str, ws: Any) -> None:
                while True:
                    received[identity].append(await recv_json(ws))

            readers = [asyncio.create_task(drain(identity, ws)) for identity, ws in sockets]
            await asyncio.sleep(1.5)
            for reader in readers:
                reader.cancel()
        await asyncio.sleep(0.5)  # offline presence and disconnect events
    finally:
        await backend.close()
        await gw.gateway.stop()
    commands = {identity: [f[1] for f in frames if f[0] == 2]
                for identity, frames in received.items()}
    assert commands[VICTIM] == ["only-cp1"]
    assert all(not ids for identity, ids in commands.items() if identity != VICTIM), commands
    for identity, frames in received.items():  # every CALL got its answer or its CALLERROR
        assert len([f for f in frames if f[0] in (3, 4)]) == 3, (identity, frames)

    client_id = gw.gateway.settings.mqtt_client_id
    published, subscribed = broker_log(witness, client_id)
    assert published, "the broker log shows no PUBLISH from the gateway"
    for topic in published:
        assert topic.startswith(gw.prefix), topic
        assert "+" not in topic and "#" not in topic and "\x00" not in topic, topic
        assert not any(level.startswith("$") for level in topic.split("/")), topic
    for topic_filter in subscribed:
        own = topic_filter.removeprefix(f"$share/{gw.gateway.settings.shared_group}/")
        assert own.startswith(gw.prefix), topic_filter
    levels = {level for topic in published for level in topic[len(gw.prefix):].split("/")}
    for refused in REFUSED_16:  # nothing at all for a refused identity
        assert escape_topic_level(refused) not in levels, refused[:20]
    # one presence topic per charge point, its own escaped identity as one level: distinct for
    # every identity, look-alikes included
    presence = {t[len(gw.prefix + "presence/"):] for t in published
                if t.startswith(gw.prefix + "presence/")}
    assert presence == {escape_topic_level(identity) for identity in received}
    assert all("/" not in level for level in presence)


async def test_overlong_url_is_refused_without_an_error_log(
        gateway: Any, caplog: pytest.LogCaptureFixture) -> None:
    """A 10 KB identity is too long for the HTTP parser: 400, and one INFO line instead of
    aiohttp's ERROR with a traceback (a client must not be able to fill the logs)."""
    caplog.set_level(logging.INFO, logger="aiohttp.server")
    reply, _, writer = await raw_handshake(gateway.port, path("x" * 10_240), ["ocpp1.6"])
    writer.close()
    assert reply.status in (400, 414)
    await asyncio.sleep(0.1)
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert records and all(r.levelno == logging.INFO and not r.exc_info for r in records)
    assert records[0].getMessage() == "malformed HTTP request refused"

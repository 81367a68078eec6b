"""Shared fixtures: a real Mosquitto on a free port, gateways in-process, an MQTT backend."""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from gmqtt import Client
from gmqtt.mqtt.constants import MQTTv50, MQTTv311

from ocpp_mqtt.config import load_settings
from ocpp_mqtt.gateway import Gateway

ROOT = Path(__file__).resolve().parent.parent

# Gateways the tests start as processes (`ocpp-mqtt serve`) must not all bind the admin API's
# default port 8080 (nor collide with a gateway a developer runs meanwhile); those that test
# the admin API pass --admin-listen themselves, and in-process gateways (make_gateway) take a
# free port.
os.environ.setdefault("OCPP_MQTT_ADMIN_LISTEN", "off")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak-long", action="store_true", default=False,
                     help="run the soak tests in their long form (1,000 charge points)")
    parser.addoption("--docker", action="store_true", default=False,
                     help="build and run the Docker image (tests/packaging; `make docker-test`)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto"
                                          if os.path.exists("/usr/sbin/mosquitto") else None)
    if found is None:
        pytest.fail("mosquitto is not installed: run `make test`, which installs it")
    return found


class Mosquitto:
    def __init__(self, workdir: Path, listener_options: str = "") -> None:
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            "user root\n"  # keep reading the test's files when started as root
            f"listener {self.port} 127.0.0.1\n"
            + listener_options +
            "allow_anonymous true\n"
            "set_tcp_nodelay true\n"
            "max_queued_messages 100000\n"
            "persistence false\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # Its log goes to a file: a pipe nobody reads fills up after a few hundred client
        # connections, and Mosquitto then blocks on the write and serves no one.
        self.log = self.conf.with_suffix(".log")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([_mosquitto_binary(), "-c", str(self.conf)],
                                         stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(5)
            self.proc = None


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


_prefixes = itertools.count(1)

# Gateways started by this test session, by WebSocket port (see wsutil.connect).
GATEWAYS: dict[int, Gateway] = {}


class Backend:
    """A plain MQTT client standing in for the backend behind the gateway."""

    def __init__(self, port: int, version: int = MQTTv50) -> None:
        self.port = port
        self.version = version
        self.client = Client(f"test-backend-{os.getpid()}-{next(_prefixes)}")
        self.messages: list[tuple[str, bytes, dict[str, Any]]] = []
        self._new = asyncio.Event()
        self._subacks: dict[int, asyncio.Future[None]] = {}
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _on_message(self, client: Any, topic: str, payload: bytes, qos: int,
                    properties: dict[str, Any]) -> int:
        self.messages.append((topic, payload, properties))
        self._new.set()
        return 0

    def _on_subscribe(self, client: Any, mid: int, qos: Any, properties: Any) -> None:
        future = self._subacks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(None)

    async def connect(self) -> Backend:
        await self.client.connect("127.0.0.1", self.port, version=self.version)
        return self

    async def subscribe(self, topic: str, qos: int = 1) -> None:
        mid = self.client.subscribe(topic, qos=qos)
        future = asyncio.get_running_loop().create_future()
        self._subacks[mid] = future
        await asyncio.wait_for(future, 5)

    def publish(self, topic: str, payload: Any, qos: int = 0, **props: Any) -> None:
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        self.client.publish(topic, data, qos=qos, **props)

    async def wait_for(self, topic: str, timeout: float = 5.0,
                       where: Callable[[Any], bool] | None = None) -> Any:
        """The first message on `topic` (JSON-decoded) matching `where`; consumed once read."""
        deadline = time.monotonic() + timeout
        while True:
            for index, (t, payload, _props) in enumerate(self.messages):
                if t != topic:
                    continue
                body = orjson.loads(payload) if payload else None
                if where is None or where(body):
                    del self.messages[index]
                    return body
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [t for t, _, _ in self.messages]
                raise AssertionError(f"nothing on {topic} within {timeout} s; seen {seen}")
            await self._wait_new(remaining)

    async def _wait_new(self, seconds: float) -> None:
        # asyncio.wait, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # arrives as the awaited event fires, and a cancelled waiter would then never stop.
        self._new.clear()
        waiter = asyncio.ensure_future(self._new.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()

    async def wait_raw(self, topic: str, timeout: float = 5.0) -> tuple[bytes, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            for index, (t, payload, props) in enumerate(self.messages):
                if t == topic:
                    del self.messages[index]
                    return payload, props
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing on {topic}")
            await self._wait_new(max(0.01, deadline - time.monotonic()))

    async def silence(self, topic: str, seconds: float) -> None:
        """Assert nothing arrives on `topic` for `seconds`."""
        await asyncio.sleep(seconds)
        assert not [p for t, p, _ in self.messages if t == topic], f"unexpected on {topic}"

    async def close(self) -> None:
        await self.client.disconnect()


class RunningGateway:
    def __init__(self, gateway: Gateway, prefix: str) -> None:
        self.gateway = gateway
        self.prefix = prefix

    @property
    def port(self) -> int:
        return self.gateway.ws_port

    @property
    def admin_url(self) -> str:
        """http://127.0.0.1:<port> of the admin API (make_gateway's admin_listen)."""
        assert self.gateway.admin is not None, "this gateway runs without its admin API"
        return self.gateway.admin.url

    def url(self, identity: str, path: str = "/ocpp/") -> str:
        return f"ws://127.0.0.1:{self.port}{path}{identity}"

    def topic(self, template: str, cid: str) -> str:
        return self.prefix + template.replace("{cid}", cid)


@pytest.fixture
async def make_gateway(mosquitto: Mosquitto,
                       tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    started: list[Gateway] = []

    async def start(**overrides: Any) -> RunningGateway:
        prefix = overrides.pop("prefix", f"t{os.getpid()}x{next(_prefixes)}/")
        values: dict[str, Any] = {
            "listen": "127.0.0.1:0",
            "mqtt": f"mqtt://127.0.0.1:{mosquitto.port}",
            "prefix": prefix,
            "gateway_id": "test-gw",
            # one MQTT session per gateway, whatever gateway_id a test gives several of them
            "mqtt_client_id": f"test-gw-{os.getpid()}-{next(_prefixes)}",
            "admin_listen": "127.0.0.1:0",  # a free port: see RunningGateway.admin_url
            # never the working directory's file (the admin API opens it on demand)
            "credentials_store": str(tmp_path / f"credentials-{next(_prefixes)}.sqlite3"),
        }
        values.update(overrides)
        gateway = Gateway(load_settings(None, **values))
        await gateway.start()
        started.append(gateway)
        for port in gateway.ws_ports:
            GATEWAYS[port] = gateway
        return RunningGateway(gateway, prefix)

    yield start
    for gateway in started:
        for port in gateway.ws_ports:
            GATEWAYS.pop(port, None)
        await gateway.stop()


@pytest.fixture
async def gateway(make_gateway: Callable[..., Any]) -> RunningGateway:
    result: RunningGateway = await make_gateway()
    return result


@pytest.fixture
async def backend(mosquitto: Mosquitto) -> AsyncIterator[Backend]:
    client = await Backend(mosquitto.port).connect()
    yield client
    await client.close()


@pytest.fixture
async def backend311(mosquitto: Mosquitto) -> AsyncIterator[Backend]:
    client = await Backend(mosquitto.port, MQTTv311).connect()
    yield client
    await client.close()


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

"""The Docker image built and run for real (`make docker-test`): the Dockerfile on a Debian
base built from Debian's archive (Docker Hub is out of reach here), the container on the host's
network against the session's Mosquitto, then compose.yaml brought up with its own Mosquitto.

What the unit tests (tests/unit/test_container.py) read in the files, these see in the running
container: Docker's health check turns `healthy`, the gateway runs as the non-root user, a
charge point's BootNotification goes through MQTT and its answer back, `docker stop` ends it
cleanly (exit 0, offline status), and the compose file's services find each other."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Backend, Mosquitto, free_port
from tests.integration.wsutil import connect, recv_json

from .docker import (
    MOSQUITTO_IMAGE,
    PYTHON_IMAGE,
    ROOT,
    docker,
    inspect,
    run,
    wait_healthy,
)

pytestmark = pytest.mark.timeout(900)

BOOT = ('[2,"boot-1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]')
ACCEPTED = {"currentTime": "2026-01-01T00:00:00Z", "interval": 60, "status": "Accepted"}


async def boot_round_trip(backend: Backend, ws_url: str, prefix: str, identity: str) -> None:
    """A charge point's BootNotification reaches MQTT; the backend's answer reaches it."""
    await backend.subscribe(f"{prefix}cp/{identity}")
    async with connect(f"{ws_url}/ocpp/{identity}", ["ocpp1.6"]) as ws:
        await ws.send(BOOT)
        call = await backend.wait_for(f"{prefix}cp/{identity}", 10)
        assert call["Action"] == "BootNotification" and call["MessageTypeId"] == 2, call
        assert call["Payload"] == {"chargePointVendor": "V", "chargePointModel": "M"}
        backend.publish(f"{prefix}cs/{identity}", {"MessageTypeId": 3,
                                                   "UniqueId": call["UniqueId"],
                                                   "Payload": ACCEPTED})
        assert await recv_json(ws, 10) == [3, "boot-1", ACCEPTED]


@contextlib.asynccontextmanager
async def container(image: str, name: str, env: dict[str, str]) -> AsyncIterator[str]:
    """The image run detached on the host's network with a read-only root filesystem (as
    Kubernetes' readOnlyRootFilesystem: the gateway writes only to the /data volume), its
    health checked every second instead of every 30 s (the check itself is the image's);
    removed afterwards."""
    flags = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
    await docker("run", "-d", "--name", name, "--network", "host", "--read-only",
                 "--health-interval", "1s", *flags, image)
    try:
        yield name
    finally:
        await docker("rm", "-f", "-v", name, check=False)


async def test_image_runs_healthy_as_non_root_and_relays_a_boot(
        image: str, mosquitto: Mosquitto) -> None:
    config = (await inspect(image, "image"))["Config"]
    assert config["User"] == "10001:10001"
    assert config["Healthcheck"]["Test"] == ["CMD", "python", "-m", "ocpp_mqtt.healthcheck"]
    assert config["Entrypoint"] == ["ocpp-mqtt"] and config["Cmd"] == ["serve"]
    assert set(config["ExposedPorts"]) == {"9000/tcp", "8080/tcp"}
    assert set(config["Volumes"]) == {"/data"}
    assert "OCPP_MQTT_STORE=/data/ocpp-mqtt.sqlite3" in config["Env"]

    port, tag = free_port(), f"dk{os.getpid()}"
    prefix, gateway_id = f"{tag}/", f"{tag}-gw"
    backend = await Backend(mosquitto.port).connect()
    try:
        await backend.subscribe(f"{prefix}gateway/{gateway_id}/status")
        env = {"OCPP_MQTT_MQTT": f"mqtt://127.0.0.1:{mosquitto.port}",
               "OCPP_MQTT_LISTEN": f"127.0.0.1:{port}",  # the health check follows it
               "OCPP_MQTT_ADMIN_LISTEN": "off",  # not the host's port 8080
               "OCPP_MQTT_PREFIX": prefix, "OCPP_MQTT_GATEWAY_ID": gateway_id}
        async with container(image, f"ocpp-mqtt-test-{tag}", env) as name:
            await wait_healthy(name)
            status = await backend.wait_for(f"{prefix}gateway/{gateway_id}/status", 10)
            assert status["status"] == "online"

            # The gateway (PID 1, no shell in between) and whatever `docker exec` starts run
            # as the image's user, which owns the volume.
            assert await docker("exec", name, "id", "-u") == "10001"
            uid_line = await docker("exec", name, "grep", "^Uid:", "/proc/1/status")
            assert uid_line.split()[1:] == ["10001"] * 4, uid_line
            assert (await docker("exec", name, "cat", "/proc/1/cmdline")).startswith(
                "/opt/ocpp-mqtt/bin/python")
            assert await docker("exec", name, "stat", "-c", "%u", "/data") == "10001"

            await boot_round_trip(backend, f"ws://127.0.0.1:{port}", prefix, "DOCKER-CP1")

            # SIGTERM (the image's STOPSIGNAL): a clean end well within docker's 10 s grace,
            # the offline status published on the way out.
            await docker("stop", name, timeout=30)
            state = (await inspect(name))["State"]
            assert state["ExitCode"] == 0 and not state["OOMKilled"], state
            offline = await backend.wait_for(f"{prefix}gateway/{gateway_id}/status", 10,
                                             where=lambda m: m["status"] == "offline")
            assert offline == {"status": "offline", "gateway": gateway_id}
    finally:
        await backend.close()


def compose_for_test(mqtt_port: int, ws_port: int) -> dict[str, Any]:
    """compose.yaml as it is, but for the local images (no Docker Hub here), ports published
    on free loopback ports (not 1883 and 9000 of a shared machine), pip's build on the host's
    network and the health checked every second."""
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    broker, gateway = compose["services"]["mosquitto"], compose["services"]["ocpp-mqtt"]
    assert broker["ports"] == ["1883:1883"] and gateway["ports"] == ["9000:9000"]
    assert gateway["build"] == "." and broker["image"].startswith("eclipse-mosquitto:")
    broker["image"] = MOSQUITTO_IMAGE
    broker["ports"] = [f"127.0.0.1:{mqtt_port}:1883"]
    gateway["ports"] = [f"127.0.0.1:{ws_port}:9000"]
    gateway["build"] = {"context": str(ROOT), "network": "host",
                        "args": {"PYTHON_IMAGE": PYTHON_IMAGE}}
    gateway["image"] = "ocpp-mqtt-test/ocpp-mqtt:compose"
    gateway["healthcheck"] = {"interval": "1s"}
    return compose


async def test_compose_up_brings_mosquitto_and_the_gateway_together(
        image: str, tmp_path: Path) -> None:
    mqtt_port, ws_port = free_port(), free_port()
    file = tmp_path / "compose.yaml"
    file.write_text(yaml.safe_dump(compose_for_test(mqtt_port, ws_port)))
    base = ["docker-compose", "-f", str(file), "--project-directory", str(ROOT),
            "-p", f"ocppmqtttest{os.getpid()}"]
    try:
        await run(*base, "up", "-d", "--build", timeout=600)
        gateway = (await run(*base, "ps", "-q", "ocpp-mqtt"))[1].strip()
        assert gateway, "compose started no ocpp-mqtt container"
        await wait_healthy(gateway)
        # it waited for Mosquitto rather than failing to connect and being restarted
        assert (await inspect(gateway))["RestartCount"] == 0
        # the gateway reached Mosquitto by its service name (OCPP_MQTT_MQTT in compose.yaml)
        backend = await Backend(mqtt_port).connect()
        try:
            await backend.subscribe("ocpp/gateway/gw-1/status")
            status = await backend.wait_for("ocpp/gateway/gw-1/status", 15)
            assert status["status"] == "online"
            await boot_round_trip(backend, f"ws://127.0.0.1:{ws_port}", "ocpp/", "COMPOSE-CP1")
        finally:
            await backend.close()
        uid = await docker("exec", gateway, "grep", "^Uid:", "/proc/1/status")
        assert uid.split()[1] == "10001", uid
    except BaseException:
        print((await run(*base, "logs", "--tail", "60", check=False))[1])
        raise
    finally:
        await run(*base, "down", "-v", "--remove-orphans", timeout=120,
                  check=False)


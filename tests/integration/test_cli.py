"""`ocpp-mqtt serve` as a user runs it: start-up line, embedded broker, config errors."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from gmqtt.mqtt.constants import MQTTv311

from tests.conftest import Backend, free_port

from .wsutil import connect, recv_json

EXE = str(Path(sys.executable).parent / "ocpp-mqtt")


async def start(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        EXE, "serve", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})})


async def first_line(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 15)
    return line.decode()


async def run_to_end(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = await start(*args, env=env)
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def stop(proc: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> int:
    if proc.returncode is None:
        proc.send_signal(sig)
    return await asyncio.wait_for(proc.wait(), 15)


async def test_serve_with_embedded_broker_end_to_end() -> None:
    ws_port, broker_port = free_port(), free_port()
    proc = await start("--listen", f"127.0.0.1:{ws_port}",
                       "--embedded-listen", f"127.0.0.1:{broker_port}")
    try:
        line = await first_line(proc)
        assert f"ws://127.0.0.1:{ws_port}/<path>/<identity>" in line
        assert f"embedded broker on 127.0.0.1:{broker_port}" in line
        # a plain MQTT client reaches the embedded broker (MQTT 3.1.1, as amqtt speaks)
        client = await Backend(broker_port, MQTTv311).connect()
        try:
            await client.subscribe("ocpp/#")
            status = await client.wait_for(f"ocpp/gateway/{socket.gethostname()}/status")
            assert status["status"] == "online"
            async with connect(f"ws://127.0.0.1:{ws_port}/ocpp/E1", ["ocpp1.6"]) as ws:
                await ws.send('[2,"b1","BootNotification",{"chargePointVendor":"V",'
                              '"chargePointModel":"M"}]')
                call = await client.wait_for("ocpp/cp/E1")
                client.publish("ocpp/cs/E1", {"MessageTypeId": 3, "UniqueId": call["UniqueId"],
                                              "Payload": {"currentTime": "2024-01-01T00:00:00Z",
                                                          "interval": 60, "status": "Accepted"}})
                assert (await recv_json(ws, 5))[:2] == [3, "b1"]
            assert await stop(proc) == 0
            # amqtt may repeat the retained online status: wait for the offline one
            offline = await client.wait_for(f"ocpp/gateway/{socket.gethostname()}/status", 5,
                                            where=lambda m: m["status"] == "offline")
            assert offline == {"status": "offline", "gateway": socket.gethostname()}
        finally:
            await client.close()
    finally:
        await stop(proc, signal.SIGKILL)


async def test_embedded_port_taken_exits_2_with_the_fix() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = await run_to_end("--listen", f"127.0.0.1:{free_port()}",
                                     "--embedded-listen", f"127.0.0.1:{port}")
    assert code == 2
    assert err.strip().splitlines()[-1].endswith(
        f"a broker already listens on 127.0.0.1:{port}; use --mqtt mqtt://127.0.0.1:{port}")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("args", "key"), [
    (["--listen", "nonsense"], "listen"),
    (["--mqtt", "http://broker"], "mqtt"),
    (["--qos", "5"], "qos"),
    (["--mqtt-version", "4"], "mqtt_version"),
    (["--default-version", "1.5"], "default_version"),
    (["--upstream-topic", "cp/#"], "upstream_topic"),
])
async def test_bad_values_exit_2_naming_the_key(args: list[str], key: str) -> None:
    code, err = await run_to_end(*args)
    assert code == 2
    assert err.startswith(f"ocpp-mqtt: config error: {key}:"), err
    assert len(err.strip().splitlines()) == 1


async def test_unreachable_broker_exits_2(tmp_path: Path) -> None:
    code, err = await run_to_end("--listen", f"127.0.0.1:{free_port()}",
                                 "--mqtt", f"mqtt://user:secret@127.0.0.1:{free_port()}")
    assert code == 2 and "mqtt: cannot connect" in err
    assert "secret" not in err  # never log a password


async def test_toml_config_and_env(tmp_path: Path, mosquitto: Any) -> None:
    ws_port = free_port()
    config = tmp_path / "gw.toml"
    config.write_text(f'mqtt = "mqtt://127.0.0.1:{mosquitto.port}"\nprefix = "fromtoml/"\n'
                      'listen = "127.0.0.1:1"\n')
    proc = await start("--config", str(config),
                       env={"OCPP_MQTT_LISTEN": f"127.0.0.1:{ws_port}"})
    try:
        line = await first_line(proc)
        assert f"127.0.0.1:{ws_port}" in line and "'fromtoml/'" in line
    finally:
        assert await stop(proc) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('no_such_option = 1\n')
    code, err = await run_to_end("--config", str(bad))
    assert code == 2 and "no_such_option: unknown option" in err


async def test_last_will_marks_gateway_offline(mosquitto: Any) -> None:
    client = await Backend(mosquitto.port).connect()
    proc = await start("--listen", f"127.0.0.1:{free_port()}", "--mqtt",
                       f"mqtt://127.0.0.1:{mosquitto.port}", "--prefix", "lwt/",
                       "--gateway-id", "gw-lwt", "--mqtt-keepalive", "5")
    try:
        await first_line(proc)
        await client.subscribe("lwt/gateway/gw-lwt/status")
        assert (await client.wait_for("lwt/gateway/gw-lwt/status"))["status"] == "online"
        await stop(proc, signal.SIGKILL)
        offline = await client.wait_for("lwt/gateway/gw-lwt/status", 5)
        assert offline == {"status": "offline", "gateway": "gw-lwt"}
    finally:
        await stop(proc, signal.SIGKILL)
        await client.close()

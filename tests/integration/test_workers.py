"""`ocpp-mqtt serve --workers N` (issue 6, point 5): processes sharing the port, each its own
instance on the broker, restarted when one dies, all stopped by one SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.conftest import Backend, free_port

from .test_cli import EXE, first_line, run_to_end, stop
from .wsutil import recv_json

N_CP = 16


async def open_cps(port: int, stack: contextlib.AsyncExitStack) -> dict[str, Any]:
    """Connect N_CP charge points."""
    sockets = {}
    for i in range(N_CP):
        cid = f"W{i}"
        sockets[cid] = await stack.enter_async_context(websockets.connect(
            f"ws://127.0.0.1:{port}/ocpp/{cid}", subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            open_timeout=5))
    return sockets


async def start_logged(log: Path, *args: str) -> asyncio.subprocess.Process:
    """Like test_cli.start, with the logs in a file: nobody reads a pipe while workers log."""
    sink = log.open("wb")
    try:
        return await asyncio.create_subprocess_exec(
            EXE, "serve", *args, stdout=asyncio.subprocess.PIPE, stderr=sink)
    finally:
        sink.close()


async def test_workers_share_the_port_and_serve_commands(mosquitto: Any, backend: Backend,
                                                         tmp_path: Path) -> None:
    port, prefix = free_port(), f"wk{os.getpid()}/"
    await backend.subscribe(prefix + "presence/+")
    await backend.subscribe(prefix + "gateway/+/status")
    proc = await start_logged(tmp_path / "workers.log", "--workers", "2",
                              "--listen", f"127.0.0.1:{port}",
                              "--mqtt", f"mqtt://127.0.0.1:{mosquitto.port}", "--prefix", prefix,
                              "--gateway-id", "wk", "--log-level", "info")
    try:
        line = await first_line(proc)
        assert f"ws://127.0.0.1:{port}/" in line and "2 workers" in line
        pids = [int(p) for p in re.findall(r"\d+", line.rsplit("pids", 1)[1])]
        assert len(pids) == 2
        async with contextlib.AsyncExitStack() as stack:
            cps = await open_cps(port, stack)
            where = {}
            for cid in cps:
                body = await backend.wait_for(prefix + f"presence/{cid}", 5)
                where[cid] = body["gateway"]
            # the kernel spread the connections over both workers
            assert set(where.values()) == {"wk-w0", "wk-w1"}
            for cid, ws in cps.items():  # each command reaches the worker holding the CP
                backend.publish(prefix + f"cs/{cid}", {"MessageTypeId": 2, "UniqueId": cid,
                                                       "Action": "ClearCache", "Payload": {}})
                assert (await recv_json(ws, 5))[:2] == [2, cid]
                await ws.send(f'[3,"{cid}",{{"status":"Accepted"}}]')

            # A worker that dies is replaced: its charge points lose their socket, its last
            # will marks it offline, and the new worker announces itself online again.
            victim = pids[1]
            os.kill(victim, signal.SIGKILL)
            status = prefix + "gateway/{}/status"
            gone = [cid for cid, g in where.items() if g == "wk-w1"]
            for cid in gone:
                with pytest.raises(websockets.ConnectionClosed):
                    await asyncio.wait_for(cps[cid].recv(), 10)
            names = {"wk-w0", "wk-w1"}
            for name in names:  # retained online of both at subscribe time
                await backend.wait_for(status.format(name), 5,
                                       where=lambda m: m["status"] == "online")
            await backend.wait_for(status.format("wk-w1"), 10,
                                   where=lambda m: m["status"] == "offline")
            await backend.wait_for(status.format("wk-w1"), 15,
                                   where=lambda m: m["status"] == "online")
            survivors = [cid for cid, g in where.items() if g == "wk-w0"]
            backend.publish(prefix + f"cs/{survivors[0]}", {
                "MessageTypeId": 2, "UniqueId": "after", "Action": "ClearCache", "Payload": {}})
            assert (await recv_json(cps[survivors[0]], 5))[:2] == [2, "after"]
            assert await stop(proc) == 0  # one SIGTERM stops every worker gracefully
            for cid in survivors:
                with pytest.raises(websockets.ConnectionClosed):
                    await asyncio.wait_for(cps[cid].recv(), 5)
                assert cps[cid].close_code == 1001
        for pid in pids[:1]:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        await stop(proc, signal.SIGKILL)
        for cid in [f"W{i}" for i in range(N_CP)]:
            backend.publish(prefix + f"presence/{cid}", b"", qos=1, retain=True)
        for name in ("wk-w0", "wk-w1"):
            backend.publish(prefix + f"gateway/{name}/status", b"", qos=1, retain=True)


@pytest.mark.parametrize(("args", "message"), [
    (["--mqtt", "embedded"], "workers above 1 need an external broker"),
    (["--listen", "127.0.0.1:0", "--mqtt", "mqtt://127.0.0.1:1"], "fixed listen port"),
])
async def test_workers_config_errors(args: list[str], message: str) -> None:
    code, err = await run_to_end("--workers", "2", *args)
    assert code == 2
    assert message in err


async def test_worker_start_failure_is_reported_once(mosquitto: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = await run_to_end("--workers", "3", "--listen", f"127.0.0.1:{port}",
                                     "--mqtt", f"mqtt://127.0.0.1:{mosquitto.port}")
    assert code == 2
    assert err.count("cannot listen on") == 1, err


async def test_listen_backlog_is_applied(make_gateway: Any) -> None:
    """bench B4: a reconnect storm needs a longer accept queue than aiohttp's default 128
    (`ss` shows a listening socket's backlog as its Send-Q)."""
    gw = await make_gateway(listen_backlog=777)
    out = await asyncio.to_thread(subprocess.run, ["ss", "-ltnH", f"sport = :{gw.port}"],
                                  capture_output=True, text=True, check=True)
    assert out.stdout.split()[2] == "777", out.stdout

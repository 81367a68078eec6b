"""The admin listener of `ocpp-mqtt serve` as a user runs it: the start-up line, a taken port
(exit 2, one line naming admin_listen), no token beyond loopback, and `--workers N` (worker i
on port + i, each showing its own charge points)."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import Any

import websockets

from tests.conftest import free_port

from .admin_client import admin
from .test_cli import first_line, run_to_end, stop
from .test_workers import start_logged


async def test_taken_admin_port_ends_start_up(mosquitto: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = await run_to_end("--listen", f"127.0.0.1:{free_port()}",
                                     "--mqtt", f"mqtt://127.0.0.1:{mosquitto.port}",
                                     "--admin-listen", f"127.0.0.1:{port}")
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("ocpp-mqtt:")]
    assert lines == [f"ocpp-mqtt: config error: admin_listen: cannot listen on 127.0.0.1:{port}: "
                     "Address already in use; choose another --admin-listen HOST:PORT or turn "
                     "the admin API off with --admin-listen off"], err


async def test_no_token_beyond_loopback_is_a_config_error() -> None:
    code, err = await run_to_end("--admin-listen", "0.0.0.0:18080")
    assert code == 2
    assert err.startswith("ocpp-mqtt: config error: admin_token: required because admin_listen "
                          "(0.0.0.0:18080) is not a loopback address"), err


async def test_workers_each_serve_their_own_admin_port(mosquitto: Any, tmp_path: Path) -> None:
    ws_port, admin_port = free_port(), free_port()
    while True:  # worker 1 takes admin_port + 1: it must be free too
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", admin_port + 1))
                break
            except OSError:
                admin_port = free_port()
    prefix = f"wa{os.getpid()}/"
    proc = await start_logged(tmp_path / "workers.log", "--workers", "2",
                              "--listen", f"127.0.0.1:{ws_port}",
                              "--mqtt", f"mqtt://127.0.0.1:{mosquitto.port}", "--prefix", prefix,
                              "--gateway-id", "wa", "--admin-listen", f"127.0.0.1:{admin_port}")
    try:
        line = await first_line(proc)
        assert f"admin API: http://127.0.0.1:{admin_port}/api/v1/" in line, line
        async with contextlib.AsyncExitStack() as stack:
            for i in range(8):
                await stack.enter_async_context(websockets.connect(
                    f"ws://127.0.0.1:{ws_port}/ocpp/A{i}",
                    subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                    open_timeout=5))
            seen: dict[str, list[str]] = {}
            for i in range(2):
                async with admin(f"http://127.0.0.1:{admin_port + i}") as api:
                    status = (await api.get("/api/v1/status")).body
                    assert status["gateway"] == f"wa-w{i}"
                    items = (await api.get("/api/v1/charge-points")).body["items"]
                    seen[status["gateway"]] = [item["identity"] for item in items]
            # every charge point is listed by exactly the worker holding it
            everything = seen["wa-w0"] + seen["wa-w1"]
            assert sorted(everything) == [f"A{i}" for i in range(8)]
            assert all(seen.values()), seen  # the kernel spread them over both workers
        assert await stop(proc) == 0
    finally:
        await stop(proc, 9)

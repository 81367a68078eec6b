"""Connection's ordered writer: frames wait behind a suspended send, in order, within a bound."""

from __future__ import annotations

import asyncio
from typing import Any

from ocpp_mqtt.ocppj.session import Policy, Session
from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import Version
from ocpp_mqtt.transport.connection import MAX_PENDING_FRAMES, Connection


class PausedSocket:
    """send_str writes at once until `pause()`, then waits until `resume()`."""

    def __init__(self) -> None:
        self.closed = False
        self.written: list[str] = []
        self.closes: list[tuple[int, bytes]] = []
        self._gate: asyncio.Future[None] | None = None

    def pause(self) -> None:
        self._gate = asyncio.get_running_loop().create_future()

    def resume(self) -> None:
        assert self._gate is not None
        self._gate.set_result(None)
        self._gate = None

    async def send_str(self, text: str) -> None:
        self.written.append(text)
        if self._gate is not None:
            await self._gate

    async def close(self, code: int, message: bytes) -> None:
        self.closes.append((code, message))
        self.closed = True


def make(ws: Any) -> Connection:
    session = Session(Version.V16, Schemas(), Policy())
    return Connection(ws, "CP1", "CP1", Version.V16, session, "127.0.0.1", 9000, None, 60)


async def test_frames_keep_their_order_behind_a_suspended_send() -> None:
    ws = PausedSocket()
    conn = make(ws)
    conn.send("a")
    ws.pause()
    conn.send("b")  # suspends inside send_str
    conn.send("c")
    conn.send("d")
    assert ws.written == ["a", "b"]
    ws.resume()
    for _ in range(10):
        await asyncio.sleep(0)
    assert ws.written == ["a", "b", "c", "d"]
    assert conn.frames_out == 4


async def test_a_charge_point_that_does_not_read_is_closed() -> None:
    ws = PausedSocket()
    conn = make(ws)
    ws.pause()
    for i in range(MAX_PENDING_FRAMES + 2):
        conn.send(str(i))
    await asyncio.sleep(0)
    assert ws.closes and ws.closes[0][0] == 1008

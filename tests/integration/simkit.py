"""Helpers of the simulator's integration tests: a connection factory that checks every frame a
simulated charge point sends against the official schemas, and a fleet run in the background."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import BY_SUBPROTOCOL, Version
from ocpp_mqtt.simulate.link import Connect, Link
from ocpp_mqtt.simulate.options import SimOptions, Span
from ocpp_mqtt.simulate.runner import Fleet, run

SCHEMAS = Schemas()

# fast timings for tests
FAST = SimOptions(rate=0, tx_pause=Span(0.1, 0.2), tx_duration=Span(1.0, 1.5),
                  meter_interval=0.3, reconnect_min=0.1, reconnect_range=0.1, boot_retry=0.5,
                  call_timeout=5, stop_timeout=5, quiet=True)


@dataclass
class Sent:
    identity: str
    connection: int  # 1 for the first connection of that charge point, 2 after a reconnect
    frame: list[Any]
    action: str  # the CALL's action, or for results the action answered


@dataclass
class Recorder:
    """Wraps a Connect: validates every frame sent, keeps them, counts connections."""

    inner: Connect
    sent: list[Sent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    connections: dict[str, int] = field(default_factory=dict)

    async def __call__(self, url: str, subprotocol: str, identity: str, password: str | None,
                       handshake_s: float) -> Link:
        link = await self.inner(url, subprotocol, identity, password, handshake_s)
        self.connections[identity] = self.connections.get(identity, 0) + 1
        return _RecordingLink(self, link, BY_SUBPROTOCOL[subprotocol], identity,
                              self.connections[identity])

    def calls(self, action: str, identity: str | None = None) -> list[Sent]:
        return [s for s in self.sent if s.frame[0] == 2 and s.action == action
                and (identity is None or s.identity == identity)]


class _RecordingLink:
    def __init__(self, recorder: Recorder, link: Link, version: Version, identity: str,
                 connection: int) -> None:
        self.r, self.link, self.version = recorder, link, version
        self.identity, self.connection = identity, connection
        self.incoming: dict[str, str] = {}  # CALL id from the server -> action

    @property
    def closed(self) -> bool:
        return self.link.closed

    async def send(self, text: str) -> None:
        frame = orjson.loads(text)
        action = ""
        if frame[0] == 2:
            action = frame[2]
            problem = SCHEMAS.check(self.version, action, frame[3], response=False)
        elif frame[0] == 3:
            action = self.incoming.get(frame[1], "?")
            problem = SCHEMAS.check(self.version, action, frame[2], response=True)
        else:
            action, problem = self.incoming.get(frame[1], "?"), None
        if problem is not None:
            self.r.problems.append(f"{self.version.value} {action}: {problem.describe()}")
        self.r.sent.append(Sent(self.identity, self.connection, frame, action))
        await self.link.send(text)

    async def receive(self) -> str | None:
        text = await self.link.receive()
        if text is not None:
            frame = orjson.loads(text)
            if isinstance(frame, list) and frame and frame[0] == 2:
                self.incoming[frame[1]] = frame[2]
        return text

    async def close(self, code: int = 1000) -> None:
        await self.link.close(code)


@dataclass
class Running:
    fleet: Fleet
    recorder: Recorder
    task: asyncio.Task[dict[str, Any]]
    stop: asyncio.Event
    events: list[tuple[str, str, str]]  # ChargePoint.on_event: (identity, event, detail)

    async def until(self, condition: Any, timeout: float, what: str) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            if self.task.done():
                raise AssertionError(f"the run ended before: {what}")
            assert asyncio.get_running_loop().time() < deadline, f"timed out waiting: {what}"
            await asyncio.sleep(0.05)

    def cp(self, identity: str) -> Any:
        return next(c for c in self.fleet.charge_points if c.identity == identity)

    async def summary(self, timeout: float = 30) -> dict[str, Any]:
        result = await asyncio.wait_for(self.task, timeout)
        assert not self.recorder.problems, self.recorder.problems
        return result


@asynccontextmanager
async def simulate(url: str, **changes: Any) -> AsyncIterator[Running]:
    """Run a fleet against `url` in the background; stopped on exit if still running."""
    options = replace(FAST, url=url, **changes)
    holder: list[Fleet] = []
    recorders: list[Recorder] = []
    stop = asyncio.Event()

    def wrap(inner: Connect) -> Connect:
        recorders.append(Recorder(inner))
        return recorders[0]

    ready = asyncio.Event()

    events: list[tuple[str, str, str]] = []

    def on_fleet(fleet: Fleet) -> None:
        holder.append(fleet)
        for cp in fleet.charge_points:  # before the ramp starts them
            cp.on_event = lambda cp, event, detail: events.append((cp.identity, event, detail))
        ready.set()

    task = asyncio.create_task(run(options, stop, io.StringIO(), wrap, on_fleet))
    waiter = asyncio.ensure_future(ready.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if not holder:
        task.result()  # raises what stopped it
    running = Running(holder[0], recorders[0], task, stop, events)
    try:
        yield running
    finally:
        stop.set()
        await asyncio.wait({task}, timeout=30)
        if not task.done():
            task.cancel()

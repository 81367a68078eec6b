"""The charge point's side of OCPP-J: unique ids, one outstanding CALL at a time (SY-01),
answers matched by id, late or unknown answers dropped (SY-06), and the central system's CALLs
checked (framing, action, schema) before the behaviour sees them.

It writes through a `Link` and is fed frames by its owner (`on_text`); it starts no task.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..ocppj import frames
from ..ocppj.actions import sent_by_central_system
from ..ocppj.validation import Schemas
from ..ocppj.versions import CALL, Version, error_code
from .link import Link
from .stats import VersionStats


class CallFailed(Exception):
    """A CALL got no CALLRESULT: `kind` is `error` (a CALLERROR, `code` set), `timeout` or
    `closed` (the connection went away before the answer)."""

    def __init__(self, kind: str, detail: str, code: str = "") -> None:
        super().__init__(detail)
        self.kind = kind
        self.code = code


@dataclass(frozen=True, slots=True)
class Reply:
    """The behaviour's answer to a central-system CALL: a result payload, or a CALLERROR code
    (2.x spelling; converted for 1.6)."""

    payload: dict[str, Any] | None = None
    error: str = ""
    description: str = ""
    then: Callable[[], None] | None = None  # called once the reply is written


Handler = Callable[[str, dict[str, Any]], Awaitable[Reply]]

_ids = itertools.count(1)


class Rpc:
    def __init__(self, version: Version, link: Link, schemas: Schemas, stats: VersionStats,
                 handler: Handler, call_timeout: float) -> None:
        self.version = version
        self.link = link
        self.schemas = schemas
        self.stats = stats
        self.handler = handler
        self.call_timeout = call_timeout
        self._lock = asyncio.Lock()  # SY-01: the next CALL waits for the previous answer
        self._pending_id: str | None = None
        self._pending: asyncio.Future[dict[str, Any]] | None = None
        self._closed = False
        self.on_settled: Callable[[], None] | None = None  # after each CALL, answered or not
        # each CALL answered with a CALLRESULT: (action, payload sent, result)
        self.on_answered: Callable[[str, dict[str, Any], dict[str, Any]], None] | None = None
        # each CALL of the central system received, before it is checked and answered:
        # (unique id, action, payload)
        self.on_call: Callable[[str, str, dict[str, Any]], None] | None = None

        self._active = 0  # CALLs outstanding or waiting for their turn

    @property
    def busy(self) -> bool:
        return self._active > 0

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send one CALL and wait for its result; raises CallFailed."""
        self._active += 1
        try:
            return await self._call(action, payload)
        finally:
            self._active -= 1
            if self.on_settled is not None:
                self.on_settled()

    async def _call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        async with self._lock:
            if self._closed:
                raise CallFailed("closed", "connection closed")
            unique_id = str(next(_ids))
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._pending_id, self._pending = unique_id, future
            frame = frames.call_frame(unique_id, action, orjson.dumps(payload).decode())
            started = time.perf_counter()
            try:
                await self.link.send(frame)
            except (ConnectionError, RuntimeError) as exc:  # aiohttp: closing transport
                self._pending_id = self._pending = None
                raise CallFailed("closed", f"send failed: {exc}") from exc
            self.stats.sent += 1
            try:
                async with asyncio.timeout(self.call_timeout):
                    result = await future
            except CallFailed as exc:
                if exc.kind == "error":
                    self.stats.errors_by_action[action] += 1
                raise
            except TimeoutError:
                self.stats.timeouts += 1
                raise CallFailed("timeout", f"{action}: no answer within "
                                 f"{self.call_timeout:g} s") from None
            finally:
                self._pending_id = self._pending = None
            self.stats.latency.add(time.perf_counter() - started)
            self.stats.answered += 1
            if self.on_answered is not None:
                self.on_answered(action, payload, result)
            return result

    def close(self) -> None:
        """The connection is gone: the outstanding CALL fails with `closed`."""
        self._closed = True
        if self._pending is not None and not self._pending.done():
            self._pending.set_exception(CallFailed("closed", "connection closed"))

    async def on_text(self, text: str) -> None:
        frame = frames.parse(text, self.version)
        if isinstance(frame, frames.CallResult):
            self._settle(frame.unique_id, frame.payload, None)
        elif isinstance(frame, frames.CallError):
            self._settle(frame.unique_id, None, frame)
        elif isinstance(frame, frames.Call):
            if frame.message_type == CALL:
                await self._answer(frame)
        elif isinstance(frame, frames.BadFrame):
            self.stats.bad_frames += 1
            if frame.reply is not None:
                await self._send_reply(frame.reply, error=True)
        # frames.Ignored: a message type the version tells us to ignore (ER-06)

    def _settle(self, unique_id: str, payload: dict[str, Any] | None,
                error: frames.CallError | None) -> None:
        future = self._pending
        if unique_id != self._pending_id or future is None or future.done():
            self.stats.unexpected += 1  # SY-06: late or unknown; never answered
            return
        if error is None:
            future.set_result(payload or {})
            return
        self.stats.errors_received[error.code] += 1
        future.set_exception(CallFailed("error", f"{error.code}: {error.description}",
                                        error.code))

    async def _answer(self, call: frames.Call) -> None:
        self.stats.calls_received += 1
        if self.on_call is not None:
            self.on_call(call.unique_id, call.action, call.payload)
        reply = self._check(call)
        if reply is None:
            try:
                reply = await self.handler(call.action, call.payload)
            except Exception as exc:  # ER-11: a failure to process is an InternalError
                reply = Reply(error="InternalError", description=f"{type(exc).__name__}: {exc}")
        if reply.error:
            code = error_code(self.version, reply.error)
            await self._send_reply(frames.error_frame(call.unique_id, code, reply.description),
                                   error=True)
        else:
            raw = orjson.dumps(reply.payload or {}).decode()
            await self._send_reply(frames.result_frame(call.unique_id, raw), error=False)
            if reply.then is not None:
                reply.then()

    def _check(self, call: frames.Call) -> Reply | None:
        """ER-04 and ER-07: unknown action, wrong direction, invalid payload."""
        if not self.schemas.is_action(self.version, call.action):
            return Reply(error="NotImplemented",
                         description=f"{call.action} is not an OCPP {self.version.value} action")
        if not sent_by_central_system(self.version, call.action):
            return Reply(error="NotSupported",
                         description=f"{call.action} is sent by charge points, not to them")
        problem = self.schemas.check(self.version, call.action, call.payload, response=False)
        if problem is not None:
            return Reply(error=problem.code, description=problem.describe())
        return None

    async def _send_reply(self, frame: str, *, error: bool) -> None:
        if error:
            self.stats.errors_sent += 1
        # a failed write means the connection is going away; the reader sees it next
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.link.send(frame)

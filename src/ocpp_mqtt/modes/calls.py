"""CALLs the gateway sends a charge point itself and awaits (central mode's commands and
TriggerMessages, the admin API's synchronous call).

They take the same path as a backend's CALL over MQTT: `Session.backend_call` with a
:class:`LocalCall` as ctx, so they queue behind the outstanding CALL (SY-01), count against
`max_queue`, are validated and time out like any other; the relay resolves the ctx with the
charge point's answer (`Relay._dispatch_one`) instead of publishing that answer.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..ocppj import events as ev

if TYPE_CHECKING:
    from .relay import Relay

# CommandResult.status values
ANSWERED = "answered"  # the charge point answered with a CALLRESULT: see `result`
REJECTED = "rejected"  # it answered with a CALLERROR: see `error`
OFFLINE = "offline"  # it is not connected (or disconnected before answering)
TIMEOUT = "timeout"  # no answer within call_timeout
INVALID = "invalid"  # the command is malformed, unknown, or its payload fails the schema
QUEUE_FULL = "queue_full"
LIMITED = "limited"  # refused by the gateway's rate limit (e.g. current limit updates)


@dataclass(slots=True)
class CommandResult:
    status: str
    action: str  # the OCPP action sent (or the command name when nothing was sent)
    reason: str = ""
    result: dict[str, Any] | None = None  # the CALLRESULT payload (for `invalid`: the answer
    # that failed its schema, when the charge point's answer was the invalid part)
    error: dict[str, Any] | None = None  # {"code", "description", "details"} of a CALLERROR
    steps: list[dict[str, Any]] = field(default_factory=list)  # for multi-call commands
    unique_id: str | None = None  # the UniqueId of the CALL, once one was sent or queued

    @property
    def ok(self) -> bool:
        """Answered, and not with a status that says no (Rejected, NotSupported, ...)."""
        if self.status != ANSWERED:
            return False
        status = (self.result or {}).get("status")
        return status is None or status in ("Accepted", "Unlocked", "Scheduled")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "action": self.action}
        if self.reason:
            out["reason"] = self.reason
        if self.result is not None:
            out["result"] = self.result
        if self.error is not None:
            out["error"] = self.error
        if self.steps:
            out["steps"] = self.steps
        return out


class LocalCall:
    """The ctx of a CALL the gateway sends itself: the relay resolves it with the charge
    point's answer instead of publishing that answer."""

    __slots__ = ("action", "future", "queued_at")

    def __init__(self, action: str, future: asyncio.Future[CommandResult]) -> None:
        self.action = action
        self.future = future
        self.queued_at = time.monotonic()

    def finish(self, result: CommandResult) -> None:
        if not self.future.done():
            self.future.set_result(result)

    def resolve(self, event: ev.Event) -> None:
        kind = type(event)
        if kind is ev.UpResult:
            answer: ev.UpResult = event  # type: ignore[assignment]
            self.finish(CommandResult(ANSWERED, self.action, result=answer.payload,
                                      unique_id=answer.unique_id))
        elif kind is ev.UpError:
            error: ev.UpError = event  # type: ignore[assignment]
            self.finish(CommandResult(REJECTED, self.action,
                                      reason=f"the charge point answered {error.code}",
                                      error={"code": error.code,
                                             "description": error.description,
                                             "details": error.details},
                                      unique_id=error.unique_id))
        elif kind is ev.Outcome:
            outcome: ev.Outcome = event  # type: ignore[assignment]
            if outcome.final and outcome.status != ev.ANSWERED:
                status = {ev.INVALID: INVALID, ev.QUEUE_FULL: QUEUE_FULL,
                          ev.TIMEOUT: TIMEOUT}.get(outcome.status, OFFLINE)
                answer_payload = (outcome.extra or {}).get("Payload")
                self.finish(CommandResult(status, self.action, reason=outcome.reason,
                                          result=answer_payload,
                                          unique_id=outcome.unique_id))


async def send_call(relay: Relay, identity: str, action: str, payload: Any,
                    unique_id: str | None = None) -> CommandResult:
    """Send a CALL to a charge point connected here and wait for what becomes of it (at
    most the queue's wait plus call_timeout: the session ends every CALL with an outcome)."""
    conn = relay.connections.get(identity)
    if conn is None or conn.detached:
        return CommandResult(OFFLINE, action, reason="the charge point is not connected")
    future: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
    events = conn.session.backend_call(unique_id, action, payload, LocalCall(action, future),
                                       time.monotonic())
    relay.dispatch(conn, events)
    relay.watch(conn)
    return await future

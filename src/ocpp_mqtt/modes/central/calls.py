"""The gateway's own CALLs to a charge point (commands, TriggerMessage) and their answers."""

from __future__ import annotations

import asyncio

from ...ocppj import events as ev
from . import profile as pr
from .profile import CommandResult


class LocalCall:
    """The ctx of a CALL the gateway sends itself (a command, a TriggerMessage): the relay
    resolves it with the charge point's answer instead of publishing that answer."""

    __slots__ = ("action", "future")

    def __init__(self, action: str, future: asyncio.Future[CommandResult]) -> None:
        self.action = action
        self.future = future

    def finish(self, result: CommandResult) -> None:
        if not self.future.done():
            self.future.set_result(result)

    def resolve(self, event: ev.Event) -> None:
        kind = type(event)
        if kind is ev.UpResult:
            self.finish(CommandResult(pr.ANSWERED, self.action,
                                      result=event.payload))  # type: ignore[union-attr]
        elif kind is ev.UpError:
            error: ev.UpError = event  # type: ignore[assignment]
            self.finish(CommandResult(pr.REJECTED, self.action,
                                      reason=f"the charge point answered {error.code}",
                                      error={"code": error.code,
                                             "description": error.description,
                                             "details": error.details}))
        elif kind is ev.Outcome:
            outcome: ev.Outcome = event  # type: ignore[assignment]
            if outcome.final and outcome.status != ev.ANSWERED:
                status = {ev.INVALID: pr.INVALID, ev.QUEUE_FULL: pr.QUEUE_FULL,
                          ev.TIMEOUT: pr.TIMEOUT}.get(outcome.status, pr.OFFLINE)
                self.finish(CommandResult(status, self.action, reason=outcome.reason))

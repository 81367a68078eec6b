"""CALLs toward one charge point: one outstanding at a time, the others waiting in order (SY-01).

No I/O. The session hands it CALLs it has already checked and the clock; it returns the events
of writing one (`SendFrame` plus a non-final `sent` Outcome) or of ending one (`timeout`,
`offline`). Two sources feed it: MQTT (also the admin API, central mode and a secondary CSMS)
through `queue`, bounded by `max_queue`, and the upstream CSMS in proxy mode through `urgent`,
always served first so it never waits on MQTT. The id written to the charge point (the wire id)
may differ from the one its sender knows (MID-06); events always report the sender's.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson

from . import events as ev
from .frames import call_frame
from .policy import Policy
from .versions import CALL

# A CSMS keeps one CALL outstanding (SY-01): more than this waiting means it ignores the rule.
# Independent of max_queue, which bounds MQTT's CALLs: those never crowd out the CSMS's.
MAX_UPSTREAM_QUEUE = 100


@dataclass(slots=True)
class OutCall:
    """A CALL toward the charge point: queued, or the one outstanding."""

    unique_id: str  # the id its sender knows it by (what events report)
    action: str
    raw_payload: str
    ctx: Any
    deadline: float = 0.0
    wire_id: str = ""  # the id written to the charge point ("" = unique_id)
    frame: str | None = None  # the exact text to write (an upstream CSMS's CALL)

    @property
    def upstream(self) -> bool:
        """From the upstream CSMS: relayed as sent, its answer too (not validated)."""
        return self.frame is not None


class OutgoingCalls:
    """The outgoing CALL queue of one connection: the outstanding CALL, the waiting ones, ids."""

    __slots__ = ("_stats", "calls_out", "current", "ids", "policy", "queue", "urgent", "wire")

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._stats = policy.stats
        self.current: OutCall | None = None  # the one outstanding CALL
        self.queue: deque[OutCall] = deque()  # CALLs from MQTT (or a secondary CSMS)
        self.urgent: deque[OutCall] = deque()  # the upstream CSMS's CALLs: sent first
        self.ids: set[str] = set()  # sender ids of the outstanding and queued MQTT CALLs
        self.wire: set[str] = set()  # wire ids of the outstanding and queued CALLs
        self.calls_out = 0  # CALLs written to the charge point (the admin API shows it)

    @property
    def waiting(self) -> int:
        """CALLs queued behind the outstanding one, of both sources."""
        return len(self.queue) + len(self.urgent)

    def add(self, unique_id: str, action: str, payload: dict[str, Any], ctx: Any,
            now: float) -> list[ev.Event]:
        """A checked CALL from MQTT: written now when none is outstanding, else queued (SY-01),
        or refused (`queue_full` when max_queue CALLs wait already). The caller refused it
        first when its id is in `ids`."""
        if self.current is not None and len(self.queue) >= self.policy.max_queue:
            self._stats.hit("queue_full")
            return [ev.Outcome(unique_id, ev.QUEUE_FULL,
                               f"{self.policy.max_queue} CALLs already queued", action, CALL,
                               ctx)]
        try:
            call = OutCall(unique_id, action, orjson.dumps(payload).decode(), ctx)
        except TypeError as exc:  # orjson: nested deeper than it serialises (254 levels)
            return [ev.Outcome(unique_id, ev.INVALID, f"Payload cannot be serialised: {exc}",
                               action, CALL, ctx)]
        call.wire_id = self.fresh_id() if self.policy.own_ids else unique_id
        self.ids.add(unique_id)
        self.wire.add(call.wire_id)
        if self.current is None:
            return self._send(call, now)
        self.queue.append(call)
        return []

    def add_upstream(
        self, unique_id: str, action: str, frame: str, ctx: Any, now: float
    ) -> list[ev.Event]:
        """A CALL from the upstream CSMS, written as sent: never refused because a CALL from MQTT
        is in flight; it waits for the outstanding CALL, ahead of every queued MQTT CALL (SY-01,
        LC-03). A queued MQTT CALL whose wire id equals this id gets another one (MID-06).
        Refusals (a duplicate id, a full queue) come back as an Outcome."""
        out = self.current
        if (out is not None and out.upstream and out.unique_id == unique_id) or any(
                c.unique_id == unique_id for c in self.urgent):
            return [ev.Outcome(unique_id, ev.INVALID, "a CALL with this MessageId is already "
                               "pending at the charge point", action, CALL, ctx)]
        if out is not None and len(self.urgent) >= MAX_UPSTREAM_QUEUE:
            return [ev.Outcome(unique_id, ev.QUEUE_FULL,
                               f"{MAX_UPSTREAM_QUEUE} upstream CALLs already queued",
                               action, CALL, ctx)]
        if unique_id in self.wire:  # MID-06: an injected CALL drew this id; it yields
            for queued in self.queue:
                if queued.wire_id == unique_id:
                    queued.wire_id = self.fresh_id(unique_id)
                    self.wire.add(queued.wire_id)
        call = OutCall(unique_id, action, "", ctx, wire_id=unique_id, frame=frame)
        self.wire.add(unique_id)
        if out is None:
            return self._send(call, now)
        self.urgent.append(call)
        return []

    def advance(self, now: float) -> list[ev.Event]:
        """The outstanding CALL is done: send the next queued one, if any (SY-01)."""
        out = self.current
        if out is not None:
            if not out.upstream:
                self.ids.discard(out.unique_id)
            self.wire.discard(out.wire_id or out.unique_id)
            self.current = None
        if self.urgent:  # the upstream CSMS's CALLs first: it must never wait on MQTT's
            return self._send(self.urgent.popleft(), now)
        if self.queue:
            return self._send(self.queue.popleft(), now)
        return []

    def expire(self, now: float) -> list[ev.Event]:
        """The outstanding CALL ends as `timeout` past its deadline (SY-03); the next is sent."""
        out = self.current
        if out is None or out.deadline > now:
            return []
        self._stats.timeouts_out += 1
        events: list[ev.Event] = [ev.Outcome(
            out.unique_id, ev.TIMEOUT,
            f"no answer from the charge point within {self.policy.call_timeout:g} s",
            out.action, CALL, out.ctx,
        )]
        events.extend(self.advance(now))
        return events

    def close(self) -> list[ev.Event]:
        """The connection ended: every CALL, outstanding or queued, ends as `offline`."""
        calls = ([self.current] if self.current is not None else []) + list(self.urgent) + \
            list(self.queue)
        events: list[ev.Event] = [
            ev.Outcome(call.unique_id, ev.OFFLINE,
                       "the charge point disconnected before answering", call.action, CALL,
                       call.ctx)
            for call in calls
        ]
        self.current = None
        self.queue.clear()
        self.urgent.clear()
        self.ids.clear()
        self.wire.clear()
        return events

    def fresh_id(self, taken: str | None = None) -> str:
        """A UUIDv4 (MID-02) not in flight toward the charge point under any source (MID-06)."""
        while True:
            wire = str(uuid.uuid4())
            if wire not in self.wire and wire != taken:
                return wire

    def _send(self, call: OutCall, now: float) -> list[ev.Event]:
        call.deadline = now + self.policy.call_timeout
        self.current = call
        self.calls_out += 1
        table = self._stats.calls_out
        table[call.action] = table.get(call.action, 0) + 1
        frame = call.frame
        if frame is None:
            frame = call_frame(call.wire_id or call.unique_id, call.action, call.raw_payload)
        return [
            ev.SendFrame(frame),
            ev.Outcome(call.unique_id, ev.SENT, "CALL sent to the charge point", call.action,
                       CALL, call.ctx, final=False),
        ]

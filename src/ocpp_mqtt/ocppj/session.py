"""The OCPP-J RPC core of one charge point connection: no I/O, events in, events out.

Inputs are text frames from the charge point, messages from the backend (already decoded by a
northbound profile) and the clock; outputs are :mod:`events`. The rules enforced here and in the
two halves a `Session` owns: framing and ids (FR-*, MID-*), one outstanding CALL per direction
with a FIFO queue and a timeout (SY-*), the version's error codes (ER-*), and schema validation
per direction.

- `incoming.py` (`IncomingCalls`): the charge point's CALLs, pending until the backend answers,
  and the checks on that answer.
- `outgoing.py` (`OutgoingCalls`): CALLs toward the charge point, one outstanding, the others
  queued (MQTT's and, in proxy mode, the upstream CSMS's), and their ids.
- here: routing each frame from the charge point, the checks on a backend's CALL before it is
  queued, and the charge point's answer to the outstanding CALL (matched, validated).
"""

from __future__ import annotations

import uuid
from collections import deque
from typing import Any

from . import events as ev
from .actions import sent_by_central_system
from .frames import (
    MAX_ID_LENGTH,
    BadFrame,
    Call,
    CallError,
    CallResult,
    Ignored,
    error_frame,
    find_null,
    parse,
    reply_code,
)
from .incoming import IncomingCalls
from .outgoing import OutCall, OutgoingCalls
from .policy import Policy
from .validation import Schemas
from .versions import (
    CALL,
    CALLERROR,
    CALLRESULT,
    CALLRESULTERROR,
    Version,
)

__all__ = ["Policy", "Session"]  # Policy lives in policy.py; most callers import it from here


class Session:
    """RPC state of one WebSocket connection of one charge point."""

    __slots__ = ("_2x", "_incoming", "_outgoing", "_stats", "_v", "errors_in", "policy",
                 "schemas", "version")

    def __init__(self, version: Version, schemas: Schemas, policy: Policy) -> None:
        self.version = version
        self.schemas = schemas
        self.policy = policy
        self._v = schemas.for_version(version)
        self._2x = version.is_2x
        self._stats = policy.stats
        self._incoming = IncomingCalls(version, self._v, policy)
        self._outgoing = OutgoingCalls(policy)
        self.errors_in = 0  # CALLERRORs from the charge point (the admin API shows the counts)

    # ---- introspection ------------------------------------------------------------------

    @property
    def calls_in(self) -> int:
        """CALLs (and SENDs) the charge point sent that passed the checks."""
        return self._incoming.calls_in

    @property
    def errors_out(self) -> int:
        """CALLERRORs written to the charge point."""
        return self._incoming.errors_out

    @property
    def calls_out(self) -> int:
        """CALLs written to the charge point."""
        return self._outgoing.calls_out

    @property
    def idle(self) -> bool:
        """True when nothing waits for an answer, so no timer is needed."""
        return self._outgoing.current is None and not self._incoming.pending

    @property
    def queue_length(self) -> int:
        return self._outgoing.waiting

    @property
    def _queue(self) -> deque[OutCall]:
        """The queued CALLs from MQTT (white-box tests read their wire ids)."""
        return self._outgoing.queue

    def pending_action(self, unique_id: str) -> str | None:
        """The action of a charge point CALL still awaiting its answer."""
        entry = self._incoming.pending.get(unique_id)
        return entry[0] if entry else None

    def pending(self, now: float) -> dict[str, Any]:
        """What waits for an answer in each direction, for the admin API (not the hot path):
        ages in seconds since the CALL was received or sent."""
        timeout = self.policy.call_timeout
        out = self._outgoing.current
        return {
            "from_charge_point": [
                {"unique_id": uid, "action": action, "age_s": round(now - d + timeout, 3)}
                for uid, (action, d) in self._incoming.pending.items()],
            "to_charge_point": None if out is None else {
                "unique_id": out.unique_id, "action": out.action,
                "age_s": round(now - out.deadline + timeout, 3)},
            "queued": [{"unique_id": c.unique_id, "action": c.action}
                       for c in self._outgoing.queue],
        }

    def pending_counts(self) -> tuple[int, int]:
        """(charge point CALLs awaiting an answer, CALLs to it awaiting one: 0 or 1)."""
        return len(self._incoming.pending), 0 if self._outgoing.current is None else 1

    def next_deadline(self) -> float | None:
        deadlines = [d for _, d in self._incoming.pending.values()]
        if self._outgoing.current is not None:
            deadlines.append(self._outgoing.current.deadline)
        return min(deadlines) if deadlines else None

    # ---- frames from the charge point ---------------------------------------------------

    def receive(self, text: str, now: float) -> list[ev.Event]:
        frame = parse(text, self.version)
        if type(frame) is Call:
            return self._incoming.call(frame, now)
        if type(frame) is CallResult:
            return self._cp_result(frame, now)
        if type(frame) is CallError:
            return self._cp_error(frame, now)
        if type(frame) is BadFrame:
            problem = ev.Problem("bad_frame", frame.problem, frame.unique_id)
            if frame.reply is None:
                return [problem]
            self._incoming.error_out(reply_code(frame.reply))
            return [ev.SendFrame(frame.reply), problem]
        assert type(frame) is Ignored
        return [ev.Problem("ignored_frame", frame.problem)]

    def _cp_result(self, result: CallResult, now: float) -> list[ev.Event]:
        out = self._outgoing.current
        if out is None or (out.wire_id or out.unique_id) != result.unique_id:  # SY-06
            return [ev.Problem("unknown_result", "CALLRESULT for no pending CALL",
                               result.unique_id)]
        stats = self._stats
        table = stats.results_in
        table[out.action] = table.get(out.action, 0) + 1
        stats.rtt_cs.observe(now - out.deadline + self.policy.call_timeout)
        if self.policy.validate_cp_results and not out.upstream:
            error = self._v.check(out.action, result.payload, True)
            if error is not None:
                reason = f"{out.action} result does not match its schema: {error.describe()}"
                events: list[ev.Event] = [
                    ev.Outcome(
                        out.unique_id,
                        ev.INVALID,
                        reason,
                        out.action,
                        CALL,
                        out.ctx,
                        extra={"Payload": result.payload},
                    )
                ]
                if self.version is Version.V21:  # FR-04: tell the charge point
                    events.append(
                        ev.SendFrame(
                            error_frame(
                                out.wire_id or out.unique_id, error.code, error.describe(), None,
                                CALLRESULTERROR,
                            )
                        )
                    )
                return events + self._outgoing.advance(now)
        events = [
            ev.UpResult(out.unique_id, out.action, result.raw_payload, result.payload, out.ctx),
            ev.Outcome(
                out.unique_id, ev.ANSWERED, "the charge point answered with a CALLRESULT",
                out.action, CALL, out.ctx, extra={"ReplyMessageTypeId": CALLRESULT},
            ),
        ]
        return events + self._outgoing.advance(now)

    def _cp_error(self, error: CallError, now: float) -> list[ev.Event]:
        self.errors_in += 1
        table = self._stats.errors_in
        table[error.code] = table.get(error.code, 0) + 1
        if error.message_type == CALLRESULTERROR:  # about a result the backend sent (FR-04)
            action = None
            return [
                ev.UpError(
                    error.unique_id, action, error.code, error.description, error.details,
                    CALLRESULTERROR,
                )
            ]
        out = self._outgoing.current
        if out is None or (out.wire_id or out.unique_id) != error.unique_id:  # SY-06
            return [ev.Problem("unknown_result", "CALLERROR for no pending CALL", error.unique_id)]
        self._stats.rtt_cs.observe(now - out.deadline + self.policy.call_timeout)
        events: list[ev.Event] = [
            ev.UpError(
                out.unique_id, out.action, error.code, error.description, error.details,
                CALLERROR, out.ctx,
            ),
            ev.Outcome(
                out.unique_id, ev.ANSWERED,
                f"the charge point answered with CALLERROR {error.code}",
                out.action, CALL, out.ctx, extra={"ReplyMessageTypeId": CALLERROR},
            ),
        ]
        return events + self._outgoing.advance(now)

    # ---- messages from the backend -----------------------------------------------------

    def backend_call(
        self, unique_id: str | None, action: str, payload: Any, ctx: Any, now: float
    ) -> list[ev.Event]:
        """A CALL toward the charge point: sent at once, or queued behind the outstanding one."""
        if unique_id is None:
            unique_id = str(uuid.uuid4())  # MID-02: UUIDv4 for ids the gateway chooses

        def refuse(status: str, reason: str) -> list[ev.Event]:
            return [ev.Outcome(unique_id, status, reason, action, CALL, ctx)]

        if len(unique_id) > MAX_ID_LENGTH:
            return refuse(ev.INVALID, f"UniqueId is longer than {MAX_ID_LENGTH} characters")
        outgoing = self._outgoing
        if unique_id in outgoing.ids:
            return refuse(ev.INVALID, "a CALL with this UniqueId is already queued or pending")
        known = action
        validate = self.policy.validate_mqtt_calls
        if not self._v.is_action(action):
            signed = self._v.signed_base(action) if self.policy.relay_signed else None
            if signed is None:
                return refuse(ev.INVALID, f"unknown action {action!r} in OCPP "
                              f"{self.version.value}")
            known, validate = signed, False  # a JWS payload has no OCPP schema (FR-11)
        if self.policy.check_direction and not sent_by_central_system(self.version, known):
            return refuse(ev.INVALID, f"{known} is sent by charge points, not to them")
        if not isinstance(payload, dict):
            return refuse(ev.INVALID, "Payload must be a JSON object")
        if self._2x:
            null_at = find_null(payload, "")
            if null_at is not None:  # FR-08: omit empty optional fields, never send null
                return refuse(ev.INVALID, f"null at {null_at}: omit empty optional fields")
        if validate:
            error = self._v.check(action, payload, False)
            if error is not None:
                return refuse(ev.INVALID, f"{action} does not match its schema: {error.describe()}")
        return outgoing.add(unique_id, action, payload, ctx, now)  # or queue_full (SY-01)

    def upstream_call(
        self, unique_id: str, action: str, frame: str, ctx: Any, now: float
    ) -> list[ev.Event]:
        """A CALL from the upstream CSMS (proxy mode), written to the charge point as sent,
        ahead of MQTT's queued CALLs (`OutgoingCalls.add_upstream`)."""
        return self._outgoing.add_upstream(unique_id, action, frame, ctx, now)

    def upstream_answer(self, unique_id: str, frame: str, message_type: int,
                        payload: dict[str, Any] | None, now: float) -> list[ev.Event]:
        """The upstream CSMS's CALLRESULT or CALLERROR (or 2.1 CALLRESULTERROR) to a charge
        point CALL: written to the charge point as sent (MID-03)."""
        return self._incoming.upstream_answer(unique_id, frame, message_type, payload, now)

    def backend_result(
        self, unique_id: str, payload: Any, ctx: Any, now: float
    ) -> list[ev.Event]:
        """The backend's CALLRESULT to a charge point CALL."""
        return self._incoming.result(unique_id, payload, ctx, now)

    def backend_error(
        self,
        unique_id: str,
        code: str,
        description: str,
        details: Any,
        ctx: Any,
        now: float,
        message_type: int = CALLERROR,
    ) -> list[ev.Event]:
        """The backend's CALLERROR to a charge point CALL (or a 2.1 CALLRESULTERROR)."""
        return self._incoming.error(unique_id, code, description, details, ctx, now,
                                    message_type)

    # ---- time and end of connection -----------------------------------------------------

    def expire(self, now: float) -> list[ev.Event]:
        """Apply call_timeout in both directions (SY-03)."""
        events = self._incoming.expire(now) if self._incoming.pending else []
        events.extend(self._outgoing.expire(now))
        return events

    def close(self) -> list[ev.Event]:
        """The connection ended: every CALL still owed to the backend ends as `offline`."""
        events = self._outgoing.close()
        self._incoming.pending.clear()
        return events

"""The OCPP-J RPC core of one charge point connection: no I/O, events in, events out.

Inputs are text frames from the charge point, messages from the backend (already decoded by a
northbound profile) and the clock; outputs are :mod:`events`. The rules enforced here:
framing and ids (FR-*, MID-*), one outstanding CALL per direction with a FIFO queue and a
timeout (SY-*), the version's error codes (ER-*), and schema validation per direction.

It is one state machine (the pending CALLs of both directions), kept in one file on purpose:
both directions share its tables, and the rules read best side by side.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson

from . import events as ev
from .actions import CP_INITIATED, sent_by_central_system
from .frames import (
    MAX_DESCRIPTION,
    MAX_ID_LENGTH,
    BadFrame,
    Call,
    CallError,
    CallResult,
    Ignored,
    call_frame,
    error_frame,
    parse,
    result_frame,
)
from .ratelimit import TokenBucket
from .stats import Stats
from .validation import Schemas
from .versions import (
    CALL,
    CALLERROR,
    CALLRESULT,
    CALLRESULTERROR,
    SEND,
    Version,
    normalise_error_code,
)
from .versions import error_code as spell

SIGNED_SUFFIX = "-Signed"  # FR-11
# A CSMS keeps one CALL outstanding (SY-01): more than this waiting means it ignores the rule.
# Independent of max_queue, which bounds MQTT's CALLs: those never crowd out the CSMS's.
MAX_UPSTREAM_QUEUE = 100


@dataclass(slots=True)
class Policy:
    """Per-gateway settings the core needs."""

    max_queue: int = 100
    call_timeout: float = 30.0
    validate_cp_calls: bool = True
    validate_cp_results: bool = True
    validate_mqtt_calls: bool = True
    validate_mqtt_results: bool = True
    relay_signed: bool = True
    check_direction: bool = True
    # Proxy mode (MID-06): CALLs from MQTT go out under ids the gateway draws, never the
    # publisher's, so they cannot collide with the ids of the upstream CSMS.
    own_ids: bool = False
    stats: Stats = field(default_factory=Stats)  # shared by the gateway's sessions
    # CALLs (and 2.1 SENDs) a charge point may send: `rate_limit` a second on average,
    # `rate_burst` at once (0: no limit); beyond, a CALLERROR, or the socket is closed
    rate_limit: float = 0.0
    rate_burst: float = 0.0
    rate_limit_close: bool = False


@dataclass(slots=True)
class _OutCall:
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


class Session:
    """RPC state of one WebSocket connection of one charge point."""

    __slots__ = ("_2x", "_bucket", "_cp_actions", "_in", "_out", "_out_ids", "_queue", "_stats",
                 "_urgent", "_v", "_wire", "calls_in", "calls_out", "errors_in", "errors_out",
                 "policy", "schemas", "version")

    def __init__(self, version: Version, schemas: Schemas, policy: Policy) -> None:
        self.version = version
        self.schemas = schemas
        self.policy = policy
        self._v = schemas.for_version(version)
        self._2x = version.is_2x
        # actions a charge point may send (None: no direction check)
        self._cp_actions = CP_INITIATED[version] if policy.check_direction else None
        # charge point CALLs awaiting the backend's answer: id -> (action, deadline)
        self._in: dict[str, tuple[str, float]] = {}
        self._out: _OutCall | None = None  # the one outstanding CALL to the charge point
        self._queue: deque[_OutCall] = deque()  # CALLs from MQTT (or a secondary CSMS)
        self._urgent: deque[_OutCall] = deque()  # the upstream CSMS's CALLs: sent first
        self._out_ids: set[str] = set()  # sender ids of the outstanding and queued MQTT CALLs
        self._wire: set[str] = set()  # wire ids of the outstanding and queued CALLs
        self._stats = policy.stats
        self._bucket: TokenBucket | None = None  # made at the first CALL (rate_limit > 0)
        # this connection's own counts (the admin API shows them)
        self.calls_in = self.calls_out = self.errors_in = self.errors_out = 0

    # ---- introspection ------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """True when nothing waits for an answer, so no timer is needed."""
        return self._out is None and not self._in

    @property
    def queue_length(self) -> int:
        return len(self._queue) + len(self._urgent)

    def pending_action(self, unique_id: str) -> str | None:
        """The action of a charge point CALL still awaiting its answer."""
        entry = self._in.get(unique_id)
        return entry[0] if entry else None

    def pending(self, now: float) -> dict[str, Any]:
        """What waits for an answer in each direction, for the admin API (not the hot path):
        ages in seconds since the CALL was received or sent."""
        timeout = self.policy.call_timeout
        out = self._out
        return {
            "from_charge_point": [
                {"unique_id": uid, "action": action, "age_s": round(now - d + timeout, 3)}
                for uid, (action, d) in self._in.items()],
            "to_charge_point": None if out is None else {
                "unique_id": out.unique_id, "action": out.action,
                "age_s": round(now - out.deadline + timeout, 3)},
            "queued": [{"unique_id": c.unique_id, "action": c.action} for c in self._queue],
        }

    def pending_counts(self) -> tuple[int, int]:
        """(charge point CALLs awaiting an answer, CALLs to it awaiting one: 0 or 1)."""
        return len(self._in), 0 if self._out is None else 1

    def next_deadline(self) -> float | None:
        deadlines = [d for _, d in self._in.values()]
        if self._out is not None:
            deadlines.append(self._out.deadline)
        return min(deadlines) if deadlines else None

    # ---- frames from the charge point ---------------------------------------------------

    def receive(self, text: str, now: float) -> list[ev.Event]:
        frame = parse(text, self.version)
        if type(frame) is Call:
            return self._cp_call(frame, now)
        if type(frame) is CallResult:
            return self._cp_result(frame, now)
        if type(frame) is CallError:
            return self._cp_error(frame, now)
        if type(frame) is BadFrame:
            problem = ev.Problem("bad_frame", frame.problem, frame.unique_id)
            if frame.reply is None:
                return [problem]
            self._error_out(_reply_code(frame.reply))
            return [ev.SendFrame(frame.reply), problem]
        assert type(frame) is Ignored
        return [ev.Problem("ignored_frame", frame.problem)]

    def _within_rate(self, now: float) -> bool:
        if self._bucket is None:
            policy = self.policy
            burst = policy.rate_burst or max(1.0, policy.rate_limit)
            self._bucket = TokenBucket(policy.rate_limit, burst, now)
        return self._bucket.take(now)

    def _rate_limited(self, call: Call) -> list[ev.Event]:
        self._stats.hit("rate")
        policy = self.policy
        what = (f"more than {policy.rate_limit:g} messages a second "
                f"({policy.rate_burst or policy.rate_limit:g} at once)")
        problem = ev.Problem("rate_limit", what, call.unique_id)
        if policy.rate_limit_close:
            return [problem, ev.Close(1008, "message rate limit exceeded")]
        if call.message_type == SEND:  # never answered (FR-05): dropped
            return [problem]
        return [self._callerror(call.unique_id, "GenericError",
                                f"rate limit: {what}; send it again later"), problem]

    def _callerror(self, unique_id: str, code: str, description: str) -> ev.SendFrame:
        spelled = spell(self.version, code)
        self._error_out(spelled)
        return ev.SendFrame(error_frame(unique_id, spelled, description))

    def _error_out(self, code: str) -> None:
        self.errors_out += 1
        table = self._stats.errors_out
        table[code] = table.get(code, 0) + 1

    def _cp_call(self, call: Call, now: float) -> list[ev.Event]:
        if self.policy.rate_limit and not self._within_rate(now):
            return self._rate_limited(call)
        action = call.action
        if call.message_type == SEND:
            return self._cp_send(call)
        uid = call.unique_id
        if uid in self._in:  # MID-05: a duplicate of a CALL still being processed
            return [
                self._callerror(
                    uid,
                    "RpcFrameworkError" if self._2x else "GenericError",
                    "a CALL with this MessageId is still being processed",
                ),
                ev.Problem("duplicate_id", "CALL id already pending", uid),
            ]
        validate = self.policy.validate_cp_calls
        known = action
        if not self._v.is_action(action):
            signed = self._signed_base(action)
            if signed is None:  # ER-04: an action the receiver does not know
                return [
                    self._callerror(uid, "NotImplemented",
                                    f"unknown action {action!r} in OCPP {self.version.value}"),
                    ev.Problem("unknown_action", action, uid),
                ]
            known, validate = signed, False  # a JWS payload has no OCPP schema (FR-11)
        if self._cp_actions is not None and known not in self._cp_actions:
            # ER-04: a known action, but one only the central system sends
            return [
                self._callerror(uid, "NotSupported",
                                f"{known} is sent by the central system, not by a charge point"),
                ev.Problem("wrong_direction", action, uid),
            ]
        if validate:
            error = self._v.check(action, call.payload, False)
            if error is not None:
                self._error_out(error.code)
                return [
                    ev.SendFrame(error_frame(uid, error.code, error.describe())),
                    ev.Problem("invalid_call", f"{action} {error.describe()}", uid),
                ]
        self._in[uid] = (action, now + self.policy.call_timeout)
        self.calls_in += 1
        table = self._stats.calls_in
        table[action] = table.get(action, 0) + 1
        return [ev.UpCall(uid, action, call.raw_payload, call.payload, CALL)]

    def _signed_base(self, action: str) -> str | None:
        """The OCPP action of a 2.x `<Action>-Signed` message, when signed messages are relayed."""
        if not (action.endswith(SIGNED_SUFFIX) and self._2x and self.policy.relay_signed):
            return None
        base = action[: -len(SIGNED_SUFFIX)]
        return base if self._v.is_action(base) else None

    def _cp_send(self, call: Call) -> list[ev.Event]:
        # SEND (2.1) is never answered (FR-05) and exempt from SY-01 (SY-05).
        if not self._v.is_action(call.action):
            return [ev.Problem("unknown_action", f"SEND {call.action}", call.unique_id)]
        if self.policy.validate_cp_calls:
            error = self._v.check(call.action, call.payload, False)
            if error is not None:
                detail = f"SEND {call.action} {error.describe()}"
                return [ev.Problem("invalid_send", detail, call.unique_id)]
        self.calls_in += 1
        table = self._stats.calls_in
        table[call.action] = table.get(call.action, 0) + 1
        return [ev.UpCall(call.unique_id, call.action, call.raw_payload, call.payload, SEND)]

    def _cp_result(self, result: CallResult, now: float) -> list[ev.Event]:
        out = self._out
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
                return events + self._advance(now)
        events = [
            ev.UpResult(out.unique_id, out.action, result.raw_payload, result.payload, out.ctx),
            ev.Outcome(
                out.unique_id, ev.ANSWERED, "the charge point answered with a CALLRESULT",
                out.action, CALL, out.ctx, extra={"ReplyMessageTypeId": CALLRESULT},
            ),
        ]
        return events + self._advance(now)

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
        out = self._out
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
        return events + self._advance(now)

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
        if unique_id in self._out_ids:
            return refuse(ev.INVALID, "a CALL with this UniqueId is already queued or pending")
        known = action
        validate = self.policy.validate_mqtt_calls
        if not self._v.is_action(action):
            signed = self._signed_base(action)
            if signed is None:
                return refuse(ev.INVALID, f"unknown action {action!r} in OCPP "
                              f"{self.version.value}")
            known, validate = signed, False  # a JWS payload has no OCPP schema (FR-11)
        if self.policy.check_direction and not sent_by_central_system(self.version, known):
            return refuse(ev.INVALID, f"{known} is sent by charge points, not to them")
        if not isinstance(payload, dict):
            return refuse(ev.INVALID, "Payload must be a JSON object")
        if self._2x:
            null_at = _find_null(payload, "")
            if null_at is not None:  # FR-08: omit empty optional fields, never send null
                return refuse(ev.INVALID, f"null at {null_at}: omit empty optional fields")
        if validate:
            error = self._v.check(action, payload, False)
            if error is not None:
                return refuse(ev.INVALID, f"{action} does not match its schema: {error.describe()}")
        if self._out is not None and len(self._queue) >= self.policy.max_queue:
            self._stats.hit("queue_full")
            return refuse(ev.QUEUE_FULL, f"{self.policy.max_queue} CALLs already queued")
        try:
            call = _OutCall(unique_id, action, orjson.dumps(payload).decode(), ctx)
        except TypeError as exc:  # orjson: nested deeper than it serialises (254 levels)
            return refuse(ev.INVALID, f"Payload cannot be serialised: {exc}")
        call.wire_id = self._fresh_id() if self.policy.own_ids else unique_id
        self._out_ids.add(unique_id)
        self._wire.add(call.wire_id)
        if self._out is None:
            return self._send(call, now)
        self._queue.append(call)  # SY-01: wait for the outstanding CALL
        return []

    def upstream_call(
        self, unique_id: str, action: str, frame: str, ctx: Any, now: float
    ) -> list[ev.Event]:
        """A CALL from the upstream CSMS (proxy mode), written to the charge point as sent.

        It is never refused because a CALL from MQTT is in flight: it waits for the outstanding
        CALL, ahead of every queued MQTT CALL (SY-01, LC-03). A queued MQTT CALL whose wire id
        equals this id gets another one (MID-06). Refusals (a duplicate id, a full queue) come
        back as an Outcome for the edge to answer upstream with a CALLERROR."""
        out = self._out
        if (out is not None and out.upstream and out.unique_id == unique_id) or any(
                c.unique_id == unique_id for c in self._urgent):
            return [ev.Outcome(unique_id, ev.INVALID, "a CALL with this MessageId is already "
                               "pending at the charge point", action, CALL, ctx)]
        if out is not None and len(self._urgent) >= MAX_UPSTREAM_QUEUE:
            return [ev.Outcome(unique_id, ev.QUEUE_FULL,
                               f"{MAX_UPSTREAM_QUEUE} upstream CALLs already queued",
                               action, CALL, ctx)]
        if unique_id in self._wire:  # MID-06: an injected CALL drew this id; it yields
            for queued in self._queue:
                if queued.wire_id == unique_id:
                    queued.wire_id = self._fresh_id(unique_id)
                    self._wire.add(queued.wire_id)
        call = _OutCall(unique_id, action, "", ctx, wire_id=unique_id, frame=frame)
        self._wire.add(unique_id)
        if out is None:
            return self._send(call, now)
        self._urgent.append(call)
        return []

    def upstream_answer(self, unique_id: str, frame: str, message_type: int,
                        payload: dict[str, Any] | None, now: float) -> list[ev.Event]:
        """The upstream CSMS's CALLRESULT or CALLERROR (or 2.1 CALLRESULTERROR) to a charge
        point CALL: written to the charge point as sent (MID-03)."""
        if message_type == CALLRESULTERROR:
            return [ev.SendFrame(frame)]
        entry = self._in.pop(unique_id, None)
        if entry is None:  # SY-06: late (after call_timeout) or unknown
            return [ev.Problem("unknown_result", "upstream answer for no pending charge point "
                               "CALL", unique_id)]
        events: list[ev.Event] = [ev.SendFrame(frame)]
        if entry[0] == "BootNotification" and payload is not None \
                and payload.get("status") == "Accepted":
            interval = payload.get("interval")
            if type(interval) is int and interval >= 0:
                events.append(ev.KeepaliveChanged(interval))
        return events

    def backend_result(
        self, unique_id: str, payload: Any, ctx: Any, now: float
    ) -> list[ev.Event]:
        """The backend's CALLRESULT to a charge point CALL."""
        entry = self._in.get(unique_id)
        if entry is None:
            return [ev.Outcome(unique_id, ev.NOT_PENDING, _not_pending(), None, CALLRESULT, ctx)]
        action = entry[0]
        if not isinstance(payload, dict):
            return [ev.Outcome(unique_id, ev.INVALID, "Payload must be a JSON object", action,
                               CALLRESULT, ctx)]
        if self._2x:
            null_at = _find_null(payload, "")
            if null_at is not None:
                return [ev.Outcome(unique_id, ev.INVALID,
                                   f"null at {null_at}: omit empty optional fields", action,
                                   CALLRESULT, ctx)]
        if self.policy.validate_mqtt_results and not action.endswith(SIGNED_SUFFIX):
            error = self._v.check(action, payload, True)
            if error is not None:
                reason = f"{action} result does not match its schema: {error.describe()}"
                return [ev.Outcome(unique_id, ev.INVALID, reason, action, CALLRESULT, ctx)]
        try:
            frame = result_frame(unique_id, orjson.dumps(payload).decode())
        except TypeError as exc:  # orjson: nested deeper than it serialises (254 levels)
            return [ev.Outcome(unique_id, ev.INVALID, f"Payload cannot be serialised: {exc}",
                               action, CALLRESULT, ctx)]
        del self._in[unique_id]
        stats = self._stats
        table = stats.results_out
        table[action] = table.get(action, 0) + 1
        stats.rtt_cp.observe(now - entry[1] + self.policy.call_timeout)
        events: list[ev.Event] = [
            ev.SendFrame(frame),
            ev.Outcome(unique_id, ev.SENT, "result sent to the charge point", action,
                       CALLRESULT, ctx),
        ]
        if action == "BootNotification" and payload.get("status") == "Accepted":
            interval = payload.get("interval")
            if type(interval) is int and interval >= 0:
                events.append(ev.KeepaliveChanged(interval))
        return events

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

        def refuse(status: str, reason: str, action: str | None = None) -> list[ev.Event]:
            return [ev.Outcome(unique_id, status, reason, action, message_type, ctx)]

        if message_type == CALLRESULTERROR:
            if self.version is not Version.V21:
                return refuse(ev.INVALID, "MessageTypeId 5 exists only in OCPP 2.1")
            action = None
        else:
            entry = self._in.get(unique_id)
            if entry is None:
                return refuse(ev.NOT_PENDING, _not_pending())
            action = entry[0]
        spelled = normalise_error_code(self.version, code)
        if spelled is None:
            return refuse(ev.INVALID, f"ErrorCode {code!r} is not an OCPP {self.version.value} "
                          "error code", action)
        if self._2x and len(description) > MAX_DESCRIPTION:
            return refuse(ev.INVALID, f"ErrorDescription is longer than {MAX_DESCRIPTION} "
                          "characters", action)
        if details is None:
            details = {}
        if not isinstance(details, dict):
            return refuse(ev.INVALID, "ErrorDetails must be a JSON object", action)
        try:
            frame = error_frame(unique_id, spelled, description, details, message_type)
        except TypeError as exc:  # orjson: nested deeper than it serialises (254 levels)
            return refuse(ev.INVALID, f"ErrorDetails cannot be serialised: {exc}", action)
        if message_type == CALLERROR:
            deadline = self._in.pop(unique_id)[1]
            self._stats.rtt_cp.observe(now - deadline + self.policy.call_timeout)
        self._error_out(spelled)
        return [
            ev.SendFrame(frame),
            ev.Outcome(unique_id, ev.SENT, "error sent to the charge point", action,
                       message_type, ctx),
        ]

    # ---- time and end of connection -----------------------------------------------------

    def expire(self, now: float) -> list[ev.Event]:
        """Apply call_timeout in both directions (SY-03)."""
        events: list[ev.Event] = []
        if self._in:
            late = [(uid, a) for uid, (a, deadline) in self._in.items() if deadline <= now]
            self._stats.timeouts_in += len(late)
            for uid, action in late:
                del self._in[uid]
                # Tell the charge point rather than leave it waiting: it will retry (ER-11).
                events.append(self._callerror(
                    uid, "InternalError",
                    f"no answer from the central system within {self.policy.call_timeout:g} s",
                ))
                events.append(ev.Problem("backend_timeout", action, uid))
        out = self._out
        if out is not None and out.deadline <= now:
            self._stats.timeouts_out += 1
            events.append(ev.Outcome(
                out.unique_id, ev.TIMEOUT,
                f"no answer from the charge point within {self.policy.call_timeout:g} s",
                out.action, CALL, out.ctx,
            ))
            events.extend(self._advance(now))
        return events

    def close(self) -> list[ev.Event]:
        """The connection ended: every CALL still owed to the backend ends as `offline`."""
        events: list[ev.Event] = []
        calls = ([self._out] if self._out is not None else []) + list(self._urgent) + \
            list(self._queue)
        for call in calls:
            events.append(ev.Outcome(
                call.unique_id, ev.OFFLINE,
                "the charge point disconnected before answering", call.action, CALL, call.ctx,
            ))
        self._out = None
        self._queue.clear()
        self._urgent.clear()
        self._out_ids.clear()
        self._wire.clear()
        self._in.clear()
        return events

    # ---- internals ----------------------------------------------------------------------

    def _send(self, call: _OutCall, now: float) -> list[ev.Event]:
        call.deadline = now + self.policy.call_timeout
        self._out = call
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

    def _advance(self, now: float) -> list[ev.Event]:
        """The outstanding CALL is done: send the next queued one, if any (SY-01)."""
        out = self._out
        if out is not None:
            if not out.upstream:
                self._out_ids.discard(out.unique_id)
            self._wire.discard(out.wire_id or out.unique_id)
            self._out = None
        if self._urgent:  # the upstream CSMS's CALLs first: it must never wait on MQTT's
            return self._send(self._urgent.popleft(), now)
        if self._queue:
            return self._send(self._queue.popleft(), now)
        return []

    def _fresh_id(self, taken: str | None = None) -> str:
        """A UUIDv4 (MID-02) not in flight toward the charge point under any source (MID-06)."""
        while True:
            wire = str(uuid.uuid4())
            if wire not in self._wire and wire != taken:
                return wire


def _reply_code(frame: str) -> str:
    """The error code of a CALLERROR frame the parser built (`[4,"id","Code",...]`)."""
    try:
        code = orjson.loads(frame)[2]
    except (orjson.JSONDecodeError, IndexError, TypeError):
        return "unknown"
    return code if isinstance(code, str) else "unknown"


def _not_pending() -> str:
    return "no CALL from the charge point with this UniqueId awaits an answer (late or unknown)"


def _find_null(value: Any, path: str) -> str | None:
    if value is None:
        return path or "/"
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_null(item, f"{path}/{key}")
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_null(item, f"{path}/{index}")
            if found is not None:
                return found
    return None

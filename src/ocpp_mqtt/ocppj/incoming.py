"""The charge point's CALLs (CP -> central system): checked, pending until the backend answers.

No I/O. A CALL passes the rate limit, the duplicate check (MID-05), the action checks (ER-04:
known, sent by a charge point) and schema validation, then waits in `pending` for the backend's
CALLRESULT or CALLERROR (or the upstream CSMS's answer in proxy mode), which is checked in turn
(FR-08, FR-09, ER-03, its schema) before it is framed. A CALL unanswered within `call_timeout`
gets an InternalError CALLERROR (SY-03, ER-11). 2.1 SENDs are checked but never pending (FR-05).
The CALLERRORs the gateway writes to the charge point are counted here (`errors_out`).
"""

from __future__ import annotations

from typing import Any

import orjson

from . import events as ev
from .actions import CP_INITIATED
from .frames import (
    MAX_DESCRIPTION,
    SIGNED_SUFFIX,
    Call,
    error_frame,
    find_null,
    result_frame,
)
from .policy import Policy
from .ratelimit import TokenBucket
from .validation import VersionSchemas
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

NOT_PENDING = "no CALL from the charge point with this UniqueId awaits an answer (late or unknown)"


class IncomingCalls:
    """The charge point's CALLs on one connection, and the answers written back to them."""

    __slots__ = ("_2x", "_bucket", "_cp_actions", "_stats", "_v", "calls_in", "errors_out",
                 "pending", "policy", "version")

    def __init__(self, version: Version, validators: VersionSchemas, policy: Policy) -> None:
        self.version = version
        self.policy = policy
        self._v = validators
        self._2x = version.is_2x
        # actions a charge point may send (None: no direction check)
        self._cp_actions = CP_INITIATED[version] if policy.check_direction else None
        self._stats = policy.stats
        self._bucket: TokenBucket | None = None  # made at the first CALL (rate_limit > 0)
        # CALLs awaiting the backend's answer: id -> (action, deadline)
        self.pending: dict[str, tuple[str, float]] = {}
        # this connection's own counts (the admin API shows them)
        self.calls_in = self.errors_out = 0

    # ---- a CALL (or SEND) from the charge point ------------------------------------------

    def call(self, call: Call, now: float) -> list[ev.Event]:
        if self.policy.rate_limit and not self._within_rate(now):
            return self._rate_limited(call)
        action = call.action
        if call.message_type == SEND:
            return self._send_message(call)
        uid = call.unique_id
        if uid in self.pending:  # MID-05: a duplicate of a CALL still being processed
            return [
                self.callerror(
                    uid,
                    "RpcFrameworkError" if self._2x else "GenericError",
                    "a CALL with this MessageId is still being processed",
                ),
                ev.Problem("duplicate_id", "CALL id already pending", uid),
            ]
        validate = self.policy.validate_cp_calls
        known = action
        if not self._v.is_action(action):
            signed = self._v.signed_base(action) if self.policy.relay_signed else None
            if signed is None:  # ER-04: an action the receiver does not know
                return [
                    self.callerror(uid, "NotImplemented",
                                   f"unknown action {action!r} in OCPP {self.version.value}"),
                    ev.Problem("unknown_action", action, uid),
                ]
            known, validate = signed, False  # a JWS payload has no OCPP schema (FR-11)
        if self._cp_actions is not None and known not in self._cp_actions:
            # ER-04: a known action, but one only the central system sends
            return [
                self.callerror(uid, "NotSupported",
                               f"{known} is sent by the central system, not by a charge point"),
                ev.Problem("wrong_direction", action, uid),
            ]
        if validate:
            error = self._v.check(action, call.payload, False)
            if error is not None:
                self.error_out(error.code)
                return [
                    ev.SendFrame(error_frame(uid, error.code, error.describe())),
                    ev.Problem("invalid_call", f"{action} {error.describe()}", uid),
                ]
        self.pending[uid] = (action, now + self.policy.call_timeout)
        self.calls_in += 1
        table = self._stats.calls_in
        table[action] = table.get(action, 0) + 1
        return [ev.UpCall(uid, action, call.raw_payload, call.payload, CALL)]

    def _send_message(self, call: Call) -> list[ev.Event]:
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
        return [self.callerror(call.unique_id, "GenericError",
                               f"rate limit: {what}; send it again later"), problem]

    def callerror(self, unique_id: str, code: str, description: str) -> ev.SendFrame:
        """A CALLERROR to the charge point, `code` spelled as its version spells it."""
        spelled = spell(self.version, code)
        self.error_out(spelled)
        return ev.SendFrame(error_frame(unique_id, spelled, description))

    def error_out(self, code: str) -> None:
        """Count a CALLERROR written to the charge point."""
        self.errors_out += 1
        table = self._stats.errors_out
        table[code] = table.get(code, 0) + 1

    # ---- the answer to one -------------------------------------------------------------

    def upstream_answer(self, unique_id: str, frame: str, message_type: int,
                        payload: dict[str, Any] | None, now: float) -> list[ev.Event]:
        """The upstream CSMS's CALLRESULT or CALLERROR (or 2.1 CALLRESULTERROR) to a charge
        point CALL: written to the charge point as sent (MID-03)."""
        if message_type == CALLRESULTERROR:
            return [ev.SendFrame(frame)]
        entry = self.pending.pop(unique_id, None)
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

    def result(self, unique_id: str, payload: Any, ctx: Any, now: float) -> list[ev.Event]:
        """The backend's CALLRESULT to a charge point CALL."""
        entry = self.pending.get(unique_id)
        if entry is None:
            return [ev.Outcome(unique_id, ev.NOT_PENDING, NOT_PENDING, None, CALLRESULT, ctx)]
        action = entry[0]
        if not isinstance(payload, dict):
            return [ev.Outcome(unique_id, ev.INVALID, "Payload must be a JSON object", action,
                               CALLRESULT, ctx)]
        if self._2x:
            null_at = find_null(payload, "")
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
        del self.pending[unique_id]
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

    def error(
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
            entry = self.pending.get(unique_id)
            if entry is None:
                return refuse(ev.NOT_PENDING, NOT_PENDING)
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
            deadline = self.pending.pop(unique_id)[1]
            self._stats.rtt_cp.observe(now - deadline + self.policy.call_timeout)
        self.error_out(spelled)
        return [
            ev.SendFrame(frame),
            ev.Outcome(unique_id, ev.SENT, "error sent to the charge point", action,
                       message_type, ctx),
        ]

    # ---- time --------------------------------------------------------------------------

    def expire(self, now: float) -> list[ev.Event]:
        """CALLs the backend left unanswered past call_timeout (SY-03): a CALLERROR each."""
        events: list[ev.Event] = []
        late = [(uid, a) for uid, (a, deadline) in self.pending.items() if deadline <= now]
        self._stats.timeouts_in += len(late)
        for uid, action in late:
            del self.pending[uid]
            # Tell the charge point rather than leave it waiting: it will retry (ER-11).
            events.append(self.callerror(
                uid, "InternalError",
                f"no answer from the central system within {self.policy.call_timeout:g} s",
            ))
            events.append(ev.Problem("backend_timeout", action, uid))
        return events

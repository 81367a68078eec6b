"""What a :class:`~ocpp_mqtt.ocppj.session.Session` asks its edges to do (its outputs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Outcome statuses reported for every message a backend sends toward a charge point.
SENT = "sent"  # written to the charge point
ANSWERED = "answered"  # the charge point answered the CALL (CALLRESULT or CALLERROR)
TIMEOUT = "timeout"  # no answer within call_timeout
INVALID = "invalid"  # refused: malformed, unknown action, schema failure, duplicate id ...
QUEUE_FULL = "queue_full"  # max_queue CALLs already wait for this charge point
NOT_PENDING = "not_pending"  # a result/error for a charge point CALL that is not awaiting one
OFFLINE = "offline"  # the charge point disconnected before the CALL was sent or answered
HELD = "held"  # connected nowhere: kept on the broker until it connects (MQTT 5 expiry)
EXPIRED = "expired"  # held, and its expiry passed before the charge point connected


@dataclass(slots=True)
class SendFrame:
    """Write this text frame to the charge point."""

    text: str


@dataclass(slots=True)
class UpCall:
    """The charge point sent a CALL (or, on 2.1, a SEND): relay it to the backend."""

    unique_id: str
    action: str
    raw_payload: str
    payload: dict[str, Any]
    message_type: int


@dataclass(slots=True)
class UpResult:
    """The charge point answered a backend CALL with a CALLRESULT."""

    unique_id: str
    action: str
    raw_payload: str
    payload: dict[str, Any]
    ctx: Any


@dataclass(slots=True)
class UpError:
    """The charge point answered with a CALLERROR (4), or sent a CALLRESULTERROR (5, 2.1)."""

    unique_id: str
    action: str | None
    code: str
    description: str
    details: dict[str, Any]
    message_type: int
    ctx: Any = None


@dataclass(slots=True)
class Outcome:
    """What became of a message the backend sent toward the charge point."""

    unique_id: str | None
    status: str
    reason: str
    action: str | None = None
    message_type: int | None = None
    ctx: Any = None
    final: bool = True
    extra: dict[str, Any] | None = None  # more keys for the acknowledgement


@dataclass(slots=True)
class Problem:
    """Something worth a log line (a dropped or refused frame, a late result)."""

    event: str
    detail: str
    unique_id: str | None = None


@dataclass(slots=True)
class Close:
    """End the connection (a limit's `close` policy); `reason` goes to the disconnect event."""

    code: int
    reason: str


@dataclass(slots=True)
class KeepaliveChanged:
    """An accepted BootNotification result set a new heartbeat interval (0 = no check)."""

    interval: int


Event = SendFrame | UpCall | UpResult | UpError | Outcome | Problem | Close | KeepaliveChanged

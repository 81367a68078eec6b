"""The per-gateway settings the OCPP-J core reads (one `Policy`, shared by every session)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .stats import Stats


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

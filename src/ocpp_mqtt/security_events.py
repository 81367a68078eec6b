"""Security events on MQTT (`security_topic`) and in the log (component `security`).

Events: refused handshakes (`auth_failed`, `unknown_identity`, `certificate_missing`,
`certificate_mismatch`, `tls_refused`, `rate_limited`), limit hits (`limit_hit`: message
rate, connections per address, connections in all; once per offender a minute, as they are
logged), identities admitted without
credentials (`unknown_identity_admitted`) and charge points' own SecurityEventNotification
(`cp_notification`). An event carries the identity, remote address, listener, profile, HTTP
status and a reason written by the gateway: never a password, an Authorization header or a key.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

import orjson

from .northbound.emqx import Template
from .ocppj.identity import escape_topic_level

log = logging.getLogger("ocpp_mqtt.security")
LIMITS = frozenset({"rate_limit", "max_connections", "max_per_address"})


class Publisher(Protocol):
    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False,
                **props: Any) -> None: ...


class SecurityEvents:
    def __init__(self, prefix: str, template: str, gateway_id: str) -> None:
        self.topic = Template(prefix, template)
        self.gateway_id = gateway_id
        self.link: Publisher | None = None  # set once the MQTT link exists
        self.counts: dict[str, int] = {}

    def report(self, event: str, identity: str, **fields: Any) -> None:
        self.counts[event] = self.counts.get(event, 0) + 1
        body = {"event": event, "identity": identity, "gateway": self.gateway_id,
                "timestamp": int(time.time() * 1000), **fields}
        level = logging.INFO if event == "cp_notification" else logging.WARNING
        log.log(level, f"security event: {event}", extra={"cid": identity, **{
            k: v for k, v in fields.items() if k != "notification"}})
        if self.link is not None:
            self.link.publish(self.topic.render(cid=escape_topic_level(identity)),
                              orjson.dumps(body), 1)

    def limit_hit(self, what: str, message: str, fields: dict[str, Any]) -> None:
        """A limit's log line (limitlog.OncePerMinute), for the limits of issue 5 only: bad
        frames are protocol problems, not security events."""
        if what in LIMITS:
            self.report("limit_hit", str(fields.get("cid") or ""), limit=what, reason=message,
                        **{k: fields[k] for k in ("ip", "status", "suppressed") if k in fields})

    def cp_notification(self, identity: str, payload: dict[str, Any]) -> None:
        """A charge point's SecurityEventNotification (1.6 security extension, 2.x): its
        `type`, `timestamp` and `techInfo`, passed on as sent."""
        self.report("cp_notification", identity, notification={
            k: payload[k] for k in ("type", "timestamp", "techInfo") if k in payload})

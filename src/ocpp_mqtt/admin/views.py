"""What the admin API shows of the gateway: JSON views built from its live objects on request
(nothing here runs on the message path)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..modes.connectors import outlets
from ..transport.connection import Connection

if TYPE_CHECKING:
    from ..gateway import Gateway
    from ..modes.central.state import ChargePointState

STATUSES = ("online", "offline")


@dataclass(frozen=True, slots=True)
class Filter:
    status: str | None = None  # online / offline
    version: str | None = None  # "1.6", "2.0.1", "2.1"
    q: str | None = None  # identity substring (case-insensitive)


def _connectors(gateway: Gateway, identity: str) -> list[dict[str, Any]]:
    """Central mode: from its state; relay mode: what the tracker read from the frames."""
    states = (gateway.central.states if gateway.central is not None
              else gateway.relay.tracker.states if gateway.relay.tracker is not None else {})
    cp = states.get(identity)
    return outlets(cp) if cp is not None else []


def _summary(gateway: Gateway, conn: Connection) -> dict[str, Any]:
    return {
        "identity": conn.identity,
        "online": True,
        "ocpp_version": conn.version.value,
        "remote_address": conn.remote_ip,
        "connected_since": conn.connected_at_ms,
        "queue_length": conn.session.queue_length,
        "connectors": _connectors(gateway, conn.identity),
    }


def _offline_summary(cp: ChargePointState) -> dict[str, Any]:
    return {
        "identity": cp.identity,
        "online": False,
        "ocpp_version": cp.version,
        "remote_address": cp.remote_address,
        "connected_since": None,
        "queue_length": 0,
        "connectors": outlets(cp),
    }


def charge_points(gateway: Gateway, where: Filter) -> list[dict[str, Any]]:
    """Every charge point the filter keeps, sorted by identity: those connected here, and in
    central mode the ones its store knows that are not connected."""
    items = [_summary(gateway, c) for c in gateway.relay.connections.values() if not c.detached]
    if gateway.central is not None:
        here = gateway.relay.connections
        items += [_offline_summary(cp) for identity, cp in gateway.central.states.items()
                  if identity not in here]
    q = where.q.casefold() if where.q else None
    return sorted((item for item in items
                   if (where.status is None or item["online"] == (where.status == "online"))
                   and (where.version is None or item["ocpp_version"] == where.version)
                   and (q is None or q in item["identity"].casefold())),
                  key=lambda item: str(item["identity"]))


def charge_point(gateway: Gateway, identity: str) -> dict[str, Any] | None:
    """One charge point in detail, or None if the gateway knows nothing of it."""
    conn = gateway.relay.connections.get(identity)
    state = gateway.central.states.get(identity) if gateway.central is not None else None
    if conn is None or conn.detached:
        if state is None:
            return None
        body = _offline_summary(state)
        body.update(counters=None, pending=None, keepalive=None, frames=[],
                    state=state.to_json())
        return body
    session = conn.session
    body = _summary(gateway, conn)
    body.update(
        counters={
            "frames_in": conn.frames_in,
            "frames_out": conn.frames_out,
            "calls_in": session.calls_in,
            "calls_out": session.calls_out,
            "callerrors_in": session.errors_in,
            "callerrors_out": session.errors_out,
        },
        pending=session.pending(time.monotonic()),
        keepalive=conn.keepalive,
        frames=conn.recent.frames(),
        state=state.to_json() if state is not None else None,
    )
    return body


def status(gateway: Gateway) -> dict[str, Any]:
    settings = gateway.settings
    link = gateway.link
    by_version: dict[str, int] = {v: 0 for v in settings.versions}
    connected = 0
    for conn in gateway.relay.connections.values():
        if not conn.detached:
            connected += 1
            by_version[conn.version.value] = by_version.get(conn.version.value, 0) + 1
    refusal = gateway.refusal()
    now_ms = int(time.time() * 1000)
    body: dict[str, Any] = {
        "gateway": settings.gateway_id,
        "version": __version__,
        "mode": settings.mode,
        "started_at": gateway.started_at_ms,
        "uptime_s": round((now_ms - gateway.started_at_ms) / 1000, 3)
        if gateway.started_at_ms else 0.0,
        "ready": refusal is None,
        "reason": refusal,
        "mqtt": {
            "broker": link.target.describe() if link is not None else None,
            "protocol": ("5" if link.mqtt5 else "3.1.1") if link is not None else None,
            "connected": bool(link and link.connected),
            "down_since": (int(gateway.broker_down_since * 1000)
                           if gateway.broker_down_since else None),
            "backlog": link.backlog if link is not None else 0,
            "in_flight": link.in_flight if link is not None else 0,
            "in_flight_max": link.window if link is not None else 0,
            "reads_paused": bool(link and link.blocked),
        },
        "charge_points": {"connected": connected, "by_version": by_version,
                          "known": (len(gateway.central.states)
                                    if gateway.central is not None else connected)},
        "outbox": gateway.central.outbox.count if gateway.central is not None else None,
    }
    return body

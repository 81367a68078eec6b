"""Connector status for the admin API and dashboard, in both modes.

Central mode keeps a full state model (modes/central/state.py). Relay (and proxy) mode keeps
nothing of what a charge point says, so when the admin listener is on, this tracker reads the
two messages that carry connector status, StatusNotification and TransactionEvent, with central
mode's own pure updater (`observe`): the same vocabulary and the same 2.x mapping (Occupied
reads Preparing, or Charging / SuspendedEV / SuspendedEVSE once a TransactionEvent says so) in
both modes. Any other action costs one set lookup, and so does a TransactionEvent Updated that
says nothing of the charging state; the state of a charge point is forgotten when it
disconnects.

Whenever the outlets of a charge point change, `connectors` is emitted on the tap (the admin
API's live stream) with the summary that `/api/v1/charge-points` also shows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .central.answers import iso_now
from .central.observe import observe
from .central.state import ChargePointState

if TYPE_CHECKING:
    from ..transport.recent import Tap

TRACKED = frozenset({"StatusNotification", "TransactionEvent"})


def outlets(cp: ChargePointState) -> list[dict[str, Any]]:
    """What the charge point list shows of each connector (1.6) or EVSE (2.x), id >= 1."""
    return [{"id": c.connector_id, "status": c.status, "ocpp_status": c.ocpp_status,
             "error_code": c.error_code, "transaction_id": c.transaction_id,
             "power_w": c.power_w, "energy_wh": c.energy_wh}
            for c in cp.outlets()]


def announce(tap: Tap, cp: ChargePointState, changed: set[int]) -> None:
    """Emit `connectors` when an outlet (id >= 1) changed and someone watches."""
    if tap.watching and any(i >= 1 for i in changed):
        tap.event("connectors", cp.identity, {"connectors": outlets(cp)})


class ConnectorTracker:
    """Relay mode: the connector status of each connected charge point, from its frames."""

    def __init__(self) -> None:
        self.states: dict[str, ChargePointState] = {}

    def take(self, identity: str, version: str, action: str, payload: dict[str, Any],
             tap: Tap) -> None:
        """A CALL from the charge point `identity` speaking OCPP `version` ("1.6", ...)."""
        if action not in TRACKED:
            return
        if action == "TransactionEvent":
            # The periodic meter-value Updates (most of them) change no status: skipped. The
            # readings are not kept either (parsing them cost ~5x the relay's own work on the
            # message, bench/connectors.py), so relay mode shows status and transaction only.
            info = payload.get("transactionInfo")
            if (payload.get("eventType") == "Updated" and "evse" not in payload
                    and not (isinstance(info, dict) and "chargingState" in info)):
                return
            payload = {k: v for k, v in payload.items() if k != "meterValue"}
        cp = self.states.get(identity)
        if cp is None:  # the topic level is never used here: the identity stands in
            cp = self.states[identity] = ChargePointState(identity, identity)
        now = iso_now(datetime.now(UTC))
        announce(tap, cp, observe(cp, version, action, payload, None, now))

    def forget(self, identity: str) -> None:
        self.states.pop(identity, None)

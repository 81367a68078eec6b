"""Change detection for the state updater (observe.py): which ids of a charge point's state
a message changed (0 = charge-point-level fields, N = connector/EVSE N). No I/O.

A snapshot of the whole state costs more than most messages' own work (every field of the
charge point and of each connector, and a copy of each connector's readings), so the updater
compares only what a message can reach: the charge point's fields for messages about the
charge point (Boot, Heartbeat, firmware status...), and for messages about connectors only the
connectors the handler took in hand through a :class:`Touched`, each as it was when taken. A
test compares this with the full snapshot over thousands of fuzzed messages
(tests/unit/test_central_observe.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from .state import ChargePointState, ConnectorState


def _getter(cls: type, leave_out: tuple[str, ...] = ()) -> Callable[[Any], tuple[Any, ...]]:
    """A function returning every field of a `cls` instance but `leave_out`, as a tuple.
    Generated as `lambda o: (o.a, o.b, ...)` (as dataclasses makes its methods): the
    interpreter specialises each attribute load, which makes it about 2.5 times as cheap as
    operator.attrgetter over 31 names, and snapshots run twice for every message."""
    names = [f.name for f in fields(cls) if f.name not in leave_out]
    if not all(name.isidentifier() for name in names):  # the class's own fields: never input
        raise ValueError(f"not a field name among {names}")
    getter: Callable[[Any], tuple[Any, ...]] = eval(
        "lambda o: (" + "".join(f"o.{name}, " for name in names) + ")")
    return getter


# every field at once; the dicts are copied since they change in place
CP_FIELDS = _getter(ChargePointState, ("connectors", "last_seen"))
_CONNECTOR_FIELDS = _getter(ConnectorState)

ConnectorSnapshot = tuple[tuple[Any, ...], dict[str, float], dict[str, str]]
Snapshot = tuple[Any, dict[int, ConnectorSnapshot]]


def connector_snapshot(c: ConnectorState) -> ConnectorSnapshot:
    return _CONNECTOR_FIELDS(c), dict(c.readings), dict(c.connector_statuses)


def snapshot(cp: ChargePointState) -> Snapshot:
    """Everything but `last_seen` (which moves with every frame and is not a change)."""
    return CP_FIELDS(cp), {i: connector_snapshot(c) for i, c in cp.connectors.items()}


def changes(before: Snapshot, cp: ChargePointState) -> set[int]:
    """The ids whose state differs from `before` (a connector that appeared counts)."""
    after = snapshot(cp)
    out = {0} if after[0] != before[0] else set()
    out.update(i for i, values in after[1].items() if before[1].get(i) != values)
    return out


class Touched:
    """A charge point's connectors as a handler takes them in hand: each is snapshotted the
    first time it is taken, before the handler changes it, and :meth:`changes` compares those
    alone. A handler must take every connector it may change through :meth:`connector` (by
    id, created when absent) or :meth:`hold` (one it found by searching `cp.connectors`)."""

    __slots__ = ("cp", "held")

    def __init__(self, cp: ChargePointState) -> None:
        self.cp = cp
        # connector id -> the connector, and its snapshot when taken (None: it did not exist)
        self.held: dict[int, tuple[ConnectorState, ConnectorSnapshot | None]] = {}

    def connector(self, connector_id: int) -> ConnectorState:
        """Connector `connector_id`, created if absent (a new connector is a change)."""
        held = self.held.get(connector_id)
        if held is not None:
            return held[0]
        found = self.cp.connectors.get(connector_id)
        if found is None:
            self.held[connector_id] = (c := self.cp.connector(connector_id)), None
            return c
        self.held[connector_id] = found, connector_snapshot(found)
        return found

    def hold(self, c: ConnectorState) -> ConnectorState:
        """`c`, a connector of this charge point found by the handler, taken in hand."""
        if c.connector_id not in self.held:
            self.held[c.connector_id] = c, connector_snapshot(c)
        return c

    def changes(self) -> set[int]:
        return {connector_id for connector_id, (c, before) in self.held.items()
                if before is None or connector_snapshot(c) != before}

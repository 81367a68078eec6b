"""The outbox marks what an earlier run may already have published (issue 6, point 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from ocpp_mqtt.modes.central import outbox as outbox_module
from ocpp_mqtt.modes.central.outbox import Outbox
from ocpp_mqtt.modes.central.store import Store


class Link:
    """Records what the outbox hands over and "writes" it at once, unless `hold` keeps it in
    its backlog; the broker never confirms (the run dies first)."""

    def __init__(self, connected: bool) -> None:
        self.connected = connected
        self.hold = False
        self.backlog = 0
        self.sent: list[dict[str, Any]] = []
        self.on_confirm: Any = None
        self.on_sent: Any = None

    def publish_tracked(self, topic: str, payload: bytes, qos: int, retain: bool,
                        seq: int) -> None:
        self.sent.append(orjson.loads(payload))
        if not self.hold:
            self.on_sent(seq)


def keyed(n: int) -> bytes:
    return orjson.dumps({"UniqueId": str(n), "MessageKey": f"{n:024x}"})


def test_rows_handed_before_a_crash_are_marked_others_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox_module, "MARK_AHEAD", 0)
    path = tmp_path / "s.sqlite3"
    first = Outbox(Store(path), 1000, "refuse")
    link = Link(connected=True)
    first.attach(link)  # type: ignore[arg-type]
    for n in (1, 2):
        first.publish("t", keyed(n))
    link.connected = False  # the broker goes away; these stay on disk only
    for n in (3, 4):
        first.publish("t", keyed(n))
    first.publish("t", b'{"event":"ended"}')  # not a keyed message: never changed
    assert [m["UniqueId"] for m in link.sent] == ["1", "2"]
    # the process dies here: nothing confirmed, nothing closed
    second = Outbox(Store(path), 1000, "refuse")
    again = Link(connected=True)
    second.attach(again)  # type: ignore[arg-type]
    assert [(m.get("UniqueId"), m.get("PossibleDuplicate")) for m in again.sent] == [
        ("1", True), ("2", True), ("3", None), ("4", None), (None, None)]


def test_mark_written_ahead_bounds_the_false_marks(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    first = Outbox(Store(path), 1000, "refuse")
    link = Link(connected=True)
    first.attach(link)  # type: ignore[arg-type]
    first.publish("t", keyed(1))
    link.connected = False
    for n in range(2, 200):
        first.publish("t", keyed(n))
    again = Link(connected=True)
    Outbox(Store(path), 1000, "refuse").attach(again)  # type: ignore[arg-type]
    marked = [m["UniqueId"] for m in again.sent if m.get("PossibleDuplicate")]
    assert marked[0] == "1" and len(marked) == 1 + outbox_module.MARK_AHEAD


def test_rows_waiting_in_the_link_backlog_are_not_marked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Handed to the link is not sent: a crash with rows in the link's backlog (e.g. under
    load) re-publishes them unmarked, since the broker never saw them."""
    monkeypatch.setattr(outbox_module, "MARK_AHEAD", 0)
    path = tmp_path / "s.sqlite3"
    first = Outbox(Store(path), 1000, "refuse")
    link = Link(connected=True)
    first.attach(link)  # type: ignore[arg-type]
    first.publish("t", keyed(1))
    link.hold = True
    first.publish("t", keyed(2))
    again = Link(connected=True)
    Outbox(Store(path), 1000, "refuse").attach(again)  # type: ignore[arg-type]
    assert [(m["UniqueId"], m.get("PossibleDuplicate")) for m in again.sent] == [
        ("1", True), ("2", None)]

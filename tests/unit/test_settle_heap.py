"""gateway.settle_heap: start-up's survivors leave the collector's reach, its garbage does not
survive (a frozen cycle would never be freed)."""

from __future__ import annotations

import gc
import weakref

from ocpp_mqtt.gateway import settle_heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_survivors_are_frozen_and_garbage_collected_first() -> None:
    kept = {"long": "lived"}
    a, b = Node(), Node()
    a.other, b.other = b, a  # a reference cycle: only the collector frees it
    gone = weakref.ref(a)
    del a, b
    try:
        frozen = settle_heap()
        assert gone() is None, "the cycle was collected, not frozen"
        assert frozen > 1000 and gc.get_freeze_count() == frozen
        gc.collect()
        assert gc.get_freeze_count() == frozen  # a collection leaves the frozen heap alone
        assert kept["long"] == "lived"
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual

"""The ctx of CALLs toward a charge point that came from a CSMS, not from MQTT (proxy mode).

The session carries a ctx with every CALL and hands it back with the answer; these tell the
relay that the answer goes to a CSMS over its WebSocket, never to MQTT's reply topics (MID-06).
"""

from __future__ import annotations


class ProxyCall:
    """Base class: the relay hands events with such a ctx to the proxy hub."""

    __slots__ = ()


class UpstreamCall(ProxyCall):
    """A CALL of the primary upstream CSMS. One instance per upstream connection: an answer
    whose connection has since been replaced is dropped (its CSMS no longer waits for it)."""

    __slots__ = ("generation",)

    def __init__(self, generation: int) -> None:
        self.generation = generation


class SecondaryCall(ProxyCall):
    """A CALL of the secondary CSMS, sent under a gateway id; `caller_id` is the secondary's."""

    __slots__ = ("caller_id", "generation")

    def __init__(self, caller_id: str, generation: int) -> None:
        self.caller_id = caller_id
        self.generation = generation

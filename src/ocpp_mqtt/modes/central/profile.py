"""What a northbound state profile (native, Home Assistant, ocpp2mqtt, ThingsBoard) sees of
central mode, and what it may use.

A profile is told about charge points coming and going, each charge point message with the
answer it got, and each change of state; it publishes in its own format. Commands it takes
from MQTT go through :meth:`Hub.command`, by OCPP name, snake_case name or high-level name,
and come back as a :class:`CommandResult`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ...config import Settings

# CommandResult and its statuses live with the calls that produce them (modes/calls.py);
# profiles keep importing them from here.
from ..calls import (
    ANSWERED,
    INVALID,
    LIMITED,
    OFFLINE,
    QUEUE_FULL,
    REJECTED,
    TIMEOUT,
    CommandResult,
)
from .state import ChargePointState

__all__ = ["ANSWERED", "INVALID", "LIMITED", "OFFLINE", "QUEUE_FULL", "REJECTED", "TIMEOUT",
           "CommandResult", "Hub", "MqttHandler", "Profile", "Publisher"]


MqttHandler = Callable[[str, bytes, dict[str, Any]], None]


class Publisher(Protocol):
    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False,
                **props: Any) -> None: ...


class Hub(Protocol):
    """Central mode as its profiles see it."""

    settings: Settings
    states: dict[str, ChargePointState]  # by identity, every charge point ever seen

    @property
    def mqtt(self) -> Publisher: ...  # the gateway's MQTT link (publishes keep their order)

    @property
    def gateway_status_topic(self) -> str: ...  # retained, last will {"status": "offline"}

    def durable(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Publish through the on-disk outbox: survives broker outages and gateway restarts.
        For messages that must not be lost (transactions); state is re-published anyway."""

    async def subscribe(self, topic_filter: str, handler: MqttHandler, qos: int = 1) -> None:
        """Receive the messages of `topic_filter` (wildcards allowed); kept over reconnects."""

    async def command(self, identity: str, name: str, args: dict[str, Any] | None,
                      *, connector: int | None = None) -> CommandResult:
        """Run a command on a charge point: an OCPP action (`RemoteStartTransaction` or
        `remote_start_transaction`, args = its payload, in OCPP's camelCase or snake_case) or a
        high-level command (see commands.py: start_charging, stop_charging, set_current_limit,
        ...). Never raises for a bad command: the result says what was wrong."""


    def remove(self, identity: str) -> bool:
        """Forget a charge point that is not connected: its stored state and what every
        profile published for it. False if it is connected or unknown."""


class Profile(Protocol):
    """A northbound state format. Every method is called on the event loop and must not block;
    none may raise (the hub logs and goes on if one does)."""

    name: str

    async def start(self, hub: Hub) -> None:
        """Subscribe to command topics; publish what must exist before any charge point."""

    def online(self, cp: ChargePointState) -> None:
        """The charge point connected (cp.online is True; cp.version is set)."""

    def offline(self, cp: ChargePointState) -> None:
        """The charge point disconnected (cp.disconnect_reason says why)."""

    def message(self, cp: ChargePointState, action: str, request: dict[str, Any],
                response: dict[str, Any] | None) -> None:
        """A CALL from the charge point, after the state took it in, with the answer it got
        (None if it got a CALLERROR or no answer)."""

    def changed(self, cp: ChargePointState, connectors: set[int]) -> None:
        """The state changed: 0 in `connectors` for charge-point-level fields, N for connector
        N. Called once per charge point message, after :meth:`message`."""

    def republish(self) -> None:
        """The MQTT connection came back (the broker may have lost retained messages)."""

    def removed(self, cp: ChargePointState) -> None:
        """The charge point was deleted from the gateway's store: remove what was published."""

    async def stop(self) -> None:
        """The gateway stops: publish what must be said before the connection ends."""

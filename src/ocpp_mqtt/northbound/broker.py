"""The embedded MQTT broker (amqtt), so `ocpp-mqtt serve` works with nothing else installed.

It shares the gateway's event loop (about 5k msg/s): right for a home, not for a fleet, where the
gateway points at Mosquitto, EMQX or HiveMQ instead. amqtt speaks MQTT 3.1.1 only.
"""

from __future__ import annotations

import errno
import logging
import socket
from typing import Any

from ..config import ConfigError


def check_port_free(host: str, port: int) -> None:
    """Fail early, with the fix in the message, when something already listens there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"embedded_listen: a broker already listens on {host}:{port}; "
                    f"use --mqtt mqtt://{host}:{port}"
                ) from exc
            raise ConfigError(f"embedded_listen: cannot listen on {host}:{port}: "
                              f"{exc.strerror}") from exc


def _own_retained_only(broker: Any) -> Any:
    """amqtt 0.12.1's Broker, sending a client the retained messages of its own subscriptions
    only. At every CONNECT it replays the retained messages matching any filter any client
    subscribed (the gateway's own `ocpp/gateway/+/status`, ...): a new `mosquitto_sub -t x/#`
    got the gateway's status, and `-t 'ocpp/#'` got it twice."""

    class Broker(broker):  # type: ignore[misc]
        async def _publish_retained_messages_for_subscription(
                self, subscription: tuple[str, int], session: Any) -> None:
            holders = self._subscriptions.get(subscription[0], ())
            if any(holder.client_id == session.client_id for holder, _ in holders):
                await super()._publish_retained_messages_for_subscription(subscription, session)

    return Broker


class EmbeddedBroker:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._broker: Any = None

    async def start(self) -> None:
        check_port_free(self.host, self.port)
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        from amqtt.broker import Broker  # imported late: only the embedded mode needs it

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }
        self._broker = _own_retained_only(Broker)(config)
        await self._broker.start()

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None

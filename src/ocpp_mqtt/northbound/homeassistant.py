"""The Home Assistant profile of central mode: MQTT discovery configs, retained.

It publishes a device config when a charge point comes online, when its BootNotification
details change and when a connector appears; never per meter value (a digest of each device's
last config skips identical ones). Everything is published again when Home Assistant says
`online` on its birth topic and when the MQTT link comes back. The entity states and
commands are the native profile's topics; see ha_discovery.py for the payloads.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

import orjson

from ..config import Settings
from ..modes.central.profile import Hub
from ..modes.central.state import ChargePointState
from .emqx import Template
from .ha_discovery import DeviceConfig, Discovery

log = logging.getLogger("ocpp_mqtt.homeassistant")

# Seconds to wait after a connector first shows up before publishing it: a charger reports
# its connectors one StatusNotification at a time right after booting, and a two-outlet
# charger published after its first one would briefly appear as a single-outlet one.
SETTLE = 1.0

_Shape = tuple[Any, ...]


class HomeAssistantProfile:
    name = "homeassistant"

    def __init__(self, settings: Settings, *, settle: float = SETTLE) -> None:
        self.settings = settings
        self.settle = settle
        status_topic = Template(settings.prefix, settings.gateway_status_topic).render(
            gateway=settings.gateway_id)
        self.discovery = Discovery(settings, status_topic)
        self._hub: Hub | None = None
        self._digests: dict[str, bytes] = {}  # device object id -> hash of its last config
        self._devices: dict[str, set[str]] = {}  # identity -> its published device ids
        self._shapes: dict[str, _Shape] = {}  # identity -> what its configs were built from
        self._timers: dict[str, asyncio.TimerHandle] = {}

    # ---- Profile -------------------------------------------------------------------------

    async def start(self, hub: Hub) -> None:
        self._hub = hub
        if hub.gateway_status_topic != self.discovery.gateway_status_topic:
            self.discovery = Discovery(self.settings, hub.gateway_status_topic)
        await hub.subscribe(self.settings.ha_status_topic, self._ha_status, qos=1)
        self._publish_all(force=False)

    def online(self, cp: ChargePointState) -> None:
        self._sync(cp)

    def offline(self, cp: ChargePointState) -> None:
        """Nothing to publish: entities follow the charge point's `online` state topic."""

    def message(self, cp: ChargePointState, action: str, request: dict[str, Any],
                response: dict[str, Any] | None) -> None:
        """Nothing: configs follow the state (see :meth:`changed`), not messages."""

    def changed(self, cp: ChargePointState, connectors: set[int]) -> None:
        previous = self._shapes.get(cp.identity)
        if previous is None:
            self._sync(cp)
            return
        shape = _shape(cp)
        if shape == previous or cp.identity in self._timers:
            return
        if shape[-1] != previous[-1] and self.settle > 0:
            loop = asyncio.get_running_loop()
            self._timers[cp.identity] = loop.call_later(self.settle, self._settled, cp)
            return
        self._sync(cp)

    def republish(self) -> None:
        self._publish_all(force=True)

    def removed(self, cp: ChargePointState) -> None:
        timer = self._timers.pop(cp.identity, None)
        if timer is not None:
            timer.cancel()
        self._shapes.pop(cp.identity, None)
        ids = self._devices.pop(cp.identity, set()) | set(self.discovery.device_ids(cp))
        for object_id in sorted(ids):
            self._digests.pop(object_id, None)
            if self._hub is not None:
                # Durable: a removal lost to a broker outage would leave the device forever.
                self._hub.durable(self.discovery.topic(object_id), b"", qos=1, retain=True)

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    # ---- internals -----------------------------------------------------------------------

    def _ha_status(self, topic: str, payload: bytes, props: dict[str, Any]) -> None:
        if payload.strip().lower() == b"online":
            log.info("Home Assistant is online: publishing discovery configs again")
            self._publish_all(force=True)

    def _publish_all(self, force: bool) -> None:
        if self._hub is None:
            return
        self._publish(self.discovery.gateway_config(), force)
        for cp in list(self._hub.states.values()):
            self._sync(cp, force)

    def _settled(self, cp: ChargePointState) -> None:
        self._timers.pop(cp.identity, None)
        try:
            self._sync(cp)
        except Exception:  # a timer callback has no caller to report to
            log.exception("Home Assistant discovery failed", extra={"cp": cp.identity})

    def _sync(self, cp: ChargePointState, force: bool = False) -> None:
        timer = self._timers.pop(cp.identity, None)
        if timer is not None:
            timer.cancel()
        configs = self.discovery.device_configs(cp)
        for config in configs:
            self._publish(config, force)
        current = {config.object_id for config in configs}
        for gone in sorted(self._devices.get(cp.identity, set()) - current):
            self._digests.pop(gone, None)
            self._send(gone, b"")
        self._devices[cp.identity] = current
        self._shapes[cp.identity] = _shape(cp)

    def _publish(self, config: DeviceConfig, force: bool) -> None:
        data = orjson.dumps(config.payload)
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if not force and self._digests.get(config.object_id) == digest:
            return
        self._digests[config.object_id] = digest
        self._send(config.object_id, data)

    def _send(self, object_id: str, data: bytes) -> None:
        if self._hub is not None:
            self._hub.mqtt.publish(self.discovery.topic(object_id), data, 1, retain=True)


def _shape(cp: ChargePointState) -> _Shape:
    """What the configs are built from; the connectors come last (see :meth:`changed`)."""
    return (cp.version, cp.vendor, cp.model, cp.firmware_version, cp.serial_number,
            cp.charge_box_serial_number, tuple(c.connector_id for c in cp.outlets()))

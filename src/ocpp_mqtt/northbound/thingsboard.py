"""ThingsBoard gateway API profile: each charge point is a ThingsBoard device behind the gateway.

The gateway connects to ThingsBoard as one device with "Is gateway" set, its access token as the
MQTT username (`thingsboard_url = mqtt[s]://TOKEN@host[:port]`, MQTT 3.1.1, QoS 1), or, with
no URL, publishes the same topics on the gateway's own broker (for a bridge, and for tests).
Charge points come and go with `v1/gateway/connect` / `disconnect`; their Boot data goes out
as client attributes and their state as telemetry, only what changed since the last
publication; RPCs on `v1/gateway/rpc` become commands whose results are the RPC replies.
Payloads and the RPC mapping are in thingsboard_format.py.

While ThingsBoard is unreachable nothing is queued: ThingsBoard drops its devices' sessions
with the gateway's connection anyway, so after each (re)connect every known charge point is
announced again with its attributes and its latest telemetry.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from gmqtt.mqtt.handler import MQTTConnectError

from ..config import MqttTarget, Settings, thingsboard_target
from ..modes.central.profile import INVALID, CommandResult, Hub, Publisher
from ..modes.central.state import ChargePointState
from . import thingsboard_format as fmt
from .client import Backoff, tls_context
from .mqtt import MqttLink, SubscriptionRefused

log = logging.getLogger("ocpp_mqtt.thingsboard")

QOS = 1  # ThingsBoard's MQTT transport knows QoS 0 and 1


class _TokenTarget(MqttTarget):
    """Logs show ThingsBoard's address, never the access token (it is the credential)."""

    def describe(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://***@{self.host}:{self.port} (ThingsBoard)"


@dataclass(slots=True)
class _Device:
    connected: bool = False  # ThingsBoard was told `connect` (and not `disconnect` since)
    attributes: dict[str, Any] = field(default_factory=dict)  # as last published
    telemetry: dict[str, Any] = field(default_factory=dict)
    readings_at: dict[int, str | None] = field(default_factory=dict)  # per connector, as seen

    def fresh_readings(self, cp: ChargePointState) -> set[int]:
        """The connectors whose readings are new since the last look."""
        seen = self.readings_at
        fresh = {n for n, c in cp.connectors.items()
                 if c.readings_at is not None
                 and (n not in seen or c.readings_at != seen[n])}
        self.readings_at = {n: c.readings_at for n, c in cp.connectors.items()}
        return fresh


class ThingsBoardProfile:
    name = "thingsboard"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.device_type = settings.thingsboard_device_type
        self.hub: Hub | None = None
        self.link: MqttLink | None = None  # our own connection to ThingsBoard, if any
        self._devices: dict[str, _Device] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._connector: asyncio.Task[None] | None = None
        self._stopping = False

    # ---- connection ----------------------------------------------------------------------

    @property
    def _out(self) -> Publisher | None:
        """Where to publish now; None while our own link to ThingsBoard is down."""
        if not self.settings.thingsboard_url:
            return self.hub.mqtt if self.hub is not None else None
        return self.link if self.link is not None and self.link.connected else None

    async def start(self, hub: Hub) -> None:
        self.hub = hub
        if not self.settings.thingsboard_url:
            await hub.subscribe(fmt.RPC, self._on_message, QOS)
            await hub.subscribe(fmt.ATTRIBUTES, self._on_message, QOS)
            return
        # The first attempt is awaited so that a reachable ThingsBoard is up before the first
        # charge point; an unreachable one must not stop charge points from being served.
        if not await self._connect_once():
            self._connector = asyncio.get_running_loop().create_task(self._connect_loop())

    def _new_link(self) -> MqttLink:
        settings = self.settings
        target = _TokenTarget(**dataclasses.asdict(thingsboard_target(settings.thingsboard_url)))
        tls = None
        if target.tls:
            tls = tls_context(str(settings.thingsboard_ca) if settings.thingsboard_ca else None,
                              None, None)
        client_id = (settings.mqtt_client_id or f"ocpp-mqtt-{settings.gateway_id}") + "-tb"
        return MqttLink(
            target, client_id=client_id, version="3.1.1", keepalive=settings.mqtt_keepalive,
            will=None, tls=tls, on_message=self._on_message, on_reconnect=self._link_up,
            max_inflight=settings.mqtt_max_inflight, session_expiry=0,
            reconnect_delay=(settings.mqtt_reconnect_min, settings.mqtt_reconnect_max))

    async def _connect_once(self) -> bool:
        link = self._new_link()
        try:
            await link.connect(self.settings.mqtt_connect_timeout)
        except Exception as exc:  # OSError, TimeoutError, gmqtt's refused CONNACK, TLS errors
            if isinstance(exc, MQTTConnectError):
                log.error("ThingsBoard refused the connection: check the access token in "
                          "thingsboard_url (the gateway device's); retrying", extra={
                              "broker": link.target.describe(), "error": str(exc)})
            else:
                log.warning("cannot connect to ThingsBoard; retrying", extra={
                    "broker": link.target.describe(), "error": str(exc) or type(exc).__name__})
            # MqttLink cannot retry a failed first connect itself, and gmqtt may still be
            # reconnecting this client: end it, or it would later take over our client id.
            with contextlib.suppress(Exception):
                await link._client.disconnect()
            return False
        self.link = link
        log.info("connected to ThingsBoard", extra={"broker": link.target.describe()})
        for topic in (fmt.RPC, fmt.ATTRIBUTES):
            try:
                await link.subscribe(topic, QOS)
            except SubscriptionRefused as exc:
                log.error("ThingsBoard refused a subscription: RPCs will not arrive",
                          extra={"topic": topic, "error": str(exc)})
        self._link_up()
        return True

    async def _connect_loop(self) -> None:
        backoff = Backoff(self.settings.mqtt_reconnect_min, self.settings.mqtt_reconnect_max)
        while not self._stopping:
            await asyncio.sleep(backoff())
            if await self._connect_once():
                return

    def _link_up(self) -> None:
        """ThingsBoard forgot the devices' sessions with the gateway's connection: announce the
        online charge points again, with attributes and latest telemetry in full."""
        states = self.hub.states if self.hub is not None else {}
        for name, device in self._devices.items():
            device.connected = False
            device.attributes.clear()  # attributes are idempotent in ThingsBoard
            cp = states.get(name)
            if cp is not None and cp.online:
                device.telemetry.clear()
            else:
                # The main broker's publisher drops what is published while it is down, so
                # the charge points that left meanwhile may not have said so: say it again
                # (and only that, not their old readings).
                device.telemetry.pop("online", None)
        self._sync_all()

    def _sync_all(self) -> None:
        if self.hub is None:
            return
        for cp in list(self.hub.states.values()):
            if cp.online or cp.identity in self._devices:
                self._sync(cp)

    # ---- state -> ThingsBoard ------------------------------------------------------------

    def _sync(self, cp: ChargePointState) -> None:
        """Tell ThingsBoard what changed since the last time; announce or retire the device."""
        out = self._out
        if out is None or self.hub is None:
            return  # the reconnect will send it all
        name = cp.identity
        device = self._devices.get(name)
        if device is None:
            if not cp.online:
                return  # never announced: nothing to retire
            # What the store kept from before this process may have been published and since
            # changed by the gateway: it goes out stamped with ThingsBoard's clock.
            device = self._devices[name] = _Device(
                readings_at={n: c.readings_at for n, c in cp.connectors.items()})
        if cp.online and not device.connected:
            out.publish(fmt.CONNECT, fmt.connect_payload(name, self.device_type), QOS)
            device.connected = True
        attrs = fmt.changed_attributes(
            fmt.attributes(cp, self.settings.gateway_id), device.attributes)
        if attrs:
            out.publish(fmt.ATTRIBUTES, fmt.attributes_payload(name, attrs), QOS)
            device.attributes.update(attrs)
        values = fmt.changed_telemetry(fmt.telemetry(cp, device.fresh_readings(cp)),
                                       device.telemetry)
        if values:
            out.publish(fmt.TELEMETRY, fmt.telemetry_payload(name, values), QOS)
            device.telemetry.update((k, v) for k, (v, _ts) in values.items())
        if not cp.online and (device.connected or attrs or values):
            # data for a device ThingsBoard had let go opens a session again: close it
            out.publish(fmt.DISCONNECT, fmt.disconnect_payload(name), QOS)
            device.connected = False

    def online(self, cp: ChargePointState) -> None:
        self._sync(cp)

    def offline(self, cp: ChargePointState) -> None:
        self._sync(cp)

    def message(self, cp: ChargePointState, action: str, request: dict[str, Any],
                response: dict[str, Any] | None) -> None:
        return None  # everything ThingsBoard shows comes from the state (changed)

    def changed(self, cp: ChargePointState, connectors: set[int]) -> None:
        device = self._devices.get(cp.identity)
        if cp.online or (device is not None and device.connected):
            self._sync(cp)

    def republish(self) -> None:
        if not self.settings.thingsboard_url:  # our own link has its own reconnects
            self._link_up()

    def removed(self, cp: ChargePointState) -> None:
        device = self._devices.pop(cp.identity, None)
        out = self._out
        if device is not None and device.connected and out is not None:
            out.publish(fmt.DISCONNECT, fmt.disconnect_payload(cp.identity), QOS)

    async def stop(self) -> None:
        self._stopping = True
        if self._connector is not None:
            self._connector.cancel()
        for task in list(self._tasks):
            task.cancel()
        out = self._out
        if out is not None:
            for name, device in self._devices.items():
                if device.connected:
                    if device.telemetry.get("online") is not False:
                        out.publish(fmt.TELEMETRY, fmt.telemetry_payload(
                            name, {"online": (False, None)}), QOS)
                        device.telemetry["online"] = False
                    out.publish(fmt.DISCONNECT, fmt.disconnect_payload(name), QOS)
                    device.connected = False
        if self.link is not None:
            if self.link.connected:
                await self.link.drain()
            await self.link.disconnect()

    # ---- ThingsBoard -> commands -----------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes, props: dict[str, Any]) -> None:
        if topic == fmt.RPC:
            self._on_rpc(payload)
        elif topic == fmt.ATTRIBUTES:
            self._on_attributes(payload)

    def _reply(self, device: str, request_id: int, data: dict[str, Any]) -> None:
        out = self.link if self.settings.thingsboard_url else self._out
        if out is not None:  # our link queues a reply made while it is down
            out.publish(fmt.RPC, fmt.rpc_reply(device, request_id, data), QOS)

    def _on_rpc(self, payload: bytes) -> None:
        try:
            request = fmt.parse_rpc(payload)
        except fmt.BadRpc as exc:
            if exc.device is not None and exc.id is not None:
                self._reply(exc.device, exc.id,
                            CommandResult(INVALID, exc.method, exc.reason).to_json())
            else:
                log.warning("ThingsBoard RPC ignored: no device and id to answer",
                            extra={"reason": exc.reason, "payload": payload[:200]})
            return
        if request is None or self.hub is None:
            return
        cp = self.hub.states.get(request.device)
        if cp is None:
            self._reply(request.device, request.id, CommandResult(
                INVALID, request.method,
                f"unknown device {request.device!r}: no charge point of that identity").to_json())
            return
        if request.method == "getState":
            self._reply(request.device, request.id,
                        {"status": "answered", "action": "getState", "result": cp.to_json()})
            return
        try:
            name, args = fmt.map_method(request.method, request.params)
        except fmt.BadRpc as exc:
            self._reply(request.device, request.id,
                        CommandResult(INVALID, request.method, exc.reason).to_json())
            return
        self._spawn(self._run_rpc(request, name, args))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_rpc(self, request: fmt.RpcRequest, name: str,
                       args: dict[str, Any] | None) -> None:
        assert self.hub is not None
        try:
            result = await self.hub.command(request.device, name, args)
        except Exception as exc:  # the hub promises not to raise; a reply is owed anyway
            log.exception("command failed", extra={"identity": request.device, "command": name})
            result = CommandResult(INVALID, name, f"gateway error: {type(exc).__name__}")
        self._reply(request.device, request.id, result.to_json())

    def _on_attributes(self, payload: bytes) -> None:
        """Shared attributes set in ThingsBoard: `maxCurrent` / `currentLimit` (A, `_N` for
        connector N, else the whole charger) and `chargingEnabled` act on the charger."""
        update = fmt.parse_attribute_update(payload)
        if update is None or self.hub is None:
            return
        device, data = update
        if device not in self.hub.states:
            log.warning("ThingsBoard attribute update for an unknown device",
                        extra={"identity": device})
            return
        for key, value in data.items():
            base, _, suffix = key.partition("_")
            if base in ("maxCurrent", "currentLimit") and (not suffix or suffix.isdigit()):
                if isinstance(value, int | float) and not isinstance(value, bool):
                    args = {"connector": int(suffix) if suffix else 0, "amps": value}
                    self._spawn(self._run_attribute(device, key, "set_current_limit", args))
                    continue
            elif key == "chargingEnabled" and isinstance(value, bool):
                self._spawn(self._run_attribute(device, key, "set_charging_enabled",
                                                {"enabled": value}))
                continue
            log.debug("ThingsBoard shared attribute ignored", extra={"key": key})

    async def _run_attribute(self, device: str, key: str, name: str,
                             args: dict[str, Any]) -> None:
        assert self.hub is not None
        result = await self.hub.command(device, name, args)
        # No reply channel exists for attribute updates: the outcome is in the log, and an
        # accepted limit shows in the `currentLimit` telemetry.
        level = logging.INFO if result.ok else logging.WARNING
        log.log(level, "ThingsBoard shared attribute applied" if result.ok else
                "ThingsBoard shared attribute not applied",
                extra={"identity": device, "key": key, **result.to_json()})

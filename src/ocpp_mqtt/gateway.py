"""Composition root: embedded broker, MQTT link, relay mode and WebSocket listener."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from . import __version__
from .config import ConfigError, Settings
from .listeners import ListenerSpec
from .modes.relay import Relay, policy_from
from .northbound.broker import EmbeddedBroker
from .northbound.client import tls_context
from .northbound.emqx import Template
from .northbound.mqtt import MqttLink
from .ocppj.validation import Schemas
from .security_events import SecurityEvents
from .transport.pings import Pinger
from .transport.tls import ServerTls, TlsError
from .transport.websocket import ENDPOINT, Listener

if TYPE_CHECKING:
    from .admin.server import AdminServer
    from .credentials_mqtt import Provisioning
    from .modes.central.mode import Central
    from .modes.proxy.mode import Proxy
    from .transport.guard import Guard

log = logging.getLogger("ocpp_mqtt.gateway")


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.schemas = Schemas(validate_formats=settings.validate_formats)
        self.relay = Relay(settings)
        self.policy = policy_from(settings)  # shared by every session; holds their Stats
        self.admin: AdminServer | None = None
        self.central: Central | None = None
        if settings.mode == "central":
            from .modes.central.mode import Central
            from .modes.central.store import StoreError

            try:
                self.central = self.relay.central = Central(settings, self.relay)
            except StoreError as exc:
                raise ConfigError(str(exc)) from exc
        self.proxy: Proxy | None = None
        if settings.mode == "proxy":
            from .modes.proxy.mode import Proxy

            self.proxy = self.relay.proxy = Proxy(settings, self.relay)
        self.security = self.relay.security = SecurityEvents(
            settings.prefix, settings.security_topic, settings.gateway_id)
        self.guard: Guard | None = None
        if any(spec.profile for spec in settings.endpoints) or settings.credentials_topic:
            self.guard = _guard(settings, self.security)
        self.provisioning: Provisioning | None = None
        self.broker: EmbeddedBroker | None = None
        self.link: MqttLink | None = None
        self._runners: list[web.AppRunner] = []
        self.listener: Listener | None = None
        self.tls: list[ServerTls] = []
        self.ws_port = 0  # the first listener's port
        self.ws_ports: list[int] = []  # every listener's, in `endpoints` order
        self.started_at_ms = 0
        self.stopping = False
        self.broker_down_since: float | None = None  # time.time() of the link's loss
        self._grace: asyncio.Task[None] | None = None
        self._pinger: asyncio.Task[None] | None = None
        prefix = settings.prefix
        self.status_topic = Template(prefix, settings.gateway_status_topic).render(
            gateway=settings.gateway_id)

    def _status(self, online: bool) -> bytes:
        body: dict[str, Any] = {"status": "online" if online else "offline",
                                "gateway": self.settings.gateway_id}
        if online:
            body.update(version=__version__, started_at=self.started_at_ms,
                        listen=self.settings.listen, ocpp=self.settings.versions)
        return orjson.dumps(body)

    async def start(self) -> None:
        settings = self.settings
        target = settings.mqtt_target
        if target.embedded:
            self.broker = EmbeddedBroker(target.host, target.port)
            await self.broker.start()
        tls = None
        if target.tls:
            tls = tls_context(
                str(settings.mqtt_ca) if settings.mqtt_ca else None,
                str(settings.mqtt_cert) if settings.mqtt_cert else None,
                str(settings.mqtt_key) if settings.mqtt_key else None,
            )
        # Stable per instance: a restarted instance takes over, and so ends, the MQTT session
        # its predecessor left (which would otherwise still be handed shared messages).
        client_id = settings.mqtt_client_id or f"ocpp-mqtt-{settings.gateway_id}"
        self.link = MqttLink(
            target,
            client_id=client_id,
            version=settings.mqtt_version,
            keepalive=settings.mqtt_keepalive,
            will=(self.status_topic, self._status(False)),
            tls=tls,
            on_message=self.relay.on_mqtt,
            on_reconnect=self._reconnected,
            on_down=self._broker_down,
            max_inflight=settings.mqtt_max_inflight,
            session_expiry=settings.mqtt_session_expiry,
            reconnect_delay=(settings.mqtt_reconnect_min, settings.mqtt_reconnect_max),
        )
        try:
            await self.link.connect(settings.mqtt_connect_timeout)
        except (OSError, TimeoutError) as exc:
            await self._stop_broker()
            raise ConfigError(f"mqtt: cannot connect to {target.describe()}: "
                              f"{exc or type(exc).__name__}; is the broker running?") from exc
        await self.relay.start(self.link)
        if self.central is not None:
            await self.central.start(self.link)
        self.security.link = self.link
        if settings.credentials_topic and self.guard is not None and \
                self.guard.store is not None:
            from .credentials_mqtt import Provisioning

            self.provisioning = Provisioning(settings, self.guard.store, self.link)
            await self.provisioning.start(self.relay)
        listener = self.listener = Listener(settings, self.schemas, self.policy,
                                            self.relay, self.link, self,
                                            self.proxy.gate if self.proxy else None)
        if settings.mqtt_cp:
            from .transport.mqtt_cp import MqttChargePoints

            self.relay.mqtt_cps = MqttChargePoints(
                settings, self.schemas, policy_from(settings), self.relay,
                self.proxy.gate if self.proxy else None, listener.frame_log)
            await self.relay.mqtt_cps.start(self.link)
        listener.guard = self.guard
        listener.limit_log.report = self.relay.problems.report = self.security.limit_hit
        for spec in settings.endpoints:
            await self._listen(listener, spec)
        self.ws_port = self.ws_ports[0]
        if settings.ping_interval:
            pinger = Pinger(settings.ping_interval, settings.ping_timeout,
                            self.relay.connections.values)
            self._pinger = asyncio.get_running_loop().create_task(pinger.run())
        self.started_at_ms = int(time.time() * 1000)
        await self._start_admin()
        self.relay.fleet.announced_at = self.started_at_ms
        self._announce()

    async def _start_admin(self) -> None:
        address = self.settings.admin_address
        if address is None:
            return
        from .admin.server import AdminServer
        from .admin.stream import Stream

        stream = Stream(self.settings.admin_stream_buffer)
        self.admin = AdminServer(self, stream)
        try:
            await self.admin.start(*address)
        except ConfigError:
            self.admin = None
            await self.stop()
            raise
        self.relay.tap = stream
        if self.central is None:  # central mode's state already holds the connectors
            from .modes.connectors import ConnectorTracker

            self.relay.tracker = ConnectorTracker()

    async def _listen(self, listener: Listener, spec: ListenerSpec) -> None:
        settings = self.settings
        tls = None
        if spec.tls:
            try:
                tls = ServerTls(spec)
            except TlsError as exc:
                await self.stop()
                raise ConfigError(f"listeners: {exc}") from exc
            self.tls.append(tls)
        app = web.Application()
        app[ENDPOINT] = spec
        app.router.add_get("/{tail:.*}", listener.handle)
        # keepalive_timeout also bounds the wait for a new connection's upgrade request (and
        # for a request sent a byte at a time): aiohttp's default holds them for an hour
        runner = web.AppRunner(app, access_log=None, handle_signals=False,
                               keepalive_timeout=settings.handshake_timeout)
        await runner.setup()
        self._runners.append(runner)
        host, port = spec.host_port
        # Workers (--workers N) each bind the port; the kernel spreads connections over them.
        # A reconnect storm overflows a short accept queue, and each dropped SYN costs the
        # charge point a 1-3-7 s retransmission (bench B4).
        site = web.TCPSite(runner, host, port, reuse_address=True,
                           ssl_context=tls.context if tls is not None else None,
                           reuse_port=settings.workers > 1, backlog=settings.listen_backlog)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            key = "listen" if spec.profile == 0 and spec.address == settings.listen \
                else "listeners"
            raise ConfigError(f"{key}: cannot listen on {host}:{port}: {exc.strerror}; "
                              "choose another HOST:PORT") from exc
        sockets = getattr(site._server, "sockets", None) or []
        self.ws_ports.append(sockets[0].getsockname()[1] if sockets else port)
        if spec.profile == 0:
            log.warning("security profile 0: charge points connect without authentication; "
                        "use it on a trusted network only (SEC-02), see README 'Security "
                        "profiles'", extra={"listen": f"{host}:{self.ws_ports[-1]}"})

    def reload_certificates(self) -> bool:
        """SIGHUP: new certificates and CAs for the next TLS handshakes; connections stay."""
        ok = True
        for tls in self.tls:
            problem = tls.reload()
            if problem is None:
                log.info("certificates reloaded", extra={"listener": tls.spec.address})
            else:
                ok = False
                log.error(f"certificates not reloaded, the previous ones stay: {problem}",
                          extra={"listener": tls.spec.address})
        return ok

    def _broker_down(self) -> None:
        self.broker_down_since = time.time()
        if self.proxy is not None:
            # The charge points talk to their CSMS: MQTT only watches (the mirror is dropped
            # meanwhile) and injects, so its outage neither pauses nor closes them.
            assert self.link is not None
            self.link.release_reads()
            return
        if self.central is not None:
            # The gateway answers charge points itself: keep reading them (what they report
            # goes to the outbox); only CALLs routed to a backend are refused meanwhile.
            self.relay.broker_outage("callerror")
            assert self.link is not None
            self.link.release_reads()
            return
        if self._grace is None or self._grace.done():
            self._grace = asyncio.get_running_loop().create_task(self._outage_after_grace())

    async def _outage_after_grace(self) -> None:
        """LC-01: a short outage only pauses reading the charge points; a longer one applies
        the configured policy (closing their sockets, by default)."""
        grace = self.settings.broker_outage_grace
        await asyncio.sleep(grace)
        if self.link is None or self.link.connected or self.stopping:
            return
        policy = self.settings.broker_outage
        log.warning("MQTT broker unreachable past the grace period", extra={
            "grace_s": grace, "policy": policy, "charge_points": len(self.relay.connections)})
        self.relay.broker_outage(policy)
        if policy == "callerror":
            self.link.release_reads()

    def _reconnected(self) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        self.broker_down_since = None
        self.relay.broker_back()
        self._announce()
        self.relay.republish_presence()
        if self.central is not None:
            self.central.reconnected()

    # ---- Availability (handshakes and the /health, /ready probes) -------------------------

    def refusal(self) -> str | None:
        if self.stopping:
            return "gateway shutting down"
        if (self.link is None or not self.link.connected) and self.central is None \
                and self.proxy is None:
            return "MQTT broker unreachable: try again later"
        return None

    def health(self) -> dict[str, Any]:
        link = self.link
        return {
            "gateway": self.settings.gateway_id,
            "version": __version__,
            "mqtt": {
                "connected": bool(link and link.connected),
                "down_since": (int(self.broker_down_since * 1000)
                               if self.broker_down_since else None),
                "backlog": link.backlog if link else 0,
            },
            "charge_points": len(self.relay.connections),
            **({"outbox": self.central.outbox.count} if self.central is not None else {}),
        }

    def _announce(self) -> None:
        if self.link is not None:
            self.link.publish(self.status_topic, self._status(True), 1, True)

    def describe(self) -> str:
        assert self.link is not None
        target = self.link.target
        broker = target.describe() if target.embedded else (
            f"{target.describe()} (MQTT {'5' if self.link.mqtt5 else '3.1.1'})")
        endpoints = self.settings.endpoints
        where = ", ".join(
            f"{spec.scheme}://{spec.host_port[0]}:{port}/<path>/<identity>"
            + (f" (profile {spec.profile})" if len(endpoints) > 1 or spec.profile else "")
            for spec, port in zip(endpoints, self.ws_ports, strict=False))
        return (
            f"ocpp-mqtt {__version__}: charge points connect to {where} "
            f"(OCPP {', '.join(self.settings.versions)}); "
            f"MQTT: {broker}, "
            f"prefix {self.settings.prefix!r}"
            + (f"; dashboard: {self.admin.url}/, admin API: {self.admin.url}/api/v1/"
               if self.admin is not None else "")
        )

    async def stop(self) -> None:
        """Graceful: refuse new charge points, let calls in progress finish (bounded), close
        the sockets with "going away", deliver what is queued for MQTT, disconnect."""
        self.stopping = True
        if self._grace is not None:
            self._grace.cancel()
        if self._pinger is not None:
            self._pinger.cancel()
        if self.admin is not None:
            self.admin.stream.close()  # live streams end now; the API answers until the end
        # Answers come over MQTT: with the broker gone there is nothing to wait for.
        connected = self.link is not None and self.link.connected
        await self.relay.stop(self.settings.shutdown_timeout if connected else 0.0)
        if self.relay.mqtt_cps is not None:
            self.relay.mqtt_cps.stop()
        if self.central is not None:
            await self.central.stop(self.settings.shutdown_timeout if connected else 0.0)
        if self.proxy is not None:
            self.proxy.stop()
            await self.proxy.close()
        if self.link is not None:
            if self.link.connected:
                self.link.publish(self.status_topic, self._status(False), 1, True)
                await self.link.drain()
            await self.link.disconnect()
        if self.central is not None:
            self.central.close()
        for runner in self._runners:
            await runner.cleanup()
        self._runners = []
        if self.guard is not None:
            self.guard.close()
        if self.admin is not None:
            await self.admin.stop()
            self.admin = None
        await self._stop_broker()

    async def _stop_broker(self) -> None:
        if self.broker is not None:
            await self.broker.stop()
            self.broker = None


def settle_heap() -> int:
    """Collect what start-up left behind, then move everything that survives (modules,
    schemas, settings: some 60,000 objects) out of the garbage collector's reach. A full
    collection otherwise walks all of it: it stopped the loop for 25-40 ms under B2's load,
    against about 3 ms once they are frozen. Returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


async def serve(settings: Settings, stop: asyncio.Event,
                on_ready: Callable[[str], None] | None = None) -> None:
    gateway = Gateway(settings)
    await gateway.start()
    settle_heap()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, gateway.reload_certificates)
    if on_ready is None:
        print(gateway.describe(), flush=True)
    else:
        on_ready(gateway.describe())
    try:
        await stop.wait()
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        await gateway.stop()


def _guard(settings: Settings, events: SecurityEvents) -> Guard:
    from .credentials import CredentialError
    from .transport.guard import Guard

    try:
        return Guard(settings, events)
    except CredentialError as exc:
        raise ConfigError(str(exc)) from exc

"""Central mode's hub: answers charge point CALLs itself (or lets a backend, per action), keeps
each charge point's state, runs commands, and feeds the northbound profiles.

It rides on the relay, which still owns the connections, presence, the EMQX topics and the
session timers; the relay hands it every charge point CALL and every MQTT message first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from ...config import Settings
from ...northbound import emqx
from ...northbound.mqtt import MqttLink
from ...ocppj import events as ev
from ...ocppj.versions import SEND
from ...transport.connection import Connection
from ..calls import send_call
from ..connectors import announce
from . import profile as pr
from .answers import Answer, Answerer, iso_now
from .commands import run_command
from .limits import Limits
from .observe import connected, disconnected, observe
from .outbox import Outbox
from .profile import CommandResult, MqttHandler, Profile
from .profiles import make_profiles
from .state import ChargePointState
from .store import Store

if TYPE_CHECKING:
    from ..relay import Relay

log = logging.getLogger("ocpp_mqtt.central")


class StatePublisher:
    """Retained state needs no queue: while the link is down it is dropped, and every profile
    publishes its whole state again when the link is back."""

    def __init__(self, link: MqttLink) -> None:
        self.link = link
        self.dropped = 0

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False,
                **props: Any) -> None:
        if self.link.connected:
            self.link.publish(topic, payload, qos, retain, **props)
        else:
            self.dropped += 1


@dataclass(slots=True)
class _Waiting:
    """A charge point CALL a backend answers (hybrid): kept to learn its answer."""

    action: str
    request: dict[str, Any]
    fallback_at: float | None  # monotonic time of the built-in answer (route `fallback`)


class Central:
    def __init__(self, settings: Settings, relay: Relay) -> None:
        self.settings = settings
        self.relay = relay
        self.store = Store(settings.store)
        self.answerer = Answerer(settings, self.store)
        self.outbox = Outbox(self.store, settings.outbox_max, settings.outbox_overflow)
        self.states: dict[str, ChargePointState] = self.store.load_states()
        self.limits = Limits()
        self.profiles: list[Profile] = make_profiles(settings)
        self.emqx = "emqx" in settings.active_profiles
        self.native = "native" in settings.active_profiles
        self._routes = settings.answer
        self._default_route = settings.answer_default
        self._waiting: dict[tuple[Connection, str], _Waiting] = {}
        self._subs: list[tuple[list[str], MqttHandler]] = []
        self._booted: set[Connection] = set()  # connections that sent a BootNotification
        self._tasks: set[asyncio.Task[Any]] = set()
        self._link: MqttLink | None = None
        self._state_publisher: StatePublisher | None = None
        self._keys_forgotten_at = 0.0
        self._transactions = emqx.Template(settings.prefix, settings.transactions_topic)
        self._status_topic = emqx.Template(settings.prefix, settings.gateway_status_topic).render(
            gateway=settings.gateway_id)

    # ---- Hub API (what profiles use) -----------------------------------------------------

    @property
    def mqtt(self) -> pr.Publisher:
        assert self._state_publisher is not None
        return self._state_publisher

    @property
    def gateway_status_topic(self) -> str:
        return self._status_topic

    def durable(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.outbox.publish(topic, payload, qos, retain)

    async def subscribe(self, topic_filter: str, handler: MqttHandler, qos: int = 1) -> None:
        self._subs.append((topic_filter.split("/"), handler))
        assert self._link is not None
        await self._link.subscribe(topic_filter, qos)

    async def command(self, identity: str, name: str, args: dict[str, Any] | None,
                      *, connector: int | None = None) -> CommandResult:
        cp = self.states.get(identity)
        conn = self.relay.connections.get(identity)
        online = conn is not None and not conn.detached
        # the gateway's own switch needs no connection: it holds for the next one too
        gateway_only = name in ("set_charging_enabled", "charging_enabled")
        if cp is None or not (online or gateway_only):
            known = "is not connected" if cp is not None else "is unknown to this gateway"
            return CommandResult(pr.OFFLINE, name, reason=f"charge point {identity!r} {known}")

        async def call(action: str, payload: dict[str, Any]) -> CommandResult:
            return await self._call(identity, action, payload)

        version = conn.version.value if conn is not None else (cp.version or "1.6")
        try:
            result = await run_command(name, args, cp=cp, version=version,
                                       settings=self.settings, call=call, limits=self.limits,
                                       connector=connector)
        except Exception as exc:  # a command must answer, never take the hub down
            log.exception("command failed", extra={"cid": identity, "command": name})
            return CommandResult(pr.INVALID, name, reason=f"internal error: {exc}")
        if result.status == pr.ANSWERED:  # e.g. an accepted limit or the charging switch
            self._save_and_notify(cp, set(cp.connectors) | {0})
        return result

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self, link: MqttLink) -> None:
        self._link = link
        self._state_publisher = StatePublisher(link)
        self.outbox.attach(link)
        self._remember_keys()
        for profile in self.profiles:
            await profile.start(self)
        # What a crash left behind: charge points the store says are online are not (yet).
        now = iso_now(datetime.now(UTC))
        for cp in self.states.values():
            if cp.online:
                disconnected(cp, "gateway restarted", now)
                self.store.save_state(cp)
                self._each("offline", cp)

    def _remember_keys(self) -> None:
        """Repeats of what an earlier run published get their Duplicate flag too."""
        repeats = self.relay.repeats
        if not repeats.window_ms or not repeats.actions:
            return
        since = int(time.time() * 1000) - repeats.window_ms
        self.store.seen_forget(since)
        repeats.load(self.store.seen_since(since, repeats.capacity))
        repeats.on_new = self._key_seen
        self._keys_forgotten_at = time.monotonic()

    def _key_seen(self, key: str, first_ms: int) -> None:
        self.store.seen_add(key, first_ms)
        if time.monotonic() - self._keys_forgotten_at > 60:
            self._keys_forgotten_at = time.monotonic()
            self.store.seen_forget(first_ms - self.relay.repeats.window_ms)

    async def stop(self, wait: float) -> None:
        """Stop the profiles, then publish what the outbox holds (at most `wait` seconds:
        what is left stays on disk for the next run)."""
        for handle in self._tasks:
            handle.cancel()
        for profile in self.profiles:
            try:
                await profile.stop()
            except Exception:
                log.exception("profile failed to stop", extra={"profile": profile.name})
        link = self._link
        deadline = time.monotonic() + wait
        while self.outbox.count and link is not None and link.connected \
                and time.monotonic() < deadline:
            self.outbox.pump()
            await asyncio.sleep(0.02)
        if self.outbox.count:
            log.warning("outbox not empty at stop: published after the next start",
                        extra={"messages": self.outbox.count})

    def close(self) -> None:
        """After the MQTT link is gone: no confirmation can come any more."""
        self.outbox.closed = True
        self.store.close()

    def reconnected(self) -> None:
        """The broker is back: catch up on the outbox and re-publish state."""
        self.outbox.pump()
        self._each("republish")

    def remove(self, identity: str) -> bool:
        """Forget a charge point (it must be disconnected): its store row and topics."""
        cp = self.states.get(identity)
        if cp is None or identity in self.relay.connections:
            return False
        del self.states[identity]
        self.store.delete_state(identity)
        self.limits.forget(identity)
        self._each("removed", cp)
        return True

    # ---- relay hooks ---------------------------------------------------------------------

    def route(self, action: str) -> str:
        return self._routes.get(action, self._default_route)

    def answers_locally(self, action: str) -> bool:
        """During a broker outage: may this CALL still be answered (by the built-in logic)?"""
        return self.route(action) != "backend"

    def attached(self, conn: Connection) -> None:
        cp = self._state_of(conn)
        now = datetime.now(UTC)
        changed = connected(cp, conn.version.value, conn.remote_ip, iso_now(now))
        self.store.save_state(cp)
        self._each("online", cp)
        self._notify(cp, changed)
        delay = self.settings.trigger_after_connect
        if delay > 0 and self.settings.trigger_messages:
            self._spawn(self._trigger_later(conn, delay))

    def detached(self, conn: Connection, reason: str) -> None:
        self._booted.discard(conn)
        for key in [k for k in self._waiting if k[0] is conn]:
            del self._waiting[key]
        holder = self.relay.connections.get(conn.identity)
        cp = self.states.get(conn.identity)
        if cp is None or (holder is not None and holder is not conn):
            return  # a newer connection of the same charge point holds it now
        changed = disconnected(cp, reason, iso_now(datetime.now(UTC)))
        self.store.save_state(cp)
        self._each("offline", cp)
        self._notify(cp, changed)

    def cp_call(self, conn: Connection, call: ev.UpCall) -> None:
        """A CALL (or 2.1 SEND) from a charge point: mirror it, then answer it or leave it to
        the backend."""
        link = self._link
        assert link is not None
        local = call.message_type == SEND or self.route(call.action) == "local" or (
            self.relay.outage is not None and self.route(call.action) == "fallback")
        if self.emqx:
            topics = conn.topics
            topic = self.relay._topic(conn, topics.overrides.get(call.action, topics.upstream),
                                      call.action, call.unique_id, call.message_type)
            body = self.relay.encode_call(conn, call, int(time.time() * 1000))
            if local:  # acknowledged by us: must reach MQTT whatever happens (outbox)
                if self.outbox.full:
                    conn.session.policy.stats.hit("outbox_full")
                    self._refuse(conn, call, "the gateway's outbox is full (MQTT unreachable "
                                 "for long): try again later")
                    return
                self.outbox.publish(topic, body, 1)
            else:
                link.publish(topic, body, self.relay.qos)
        if call.message_type == SEND:
            self._took_in(conn, call.action, call.payload, None)
            return
        if not local:
            fallback = (time.monotonic() + self.settings.fallback_timeout
                        if self.route(call.action) == "fallback" else None)
            self._waiting[(conn, call.unique_id)] = _Waiting(call.action, call.payload, fallback)
            return
        self._answer(conn, call.unique_id, call.action, call.payload)

    def backend_answered(self, conn: Connection, unique_id: str,
                         payload: dict[str, Any] | None) -> None:
        """A backend's CALLRESULT (or CALLERROR: payload None) went to the charge point."""
        waiting = self._waiting.pop((conn, unique_id), None)
        if waiting is not None:
            self._took_in(conn, waiting.action, waiting.request, payload)

    def tick(self, now: float) -> None:
        """Fallback answers of backend calls that took too long."""
        if not self._waiting:
            return
        late = [(key, w) for key, w in self._waiting.items()
                if w.fallback_at is not None and w.fallback_at <= now]
        for (conn, unique_id), waiting in late:
            del self._waiting[(conn, unique_id)]
            if conn.detached or conn.session.pending_action(unique_id) is None:
                continue
            log.info("no backend answer in time: answered by the gateway", extra={
                "cid": conn.identity, "id": unique_id, "action": waiting.action})
            self._answer(conn, unique_id, waiting.action, waiting.request)

    def on_mqtt(self, topic: str, payload: bytes, properties: dict[str, Any]) -> bool:
        """Messages on the profiles' subscriptions; False for anything else."""
        if not self._subs:
            return False
        levels = topic.split("/")
        handled = False
        for pattern, handler in self._subs:
            if _matches(pattern, levels):
                handled = True
                try:
                    handler(topic, payload, properties)
                except Exception:
                    log.exception("profile failed on an MQTT message", extra={"topic": topic})
        return handled

    # ---- internals -----------------------------------------------------------------------

    def _answer(self, conn: Connection, unique_id: str, action: str,
                request: dict[str, Any]) -> None:
        cp = self._state_of(conn)
        now = datetime.now(UTC)
        try:
            answer = self.answerer.answer(cp, conn.version, action, request, now)
        except Exception as exc:  # e.g. the store's disk is full: the charger keeps it
            log.exception("cannot answer", extra={"cid": conn.identity, "action": action})
            answer = Answer(error=("InternalError", f"the gateway cannot answer: {exc}"))
        mono = time.monotonic()
        if answer.error is not None:
            events = conn.session.backend_error(unique_id, answer.error[0], answer.error[1], {},
                                                None, mono)
        else:
            assert answer.payload is not None
            events = conn.session.backend_result(unique_id, answer.payload, None, mono)
            if not any(type(e) is ev.SendFrame for e in events):
                # our own answer failed its schema: a bug here, but the charger must hear back
                log.error("built-in answer refused by the session", extra={
                    "cid": conn.identity, "action": action,
                    "reason": [getattr(e, "reason", "") for e in events]})
                events = conn.session.backend_error(unique_id, "InternalError",
                                                    "the gateway's answer was invalid", {},
                                                    None, mono)
        self.relay.dispatch(conn, [e for e in events if type(e) is not ev.Outcome])
        if answer.error is None and action == "BootNotification":
            self._booted.add(conn)
            self.limits.forget(conn.identity)  # a rebooted charger may have lost its profiles
        self._took_in(conn, action, request, answer.payload)
        if answer.transaction is not None and self.native:
            record = {"event": answer.transaction_event, "cid": conn.identity,
                      "version": conn.version.value, **answer.transaction.to_json()}
            self.outbox.publish(self._transactions.render(cid=conn.cid_level),
                                orjson.dumps(record), 1)

    def _refuse(self, conn: Connection, call: ev.UpCall, reason: str) -> None:
        events = conn.session.backend_error(call.unique_id, "InternalError", reason, {}, None,
                                            time.monotonic())
        self.relay.dispatch(conn, [e for e in events if type(e) is not ev.Outcome])
        log.warning("charge point message refused", extra={
            "cid": conn.identity, "action": call.action, "reason": reason})

    def _took_in(self, conn: Connection, action: str, request: dict[str, Any],
                 response: dict[str, Any] | None) -> None:
        cp = self._state_of(conn)
        changed = observe(cp, conn.version.value, action, request, response,
                          iso_now(datetime.now(UTC)))
        self.store.save_state(cp)
        self._each("message", cp, action, request, response)
        self._notify(cp, changed)

    def _save_and_notify(self, cp: ChargePointState, changed: set[int]) -> None:
        self.store.save_state(cp)
        self._notify(cp, changed)

    def _notify(self, cp: ChargePointState, changed: set[int]) -> None:
        if changed:
            self._each("changed", cp, changed)
            announce(self.relay.tap, cp, changed)

    def _state_of(self, conn: Connection) -> ChargePointState:
        cp = self.states.get(conn.identity)
        if cp is None:
            cp = self.states[conn.identity] = ChargePointState(
                conn.identity, conn.cid_level,
                charging_enabled=self.settings.charging_enabled_default)
        return cp

    def _each(self, method: str, *args: Any) -> None:
        for profile in self.profiles:
            try:
                getattr(profile, method)(*args)
            except Exception:  # one profile's bug must not cost the others their data
                log.exception("profile failed", extra={"profile": profile.name,
                                                       "hook": method})

    async def _call(self, identity: str, action: str, payload: dict[str, Any]) -> CommandResult:
        return await send_call(self.relay, identity, action, payload)

    async def _trigger_later(self, conn: Connection, delay: float) -> None:
        """A charge point that reconnects without booting (most do) is asked for what the
        gateway lacks: its identity card and its connectors' statuses (lbbrhzn/ocpp#1529)."""
        await asyncio.sleep(delay)
        if conn.detached or conn in self._booted:
            return
        cp = self._state_of(conn)
        for message in self.settings.trigger_messages:
            if message == "BootNotification" and cp.vendor is not None \
                    and cp.registration == "Accepted":
                continue
            result = await self._call(conn.identity, "TriggerMessage",
                                      {"requestedMessage": message})
            log.info("asked the charge point after a connect without boot", extra={
                "cid": conn.identity, "message": message, "result": result.status,
                "answer": (result.result or {}).get("status")})
            if conn.detached:
                return

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _matches(pattern: list[str], levels: list[str]) -> bool:
    """MQTT topic filter matching (`+` one level, `#` the rest)."""
    for index, part in enumerate(pattern):
        if part == "#":
            return True
        if index >= len(levels) or (part != "+" and part != levels[index]):
            return False
    return len(pattern) == len(levels)


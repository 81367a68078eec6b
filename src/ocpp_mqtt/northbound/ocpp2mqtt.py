"""The ocpp2mqtt profile: gyzod/ocpp2mqtt's topics, so its dashboards and automations keep
working when this gateway replaces it.

    <P>/state/<key>          retained raw scalars (QoS 0): status, power_active_import, ...
    <P>/cmd                  <- {"action": "reset", "args": {"type": "Soft"}} (also P/cmd/<any>,
                                and the early form {"op": ..., "message": ...})
    <P>/cmd_result/<field>   retained raw scalars: status, action, error, the answer's fields
    <P>/cmd_result/id/<id>   the whole result as JSON when the command carried an "id"

P is `ocpp2mqtt_basepath` (MQTT_BASEPATH) with the identity appended, no separator, when
`ocpp2mqtt_use_station_name` (MQTT_USESTATIONNAME=true); else every charge point shares P.
What each key holds and which ocpp2mqtt bugs are fixed: README, "Replacing ocpp2mqtt".
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

import orjson

from ..config import Settings
from ..modes.central import profile as pr
from ..modes.central.profile import CommandResult, Hub
from ..modes.central.state import ChargePointState
from ..ocppj.identity import escape_topic_level
from . import ocpp2mqtt_keys as keys
from .ocpp2mqtt_keys import NOT_CONNECTED, Pairs, error_text, gate

log = logging.getLogger("ocpp_mqtt.ocpp2mqtt")

_FLOW = re.compile(r"(?:power_active_import|current_import)(?:_l[123](?:_n)?)?")
_FIELD = re.compile(r"[A-Za-z0-9_\-]{1,64}")


class Ocpp2MqttProfile:
    name = "ocpp2mqtt"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.basepath = settings.ocpp2mqtt_basepath
        self.per_station = settings.ocpp2mqtt_use_station_name
        self.hub: Hub | None = None
        self._retained: dict[str, bytes] = {}  # topic -> payload: what republish() sends
        self._result_fields: dict[str, set[str]] = {}  # base -> fields of the last result
        self._subscribed: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    def base(self, cid_level: str) -> str:
        return self.basepath + cid_level if self.per_station else self.basepath

    # ---- Profile --------------------------------------------------------------------------

    async def start(self, hub: Hub) -> None:
        self.hub = hub
        # Charge points known from the store and the expected ones get their command topic
        # now (a command while one is away is answered "not connected") and read
        # DISCONNECTED until they connect: a crash of the gateway leaves no stale CONNECTED.
        cids = {cp.identity: cp.cid_level for cp in hub.states.values()}
        for identity in self.settings.ocpp2mqtt_expected:
            cids.setdefault(identity, escape_topic_level(identity))
        if not self.per_station:
            await self._subscribe(self.basepath, None)
        started = keys.now_z()
        done: set[str] = set()
        for identity, cid in cids.items():
            base = self.base(cid)
            if self.per_station:
                await self._subscribe(base, identity)
            cp = hub.states.get(identity)
            if base in done or (cp is not None and cp.online):
                continue
            done.add(base)
            self._state(base, [("connection_state", "DISCONNECTED"),
                               ("service_started", started)])

    def online(self, cp: ChargePointState) -> None:
        base = self.base(cp.cid_level)
        if self.per_station and f"{base}/cmd/#" not in self._subscribed:
            # CONNECTED once its command topic is subscribed: from then on commands reach it
            self._spawn(self._online_after_subscribing(cp, base))
            return
        self._announce(cp, base)

    async def _online_after_subscribing(self, cp: ChargePointState, base: str) -> None:
        try:
            await self._subscribe(base, cp.identity)
        finally:
            if cp.online:  # not if it left meanwhile: DISCONNECTED is already said
                self._announce(cp, base)

    def _announce(self, cp: ChargePointState, base: str) -> None:
        if not self.per_station and self.hub is not None:
            others = [o.identity for o in self.hub.states.values()
                      if o.online and o.identity != cp.identity]
            if others:
                log.warning("charge points share one ocpp2mqtt topic tree: their state mixes "
                            "and commands are refused; set MQTT_USESTATIONNAME=true",
                            extra={"cid": cp.identity, "others": others[:5], "base": base})
        self._state(base, [("connection_state", "CONNECTED"), ("last_connected", keys.now_z()),
                           ("charging_enabled", "ON" if cp.charging_enabled else "OFF")])

    def offline(self, cp: ChargePointState) -> None:
        base = self.base(cp.cid_level)
        self._state(base, [("connection_state", "DISCONNECTED"),
                           ("last_disconnected", keys.now_z()),
                           ("disconnect_reason", keys.disconnect_reason(cp.disconnect_reason)),
                           ("disconnect_detail", cp.disconnect_reason)])
        self._zero_flow(f"{base}/state/")
        head = f"{base}/state/connector_"
        for prefix in sorted({t.rsplit("/", 1)[0] + "/" for t in self._retained
                              if t.startswith(head) and _FLOW.fullmatch(t.rsplit("/", 1)[1])}):
            self._zero_flow(prefix)

    def message(self, cp: ChargePointState, action: str, request: dict[str, Any],
                response: dict[str, Any] | None) -> None:
        handler = _HANDLERS.get(action)
        if handler is not None:
            v16 = (cp.version or "1.6").startswith("1.")
            handler(self, cp, self.base(cp.cid_level), request, response, v16)

    def changed(self, cp: ChargePointState, connectors: set[int]) -> None:
        # the charging switch can change by command (ours or native's) without a message
        if 0 in connectors:
            topic = f"{self.base(cp.cid_level)}/state/charging_enabled"
            value = b"ON" if cp.charging_enabled else b"OFF"
            if self._retained.get(topic) != value:
                self._put(topic, value)

    def republish(self) -> None:
        assert self.hub is not None
        for topic, data in list(self._retained.items()):
            self.hub.mqtt.publish(topic, data, 0, True)

    def removed(self, cp: ChargePointState) -> None:
        if not self.per_station:
            return  # the shared tree belongs to the others too
        base = self.base(cp.cid_level) + "/"
        assert self.hub is not None
        for topic in [t for t in self._retained if t.startswith(base)]:
            del self._retained[topic]
            self.hub.mqtt.publish(topic, b"", 0, True)
        self._result_fields.pop(base[:-1], None)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    # ---- state topics -----------------------------------------------------------------------

    def _put(self, topic: str, data: bytes) -> None:
        assert self.hub is not None
        if data:
            self._retained[topic] = data
        else:
            self._retained.pop(topic, None)
        self.hub.mqtt.publish(topic, data, 0, True)

    def _state(self, base: str, pairs: Pairs, sub: str = "") -> None:
        prefix = f"{base}/state/{sub}"
        for key, value in pairs:
            data = keys.payload(value)
            if data is not None:
                self._put(prefix + key, data)

    def _zero_flow(self, prefix: str) -> None:
        """Power and current read 0 (ocpp2mqtt's rule, dashboards rely on it); the phase keys
        too, where they were published."""
        names = {"power_active_import", "current_import"}
        names.update(t[len(prefix):] for t in self._retained if t.startswith(prefix)
                     and _FLOW.fullmatch(t[len(prefix):]))
        for name in sorted(names):
            self._put(prefix + name, b"0")

    def _both(self, base: str, connector: int | None, bare: bool, pairs: Pairs) -> None:
        """`pairs` on the charge point's keys (when `bare`) and on connector_<n>/."""
        if bare:
            self._state(base, pairs)
        if connector is not None:
            self._state(base, pairs, f"connector_{connector}/")

    # ---- commands ---------------------------------------------------------------------------

    async def _subscribe(self, base: str, identity: str | None) -> None:
        topic = f"{base}/cmd/#"
        if topic in self._subscribed:
            return
        self._subscribed.add(topic)
        assert self.hub is not None

        def handler(_topic: str, data: bytes, properties: dict[str, Any]) -> None:
            self._spawn(self._command(base, identity, data, properties))

        try:
            await self.hub.subscribe(topic, handler, 1)
        except Exception:
            self._subscribed.discard(topic)
            raise

    async def _command(self, base: str, identity: str | None, data: bytes,
                       properties: dict[str, Any]) -> None:
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            self._result(base, None, f"the command is not valid JSON: {exc}", None, properties)
            return
        if not isinstance(body, dict):
            self._result(base, None, 'expected {"action": "<name>", "args": {...}}', None,
                         properties)
            return
        request_id = body.get("id")
        if not isinstance(request_id, str | int) or isinstance(request_id, bool):
            request_id = None
        action = body["action"] if "action" in body else body.get("op")
        args = body["args"] if "args" in body else body.get("message")
        if not isinstance(action, str) or not action.strip():
            self._result(base, None, 'no action: expected {"action": "<name>", "args": {...}}',
                         request_id, properties)
            return
        result = await self._run(identity, action, args)
        self._result(base, action, result, request_id, properties)

    async def _run(self, identity: str | None, action: str,
                   args: Any) -> CommandResult | str:
        assert self.hub is not None
        if action == "charging_enabled":
            enabled = gate(args)
            if enabled is None:
                return f"charging_enabled takes ON or OFF; got {args!r}"
            targets = [identity] if identity is not None else self._online()
            if not targets:
                return NOT_CONNECTED
            results = [await self.hub.command(t, "set_charging_enabled", {"enabled": enabled})
                       for t in targets]
            return next((r for r in results if r.status != pr.ANSWERED), results[0])
        target, problem = await self._wait_for(identity)
        if target is None:
            return problem
        return await self.hub.command(target, action, args)

    def _online(self) -> list[str]:
        assert self.hub is not None
        return [cp.identity for cp in self.hub.states.values() if cp.online]

    async def _wait_for(self, identity: str | None) -> tuple[str | None, str]:
        """(the identity to send to, once it is connected; else None and why). Waits as
        ocpp2mqtt did (OCPP_COMMAND_RETRY_*), so a charger that is reconnecting gets it."""
        assert self.hub is not None
        attempts = max(1, self.settings.ocpp2mqtt_command_retries)
        for attempt in range(attempts):
            if identity is not None:
                cp = self.hub.states.get(identity)
                if cp is not None and cp.online:
                    return identity, ""
            else:
                online = self._online()
                if len(online) == 1:
                    return online[0], ""
                if len(online) > 1:
                    return None, (f"{len(online)} charge points share {self.basepath!r}: a "
                                  "command cannot tell them apart; set MQTT_USESTATIONNAME=true")
            if attempt < attempts - 1:
                await asyncio.sleep(self.settings.ocpp2mqtt_command_retry_delay * 2 ** attempt)
        return None, NOT_CONNECTED

    def _result(self, base: str, action: str | None, outcome: CommandResult | str,
                request_id: Any, properties: dict[str, Any]) -> None:
        fields: dict[str, Any] = {}
        if action is not None:
            fields["action"] = action
        if isinstance(outcome, CommandResult) and outcome.status == pr.ANSWERED:
            answer = keys.snake_keys(outcome.result or {})
            fields.update((k, v) for k, v in answer.items() if k not in ("action", "status"))
            # `status` comes last, so a consumer triggered by it reads the other fields fresh;
            # an answer without one (GetConfiguration) reads Accepted: it was answered
            fields["status"] = answer.get("status", "Accepted")
        else:
            fields["status"] = "error"
            fields["error"] = error_text(outcome, self.settings.call_timeout)
        prefix = f"{base}/cmd_result/"
        shown = {k for k in fields if _FIELD.fullmatch(k)}
        for stale in self._result_fields.get(base, set()) - shown:
            self._put(prefix + stale, b"")  # a field of an older result would mislead
        for key in [k for k in fields if k in shown]:
            data = keys.payload(fields[key])
            if data is not None:
                self._put(prefix + key, data)
        self._result_fields[base] = shown
        response = properties.get("response_topic")
        if request_id is None and not response:
            return
        doc = orjson.dumps({"id": request_id, **fields} if request_id is not None else fields)
        assert self.hub is not None
        if request_id is not None:  # one topic per request: concurrent results stay apart
            self.hub.mqtt.publish(f"{prefix}id/{escape_topic_level(str(request_id))}", doc, 1)
        if response:  # MQTT 5 request/response
            correlation = properties.get("correlation_data")
            extra = {"correlation_data": correlation[0]} if correlation else {}
            self.hub.mqtt.publish(response[0], doc, 1, False, **extra)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("ocpp2mqtt command handling failed", exc_info=task.exception())

    # ---- charge point messages -----------------------------------------------------------------

    def _boot(self, cp: ChargePointState, base: str, req: dict[str, Any],
              res: dict[str, Any] | None, v16: bool) -> None:
        self._state(base, keys.boot_pairs(cp, req, v16))

    def _heartbeat(self, cp: ChargePointState, base: str, req: dict[str, Any],
                   res: dict[str, Any] | None, v16: bool) -> None:
        self._state(base, [("heartbeat", "ON"), ("last_seen", keys.now_z())])

    def _authorize(self, cp: ChargePointState, base: str, req: dict[str, Any],
                   res: dict[str, Any] | None, v16: bool) -> None:
        self._state(base, [("authorize", keys.authorize_status(res))])

    def _status(self, cp: ChargePointState, base: str, req: dict[str, Any],
                res: dict[str, Any] | None, v16: bool) -> None:
        n = _int(req.get("connectorId" if v16 else "evseId"))
        status, pairs = keys.status_pairs(cp, req, v16, n)
        # `status` follows the connectors (bug 7); connector 0 (the charge point itself) only
        # while no connector has reported
        bare = n >= 1 or not any(c.status for c in cp.outlets())
        if bare:
            self._state(base, [*pairs[:2], ("connector_id", n), *pairs[2:]])
        self._state(base, [("connection_state", "CONNECTED"), ("last_seen", keys.now_z())])
        self._state(base, pairs, f"connector_{n}/")
        if status != "Charging":
            self._zero_flow(f"{base}/state/connector_{n}/")
            if bare and not any(c.status == "Charging" for c in cp.outlets()):
                self._zero_flow(f"{base}/state/")

    def _meter_values(self, cp: ChargePointState, base: str, req: dict[str, Any],
                      res: dict[str, Any] | None, v16: bool) -> None:
        n = _int(req.get("connectorId" if v16 else "evseId"))
        readings = keys.meter_keys(req.get("meterValue"), v16)
        known = cp.connectors.get(n)
        tx = req.get("transactionId") if v16 else None
        if tx is None and known is not None:
            tx = known.transaction_id
        pairs: Pairs = [("transaction_id", tx), *readings.items()]
        # the main meter (connector 0) feeds the plain keys only while no connector has
        self._both(base, n, n >= 1 or not any(c.readings for c in cp.outlets()), pairs)

    def _start(self, cp: ChargePointState, base: str, req: dict[str, Any],
               res: dict[str, Any] | None, v16: bool) -> None:
        n = _int(req.get("connectorId"))
        pairs: Pairs = [("meter_start_timestamp", req.get("timestamp")),
                        ("meter_start", req.get("meterStart")),
                        ("reservation_id", req.get("reservationId"))]
        if keys.authorize_status(res) == "Accepted":  # a refused start is stopped at once
            pairs.append(("transaction_id", (res or {}).get("transactionId")))
        self._both(base, n, True, pairs)

    def _stop(self, cp: ChargePointState, base: str, req: dict[str, Any],
              res: dict[str, Any] | None, v16: bool) -> None:
        reason = req.get("reason") or "Local"  # optional in 1.6 (bug 5)
        stamp = req.get("timestamp")
        ended = next((c.connector_id for c in cp.outlets() if c.transaction_id is None
                      and c.session_stopped_at == stamp and c.stop_reason == reason), None)
        self._both(base, ended, True, [("meter_stop_timestamp", stamp),
                                       ("meter_stop", req.get("meterStop")),
                                       ("meter_stop_reason", reason)])

    def _transaction_event(self, cp: ChargePointState, base: str, req: dict[str, Any],
                           res: dict[str, Any] | None, v16: bool) -> None:
        found = req.get("transactionInfo")
        info: dict[str, Any] = found if isinstance(found, dict) else {}
        evse = req.get("evse")
        n = _int(evse.get("id")) if isinstance(evse, dict) else None
        pairs: Pairs = [("transaction_id", info.get("transactionId"))]
        if req.get("eventType") == "Started":
            pairs.append(("meter_start_timestamp", req.get("timestamp")))
        elif req.get("eventType") == "Ended":
            pairs += [("meter_stop_timestamp", req.get("timestamp")),
                      ("meter_stop_reason", info.get("stoppedReason") or "Local")]
        pairs += list(keys.meter_keys(req.get("meterValue"), False).items())
        self._both(base, n, True, pairs)

    def _firmware(self, cp: ChargePointState, base: str, req: dict[str, Any],
                  res: dict[str, Any] | None, v16: bool) -> None:
        self._state(base, [("firmware_status", req.get("status"))])  # not `status` (bug 7)

    def _diagnostics(self, cp: ChargePointState, base: str, req: dict[str, Any],
                     res: dict[str, Any] | None, v16: bool) -> None:
        self._state(base, [("diagnostics_status", req.get("status"))])

    def _data_transfer(self, cp: ChargePointState, base: str, req: dict[str, Any],
                       res: dict[str, Any] | None, v16: bool) -> None:
        self._state(base, keys.data_transfer_pairs(req))


_Handler = Callable[[Ocpp2MqttProfile, ChargePointState, str, dict[str, Any],
                     dict[str, Any] | None, bool], None]
_HANDLERS: dict[str, _Handler] = {
    "BootNotification": Ocpp2MqttProfile._boot,
    "Heartbeat": Ocpp2MqttProfile._heartbeat,
    "Authorize": Ocpp2MqttProfile._authorize,
    "StatusNotification": Ocpp2MqttProfile._status,
    "MeterValues": Ocpp2MqttProfile._meter_values,
    "StartTransaction": Ocpp2MqttProfile._start,
    "StopTransaction": Ocpp2MqttProfile._stop,
    "TransactionEvent": Ocpp2MqttProfile._transaction_event,
    "FirmwareStatusNotification": Ocpp2MqttProfile._firmware,
    "DiagnosticsStatusNotification": Ocpp2MqttProfile._diagnostics,
    "LogStatusNotification": Ocpp2MqttProfile._diagnostics,
    "DataTransfer": Ocpp2MqttProfile._data_transfer,
}


def _int(value: Any) -> int:
    return value if type(value) is int and 0 <= value <= 1000 else 0

"""The native state profile: retained state per charge point and connector (one JSON document
each, plus one topic per field for simple consumers), JSON commands with results, and simple
`set` controls.

    ocpp/state/CP1              {"identity": "CP1", "online": true, ..., "connectors": {...}}
    ocpp/state/CP1/online       true
    ocpp/state/CP1/1            {"connector_id": 1, "status": "Charging", "power_w": 7200, ...}
    ocpp/state/CP1/1/power_w    7200
    ocpp/cmd/CP1                {"id": "a1", "action": "start_charging", "args": {"connector": 1}}
    ocpp/cmd/CP1/result         {"id": "a1", "status": "answered", "result": {...}, ...}
    ocpp/set/CP1/1/charging     ON

Field topics carry the bare value: text as is, numbers as JSON numbers, booleans as `true` /
`false`; a field that becomes unknown is cleared (an empty retained message). Only values that
changed are published again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from ..config import Settings
from ..modes.central import profile as pr
from ..modes.central.profile import CommandResult, Hub
from ..modes.central.state import ChargePointState, ConnectorState
from ..ocppj.identity import escape_topic_level, unescape_topic_level
from .emqx import Template

log = logging.getLogger("ocpp_mqtt.native")

ON = frozenset({"on", "true", "1", "yes", "start", "press"})
OFF = frozenset({"off", "false", "0", "no", "stop"})


def scalar(value: Any) -> bytes | None:
    """A field's payload on its own topic (None: not a scalar, not published)."""
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool | int | float):
        return orjson.dumps(value)
    return None


def connector_fields(connector: ConnectorState) -> dict[str, Any]:
    doc = connector.to_json()
    doc["energy_kwh"] = _kwh(connector.energy_wh)
    doc["session_energy_kwh"] = _kwh(connector.session_energy_wh)
    return doc


def _kwh(wh: float | None) -> float | None:
    return None if wh is None else round(wh / 1000.0, 3)


class NativeProfile:
    name = "native"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        prefix = settings.prefix
        self._state = Template(prefix, settings.state_topic)
        self._cmd = Template(prefix, settings.cmd_topic)
        self._result = Template(prefix, settings.cmd_result_topic)
        self._set = Template(prefix, settings.set_topic)
        self._published: dict[str, bytes] = {}  # topic -> last payload (retained state)
        self._tasks: set[asyncio.Task[None]] = set()
        self.hub: Hub | None = None

    # ---- Profile --------------------------------------------------------------------------

    async def start(self, hub: Hub) -> None:
        self.hub = hub
        await hub.subscribe(self._wildcard(self._cmd), self._on_cmd)
        await hub.subscribe(self._wildcard(self._set) + "/#", self._on_set)

    def online(self, cp: ChargePointState) -> None:
        self.changed(cp, {0})

    def offline(self, cp: ChargePointState) -> None:
        self.changed(cp, {0} | set(cp.connectors))

    def message(self, cp: ChargePointState, action: str, request: dict[str, Any],
                response: dict[str, Any] | None) -> None:
        return None  # the state says it all; every frame is on the emqx stream

    def changed(self, cp: ChargePointState, connectors: set[int]) -> None:
        base = self._state.render(cid=cp.cid_level)
        doc = cp.to_json()
        for key, value in doc.items():
            if key != "connectors":
                self._field(f"{base}/{key}", value)
        for number in sorted(connectors):
            connector = cp.connectors.get(number)
            if connector is None:
                continue
            fields = connector_fields(connector)
            self._put(f"{base}/{number}", orjson.dumps(fields))
            for key, value in fields.items():
                self._field(f"{base}/{number}/{key}", value)
            doc["connectors"][str(number)] = fields
        self._put(base, orjson.dumps(doc))

    def republish(self) -> None:
        self._published.clear()
        assert self.hub is not None
        for cp in list(self.hub.states.values()):
            self.changed(cp, set(cp.connectors) | {0})

    def removed(self, cp: ChargePointState) -> None:
        base = self._state.render(cid=cp.cid_level)
        assert self.hub is not None
        for topic in [t for t in self._published if t == base or t.startswith(base + "/")]:
            del self._published[topic]
            self.hub.mqtt.publish(topic, b"", 1, True)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    # ---- publishing -------------------------------------------------------------------------

    def _field(self, topic: str, value: Any) -> None:
        payload = scalar(value)
        if payload is None:
            return
        if payload == b"" and topic not in self._published:
            return  # never published: nothing to clear
        self._put(topic, payload)

    def _put(self, topic: str, payload: bytes) -> None:
        if self._published.get(topic) == payload:
            return
        assert self.hub is not None
        if payload:
            self._published[topic] = payload
        else:
            self._published.pop(topic, None)
        self.hub.mqtt.publish(topic, payload, 1, True)

    # ---- commands ---------------------------------------------------------------------------

    @staticmethod
    def _wildcard(template: Template) -> str:
        return template.render(cid="+")

    def _identity(self, template: Template, topic: str) -> tuple[str, str] | None:
        """(identity, the rest of the topic after its ${cid} level)."""
        head = template.parts[0]
        if not topic.startswith(head):
            return None
        level, _, rest = topic[len(head):].partition("/")
        tail = template.parts[2].lstrip("/") if len(template.parts) > 2 else ""
        if tail:
            if not rest.startswith(tail):
                return None
            rest = rest[len(tail):].lstrip("/")
        return (unescape_topic_level(level), rest) if level else None

    def _on_cmd(self, topic: str, payload: bytes, properties: dict[str, Any]) -> None:
        found = self._identity(self._cmd, topic)
        if found is None or found[1]:
            return
        identity = found[0]
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            self._reply(identity, None, CommandResult(pr.INVALID, "",
                        reason=f"the command is not valid JSON: {exc}"), properties)
            return
        if not isinstance(body, dict) or not isinstance(body.get("action"), str):
            self._reply(identity, body.get("id") if isinstance(body, dict) else None,
                        CommandResult(pr.INVALID, "", reason='expected {"action": "<name>", '
                                      '"args": {...}, "id": "<your id>"}'), properties)
            return
        if body["action"] == "remove_charge_point":  # the gateway's, not the charger's
            removed = self.hub.remove(identity) if self.hub is not None else False
            self._reply(identity, body.get("id"), CommandResult(
                pr.ANSWERED if removed else pr.INVALID, "remove_charge_point",
                reason="" if removed else "only a known charge point that is not connected "
                "can be removed"), properties)
            return
        args = body.get("args", body.get("payload"))
        self._run(identity, body.get("id"), body["action"], args, properties)

    def _on_set(self, topic: str, payload: bytes, properties: dict[str, Any]) -> None:
        found = self._identity(self._set, topic)
        if found is None:
            return
        identity, rest = found
        levels = rest.split("/")
        connector: int | None = None
        if len(levels) == 2 and levels[0].isdigit():
            connector, control = int(levels[0]), levels[1]
        elif len(levels) == 1:
            control = levels[0]
        else:
            self._reply(identity, f"set/{rest}", CommandResult(
                pr.INVALID, rest, reason="expected set/<cid>/<control> or "
                "set/<cid>/<connector>/<control>"), properties)
            return
        text = payload.decode(errors="replace").strip()
        command = _set_command(control, text, connector)
        if isinstance(command, str):
            self._reply(identity, f"set/{rest}", CommandResult(pr.INVALID, control,
                        reason=command), properties)
            return
        self._run(identity, f"set/{rest}", command[0], command[1], properties)

    def _run(self, identity: str, request_id: Any, name: str, args: Any,
             properties: dict[str, Any]) -> None:
        assert self.hub is not None
        hub = self.hub

        async def run() -> None:
            result = await hub.command(identity, name, args)
            self._reply(identity, request_id, result, properties)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _reply(self, identity: str, request_id: Any, result: CommandResult,
               properties: dict[str, Any]) -> None:
        assert self.hub is not None
        body = orjson.dumps({"id": request_id, "cid": identity, **result.to_json()})
        self.hub.mqtt.publish(self._result.render(cid=escape_topic_level(identity)), body, 1)
        response = properties.get("response_topic")
        if response:  # MQTT 5 request/response
            correlation = properties.get("correlation_data")
            extra = {"correlation_data": correlation[0]} if correlation else {}
            self.hub.mqtt.publish(response[0], body, 1, False, **extra)


def _set_command(control: str, text: str,
                 connector: int | None) -> tuple[str, dict[str, Any]] | str:
    """The command a `set` control stands for, or why the value is wrong."""
    value = text.lower()
    where = {"connector": connector} if connector is not None else {}
    if control in ("charging", "available", "charging_enabled"):
        if value not in ON and value not in OFF:
            return f"{control} takes ON or OFF, got {text!r}"
        on = value in ON
        if control == "charging":
            return ("start_charging" if on else "stop_charging"), {
                "connector": connector if connector is not None else 1}
        if control == "available":
            return "set_available", {**where, "available": on}
        return "set_charging_enabled", {"enabled": on}
    if control in ("current_limit", "power_limit"):
        try:
            number = float(text)
        except ValueError:
            return f"{control} takes a number, got {text!r}"
        key = "amps" if control == "current_limit" else "watts"
        name = "set_current_limit" if control == "current_limit" else "set_power_limit"
        return name, {**where, key: number}
    if control == "unlock":
        return "unlock", {"connector": connector if connector is not None else 1}
    if control == "reset":
        kind = "hard" if value == "hard" else "soft"
        if value not in ("press", "soft", "hard", ""):
            return f"reset takes PRESS, soft or hard, got {text!r}"
        return "reset", {"type": kind}
    return (f"unknown control {control!r}; controls: charging, current_limit, power_limit, "
            "available, unlock, reset, charging_enabled")

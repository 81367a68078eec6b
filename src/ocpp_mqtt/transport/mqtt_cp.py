"""Charge points that are MQTT clients ("OCPP over MQTT"): a thin edge that makes each one a
`Connection` like a WebSocket charge point, so the same session core and every mode serve it.

Per identity, three topics (templates with `${cid}` as a whole level, under `prefix`):

- `mqtt_cp_presence_topic` (charge point -> gateway): retained
  `{"status": "online", "ocpp": "1.6", "encoding": "json"}` when it connects, and its last will
  `{"status": "offline"}` (retained) for when it goes away; `offline` said in so many words, or an
  empty retained message, ends the session too.
- `mqtt_cp_up_topic` (charge point -> gateway): one OCPP-J frame per message, as the charge
  point would write it on a WebSocket (`json`), or the protobuf envelope (`protobuf`,
  `ocppj/ocpp_frame.proto`).
- `mqtt_cp_down_topic` (gateway -> charge point): frames toward it, in its encoding (QoS 1).
- `mqtt_cp_session_topic` (gateway -> charge point): the session's status as JSON: `accepted`
  once frames can flow, `refused` with the HTTP status a WebSocket would have got (e.g. the
  upstream CSMS's 401 in proxy mode), `closed` with a WebSocket close code (e.g. 1013, LC-01),
  `unknown` for frames sent without an accepted presence.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

from ..config import Settings
from ..northbound.emqx import Template
from ..ocppj import protobuf
from ..ocppj.identity import IdentityError, check_identity, unescape_topic_level
from ..ocppj.session import Policy, Session
from ..ocppj.validation import Schemas
from ..ocppj.versions import Version
from .connection import Connection
from .handshake import Reject

if TYPE_CHECKING:
    from ..framelog import FrameLog
    from ..northbound.mqtt import MqttLink
    from .websocket import Gate, Owner

log = logging.getLogger("ocpp_mqtt.mqttcp")

ENCODINGS = ("json", "protobuf")


class MqttConnection(Connection):
    """A charge point on MQTT: frames out are publishes on its down topic."""

    def __init__(self, edge: MqttChargePoints, identity: str, cid_level: str, version: Version,
                 session: Session, encoding: str, keepalive: int) -> None:
        super().__init__(None, identity, cid_level, version, session,  # type: ignore[arg-type]
                         "mqtt", 0, None, keepalive)
        self.edge = edge
        self.encoding = encoding
        self.down = edge.topic("down", cid_level)

    def send(self, text: str) -> None:
        if self.detached:
            return
        self.frames_out += 1
        if self.trace is not None:
            self.trace("out", text)
        self.recent.add(False, text, time.monotonic())
        payload = protobuf.from_text(text, self.version) if self.encoding == "protobuf" \
            else text.encode()
        self.edge.link.publish(self.down, payload, 1)

    def close(self, code: int, reason: str) -> None:
        """What closing a WebSocket is for a socket-less charge point: the session ends, it
        is told why, and it must announce its presence again to start a new one."""
        if self.close_reason is None:
            self.close_reason = reason
        self.edge.ended(self, code, reason)


class MqttChargePoints:
    def __init__(self, settings: Settings, schemas: Schemas, policy: Policy, owner: Owner,
                 gate: Gate | None, frame_log: FrameLog | None = None) -> None:
        self.settings = settings
        self.frame_log = frame_log
        self.schemas = schemas
        self.policy = policy
        self.owner = owner
        self.gate = gate
        prefix = settings.prefix
        self.templates = {
            "up": Template(prefix, settings.mqtt_cp_up_topic),
            "down": Template(prefix, settings.mqtt_cp_down_topic),
            "presence": Template(prefix, settings.mqtt_cp_presence_topic),
            "session": Template(prefix, settings.mqtt_cp_session_topic),
        }
        self.enabled = {v.value: v for v in settings.enabled_versions}
        self.conns: dict[str, MqttConnection] = {}  # by escaped topic level
        self._link: MqttLink | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def link(self) -> MqttLink:
        assert self._link is not None
        return self._link

    def topic(self, name: str, cid_level: str) -> str:
        return self.templates[name].render(cid=cid_level)

    def _level(self, name: str, topic: str) -> str | None:
        """The escaped identity of a topic of template `name`, or None if it is not one."""
        parts = self.templates[name].parts  # literal, "cid", literal
        head, tail = parts[0], parts[2]
        if not (topic.startswith(head) and topic.endswith(tail)):
            return None
        level = topic[len(head): len(topic) - len(tail)]
        return level if level and "/" not in level else None

    async def start(self, link: MqttLink) -> None:
        self._link = link
        for name in ("presence", "up"):
            parts = self.templates[name].parts
            await link.subscribe(parts[0] + "+" + parts[2], 1)

    def stop(self) -> None:
        for conn in list(self.conns.values()):
            self._detach(conn, "gateway shutting down")
        for task in self._tasks:
            task.cancel()

    # ---- MQTT in --------------------------------------------------------------------------

    def on_mqtt(self, topic: str, payload: bytes, properties: dict[str, Any]) -> bool:
        """Handle a message on the up or presence topics; False for anything else."""
        level = self._level("up", topic)
        if level is not None:
            self._up(level, payload)
            return True
        level = self._level("presence", topic)
        if level is not None:
            self._presence(level, payload)
            return True
        return False

    def _up(self, level: str, payload: bytes) -> None:
        conn = self.conns.get(level)
        if conn is None or not conn.ready or conn.detached:
            self._status(level, "unknown", None, "no session: publish your presence "
                         "(status online) and wait for accepted before sending frames")
            return
        if conn.encoding == "protobuf":
            try:
                text = protobuf.to_text(payload)
            except protobuf.DecodeError as exc:
                log.warning("undecodable protobuf frame", extra={
                    "cid": conn.identity, "error": str(exc)})
                return
        else:
            try:
                text = payload.decode()
            except UnicodeDecodeError:
                log.warning("frame is not UTF-8 text (FR-01)", extra={"cid": conn.identity})
                return
        conn.last_rx = time.monotonic()
        if conn.trace is not None:
            conn.trace("in", text)
        self.owner.on_text(conn, text)

    def _presence(self, level: str, payload: bytes) -> None:
        try:
            body = orjson.loads(payload) if payload else {"status": "offline"}
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict) or body.get("status") not in ("online", "offline"):
            self._status(level, "refused", 400, 'presence must be JSON: {"status": "online", '
                         '"ocpp": "1.6", "encoding": "json"} or {"status": "offline"}')
            return
        old = self.conns.get(level)
        if body["status"] == "offline":
            if old is not None:
                self._detach(old, str(body.get("reason") or "offline (presence or last will)"))
            return
        task = asyncio.get_running_loop().create_task(self._online(level, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _online(self, level: str, body: dict[str, Any]) -> None:
        identity = unescape_topic_level(level)
        version = self.enabled.get(str(body.get("ocpp", "")))
        encoding = body.get("encoding", "json")
        if version is None:
            self._status(level, "refused", 400, f"ocpp must be one of {', '.join(self.enabled)}")
            return
        if encoding not in ENCODINGS:
            self._status(level, "refused", 400, f"encoding must be one of {', '.join(ENCODINGS)}")
            return
        try:
            check_identity(identity, version, self.settings.identity_max_length)
        except IdentityError as exc:
            self._status(level, "refused", 400, str(exc))
            return
        opened: object = None
        if self.gate is not None:  # proxy mode: the upstream decides, as for a WebSocket
            opened = await self.gate.open(identity, version, None)
            if isinstance(opened, Reject):
                self._status(level, "refused", opened.status, opened.reason)
                return
        old = self.conns.get(level)
        if old is not None:  # a charge point that announces itself again starts afresh
            self._detach(old, "replaced: the charge point announced its presence again")
        conn = MqttConnection(self, identity, level, version,
                              Session(version, self.schemas, self.policy), encoding,
                              self.settings.default_heartbeat_interval)
        conn.upstream = opened
        if self.frame_log is not None:
            conn.trace = self.frame_log.tracer(identity)
        self.conns[level] = conn
        await self.owner.attach(conn)
        if conn.ready and not conn.detached:
            self._status(level, "accepted", None, None, version.value)
            log.info("MQTT charge point online", extra={"cid": identity,
                                                        "version": version.value,
                                                        "encoding": encoding})

    # ---- session end ---------------------------------------------------------------------

    def ended(self, conn: MqttConnection, code: int, reason: str) -> None:
        """The gateway closes this charge point's session (LC-01, a takeover, shutdown)."""
        if conn.detached:
            return
        self._status(conn.cid_level, "closed", code, reason)
        self._detach(conn, reason)

    def _detach(self, conn: MqttConnection, reason: str) -> None:
        if self.conns.get(conn.cid_level) is conn:
            del self.conns[conn.cid_level]
        if not conn.detached:
            self.owner.detach(conn, reason)

    def _status(self, level: str, status: str, code: int | None, reason: str | None,
                version: str | None = None) -> None:
        body: dict[str, Any] = {"status": status}
        if code is not None:
            body["code"] = code
        if reason is not None:
            body["reason"] = reason
        if version is not None:
            body["ocpp"] = version
        if status != "accepted":
            log.info("MQTT charge point session", extra={"cid": level, **body})
        self.link.publish(self.topic("session", level), orjson.dumps(body), 1)

"""Credential provisioning over MQTT, for tools that set charge point passwords.

Requests on `{prefix}{credentials_topic}`, one JSON object each:

    {"id": "r1", "op": "add", "identity": "CP1", "password": "..."}     (2.x, 16-40 chars)
    {"id": "r2", "op": "add", "identity": "CP2", "key": "0011...ff"}    (1.6, 32-40 hex)
    {"id": "r3", "op": "remove", "identity": "CP1"}
    {"id": "r4", "op": "list"}

Each gets one answer on `{prefix}{credentials_topic}/result` (and on the request's MQTT 5
response topic, with its correlation data): `{"id", "op", "identity", "ok": true}` or
`{"id", "op", "ok": false, "error": "..."}`; `list` adds `identities`. Answers never repeat a
password or key. With several instances on one broker (MQTT 5), one of them takes each request
(a shared subscription). Confine both topics to the provisioning tool with broker ACLs
(docs/mosquitto-acl.md): whoever may publish there may set passwords.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import orjson

from .config import Settings
from .credentials import CredentialError, CredentialStore, Kind, hash_secret

if TYPE_CHECKING:
    from .modes.relay import Relay
    from .northbound.mqtt import MqttLink

log = logging.getLogger("ocpp_mqtt.security")


class Provisioning:
    def __init__(self, settings: Settings, store: CredentialStore, link: MqttLink) -> None:
        self.store = store
        self.link = link
        self.topic = settings.prefix + settings.credentials_topic
        self.result_topic = self.topic + "/result"
        self.shared_group = settings.shared_group
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, relay: Relay) -> None:
        relay.handlers[self.topic] = self.on_message
        embedded = self.link.target.embedded
        topic = self.topic if embedded or not self.link.mqtt5 else \
            f"$share/{self.shared_group}/{self.topic}"
        await self.link.subscribe(topic, 1)

    def on_message(self, topic: str, payload: bytes, properties: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._handle(payload, properties))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, payload: bytes, properties: dict[str, Any]) -> None:
        answer: dict[str, Any] = {"ok": False}
        try:
            request = orjson.loads(payload)
            if not isinstance(request, dict):
                raise CredentialError("expected a JSON object with `op`")
            answer.update({k: request[k] for k in ("id", "op", "identity") if k in request})
            answer.update(await self._apply(request))
            answer["ok"] = True
        except orjson.JSONDecodeError:
            answer["error"] = "not JSON: expected an object with `op` (add, remove, list)"
        except CredentialError as exc:
            answer["error"] = str(exc)
        log.info("credential request", extra={"op": answer.get("op"), "ok": answer["ok"],
                                              "cid": answer.get("identity"),
                                              "error": answer.get("error")})
        body = orjson.dumps(answer)
        self.link.publish(self.result_topic, body, 1)
        response_topic = properties.get("response_topic")
        if response_topic:
            props: dict[str, Any] = {}
            if properties.get("correlation_data"):
                props["correlation_data"] = properties["correlation_data"][0]
            self.link.publish(str(response_topic[0]), body, 1, **props)

    async def _apply(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        identity = request.get("identity")
        if op == "list":
            return {"identities": [{"identity": i, "kind": k, "updated_at": t}
                                   for i, k, t in self.store.list()]}
        if op not in ("add", "remove"):
            raise CredentialError(f"op {str(op)[:40]!r}: expected add, remove or list")
        if not isinstance(identity, str) or not identity:
            raise CredentialError(f"{op} needs `identity` (a string)")
        if op == "remove":
            if not self.store.remove(identity):
                raise CredentialError(f"no credentials stored for {identity[:60]!r}")
            return {}
        password, key = request.get("password"), request.get("key")
        if bool(password) == bool(key) or not isinstance(password or key, str):
            raise CredentialError("add needs exactly one of `password` (OCPP 2.x, 16-40 "
                                  "characters) or `key` (OCPP 1.6, 32-40 hex digits)")
        kind: Kind = "password" if password else "key"
        secret = str(password or key)
        digest = await asyncio.get_running_loop().run_in_executor(
            None, hash_secret, identity, kind, secret)
        self.store.put(identity, kind, digest)
        return {"kind": kind}

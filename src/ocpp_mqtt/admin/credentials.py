"""Admin API for charge point credentials (security profiles 1 and 2), the same operations as
`ocpp-mqtt credentials` and the MQTT provisioning topic:

- `GET /api/v1/credentials`: identities with credentials, their kind and last change;
- `PUT /api/v1/credentials/{identity}`: `{"password": ...}` (2.x, 16-40 characters),
  `{"key": ...}` (1.6, 32-40 hex digits) or `{"generate": "password" | "key"}`, which answers
  the generated secret once (the only answer that ever holds one);
- `DELETE /api/v1/credentials/{identity}`: 204, or 404 when nothing is stored.

The store is the gateway's (`credentials_store`); hashing runs off the event loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from ..credentials import CredentialError, CredentialStore, Kind, generate, hash_secret
from .auth import json_error

if TYPE_CHECKING:
    from ..gateway import Gateway


class CredentialsApi:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._store: CredentialStore | None = None

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/api/v1/credentials", self.list),
            web.put("/api/v1/credentials/{identity}", self.put),
            web.delete("/api/v1/credentials/{identity}", self.delete),
        ]

    @property
    def store(self) -> CredentialStore:
        guard = self.gateway.guard
        if guard is not None and guard.store is not None:
            return guard.store
        if self._store is None:  # no profile 1/2 listener yet: provisioning ahead of it
            self._store = CredentialStore(self.gateway.settings.credentials_store)
        return self._store

    async def list(self, request: web.Request) -> web.Response:
        rows = [{"identity": i, "kind": k, "updated_at": t} for i, k, t in self.store.list()]
        return web.Response(body=orjson.dumps({"credentials": rows}),
                            content_type="application/json")

    async def put(self, request: web.Request) -> web.Response:
        identity = request.match_info["identity"]
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return json_error(400, "bad_body", f"the body is not valid JSON: {exc}")
        if not isinstance(body, dict) or len(
                [k for k in ("password", "key", "generate") if k in body]) != 1 or \
                set(body) - {"password", "key", "generate"}:
            return json_error(400, "bad_body", "give exactly one of `password` (OCPP 2.x, 16-40 "
                              "characters), `key` (OCPP 1.6, 32-40 hex digits) or `generate` "
                              "(\"password\" or \"key\")")
        generated = body.get("generate")
        if "generate" in body and generated not in ("password", "key"):
            return json_error(400, "bad_body", "generate: expected \"password\" or \"key\"")
        kind: Kind = generated if generated is not None else (
            "password" if "password" in body else "key")
        secret = generate(kind) if generated is not None else body[kind]
        if not isinstance(secret, str):
            return json_error(400, "bad_body", f"{kind}: expected a string")
        try:
            digest = await asyncio.get_running_loop().run_in_executor(
                None, hash_secret, identity, kind, secret)
        except CredentialError as exc:
            return json_error(400, "bad_credentials", str(exc))
        self.store.put(identity, kind, digest)
        answer: dict[str, Any] = {"identity": identity, "kind": kind}
        if generated is not None:
            answer[kind] = secret  # shown this once, for the charge point's configuration
        return web.Response(body=orjson.dumps(answer), content_type="application/json",
                            headers={"Cache-Control": "no-store"})

    async def delete(self, request: web.Request) -> web.Response:
        identity = request.match_info["identity"]
        if not self.store.remove(identity):
            return json_error(404, "not_found", f"no credentials stored for {identity[:60]!r}")
        return web.Response(status=204)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

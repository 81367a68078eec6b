"""Bearer-token check of the admin listener, and JSON error bodies for every refusal."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from aiohttp import hdrs, web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Probes must answer orchestrators that hold no token; the OpenAPI document describes, it
# holds no data; so do the dashboard's files (the page asks for the token itself).
PUBLIC = frozenset({"/healthz", "/readyz", "/api/v1/openapi.json", "/"})
PUBLIC_PREFIX = "/ui/"
REALM = 'Bearer realm="ocpp-mqtt"'


def json_error(status: int, error: str, reason: str,
               headers: Mapping[str, str] | None = None, **extra: Any) -> web.Response:
    """Every error of the admin API: {"error": <short code>, "reason": <what to do>}."""
    return web.Response(status=status, headers=headers, content_type="application/json",
                        body=orjson.dumps({"error": error, "reason": reason, **extra}))


def bearer_middleware(token: bytes | None) -> Any:
    """Checks `Authorization: Bearer <admin_token>` in constant time (no token: open, which
    the settings allow on loopback only). The header is never logged."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (token is not None and request.path not in PUBLIC
                and not request.path.startswith(PUBLIC_PREFIX)):
            scheme, _, given = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
            if scheme.lower() != "bearer" or not given:
                return json_error(401, "unauthorized", "missing bearer token: send "
                                  "'Authorization: Bearer <admin_token>'",
                                  {hdrs.WWW_AUTHENTICATE: REALM})
            if not hmac.compare_digest(given.strip().encode(), token):
                return json_error(401, "unauthorized", "wrong bearer token",
                                  {hdrs.WWW_AUTHENTICATE: REALM + ', error="invalid_token"'})
        return await handler(request)

    return check


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own refusals (unknown path, wrong method) as JSON like the rest."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        extra = {"Allow": exc.headers[hdrs.ALLOW]} if hdrs.ALLOW in exc.headers else None
        reason = {404: f"no such endpoint: {request.path}; see /api/v1/openapi.json",
                  405: f"method {request.method} not allowed on {request.path}"}.get(
                      exc.status, exc.reason)
        return json_error(exc.status, exc.reason.lower().replace(" ", "_"), reason, extra)

"""Contract test: schemathesis generates requests from the admin API's own OpenAPI document
(served by the live gateway) and checks every answer against it: status codes, content types,
response schemas and headers, no 5xx, invalid input rejected with 4xx.

Bounded: a few examples per operation and mode (a few seconds in all). The event stream is
left out (an endless response); tests/integration/test_admin_stream.py covers it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import hypothesis
import orjson
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ocpp_mqtt.admin.openapi import document

from .admin_client import admin
from .wsutil import connect

TOKEN = "contract-token-0123456789"
IDENTITY = "CT1"
EXAMPLES = 12  # per operation and generation mode
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]


def run_contract(base: str) -> list[str]:
    """Runs in a thread (schemathesis is synchronous); returns the operations tested."""
    schema = schemathesis.openapi.from_url(base + "/api/v1/openapi.json")
    tested: list[str] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    operations = [r.ok() for r in schema.get_all_operations()]
    # the kick ends the connected charge point: last
    operations.sort(key=lambda op: op.path.endswith("/kick"))
    for operation in operations:
        if operation.path == "/api/v1/stream":
            continue
        _check(operation.as_strategy(GenerationMode.POSITIVE), base, headers, CHECKS)
        if "{identity}" in operation.path:  # the same against a connected charge point
            _check(operation.as_strategy(GenerationMode.POSITIVE,
                                         path_parameters={"identity": IDENTITY}),
                   base, headers, CHECKS)
        if operation.path.endswith("/call"):  # a CALL the charge point answers, for sure
            _check(operation.as_strategy(GenerationMode.POSITIVE,
                                         path_parameters={"identity": IDENTITY},
                                         body={"action": "Reset", "payload": {"type": "Soft"}}),
                   base, headers, CHECKS)
        if operation.path_parameters or operation.query or operation.body:
            # invalid inputs (wrong types, out of range, unknown keys): answered as documented,
            # never a 5xx. (Not negative_data_rejection: it counts query values the HTTP client
            # drops and the bearer header the test sets as "accepted invalid data".)
            _check(operation.as_strategy(GenerationMode.NEGATIVE), base, headers, CHECKS)
        tested.append(f"{operation.method.upper()} {operation.path}")
    return tested


def _check(strategy: Any, base: str, headers: dict[str, str], checks: list[Any]) -> None:
    @hypothesis.given(case=strategy)
    @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck),
                         phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
    def check(case: Any) -> None:
        case.call_and_validate(base_url=base, headers=headers, checks=checks, timeout=10)

    check()


async def answer_everything(ws: Any) -> None:
    """A charge point that answers every CALL at once (NotSupported)."""
    with contextlib.suppress(Exception):
        async for text in ws:
            frame = orjson.loads(text)
            if frame[0] == 2:
                await ws.send(orjson.dumps([4, frame[1], "NotSupported", "", {}]).decode())


@pytest.mark.timeout(120)
async def test_admin_api_matches_its_openapi_document(make_gateway: Any) -> None:
    gw = await make_gateway(admin_token=TOKEN, call_timeout=1)
    async with admin(gw.admin_url) as api:  # served without a token, exactly the document
        served = await api.get("/api/v1/openapi.json")
        assert served.status == 200 and served.body == document()
    async with connect(gw.url(IDENTITY), ["ocpp1.6"]) as ws:
        conn = gw.gateway.relay.connections[IDENTITY]
        responder = asyncio.ensure_future(answer_everything(ws))
        try:
            tested = await asyncio.to_thread(run_contract, gw.admin_url)
        finally:
            responder.cancel()
    # the Reset reached the charge point; the kick closed it at the end
    assert conn.session.calls_out >= 1 and conn.detached
    # schemathesis leaves out the operation it loaded the document from
    assert set(tested) == {
        "GET /healthz", "GET /readyz", "GET /metrics",
        "GET /api/v1/status", "GET /api/v1/charge-points",
        "GET /api/v1/charge-points/{identity}", "POST /api/v1/charge-points/{identity}/kick",
        "POST /api/v1/charge-points/{identity}/call",
        "GET /api/v1/credentials", "PUT /api/v1/credentials/{identity}",
        "DELETE /api/v1/credentials/{identity}"}

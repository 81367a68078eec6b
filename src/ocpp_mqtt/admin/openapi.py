"""The OpenAPI 3.1 document of the admin API, served at /api/v1/openapi.json.

Written by hand to match the handlers in api.py and server.py; the contract test
(tests/integration/test_admin_contract.py) runs schemathesis against a live gateway from it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from .. import __version__
from ..ocppj.frames import MAX_ID_LENGTH


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
UNAUTHORIZED = {
    "description": "missing or wrong bearer token (only when admin_token is set)",
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    "content": {"application/json": {"schema": _ref("Error")}},
}
IDENTITY = {"name": "identity", "in": "path", "required": True,
            "description": "the charge point identity (percent-encoded)",
            "schema": {"type": "string", "minLength": 1}}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error", "reason"],
        "properties": {"error": {"type": "string"}, "reason": {"type": "string"}},
    },
    "Probe": {
        "type": "object", "required": ["status", "reason", "gateway", "version", "mqtt",
                                       "charge_points"],
        "properties": {
            "status": {"enum": ["ready", "unavailable"]},
            "reason": NULLABLE_STR,
            "gateway": {"type": "string"},
            "version": {"type": "string"},
            "mqtt": {"type": "object", "required": ["connected", "down_since", "backlog"],
                     "properties": {"connected": {"type": "boolean"},
                                    "down_since": NULLABLE_INT,
                                    "backlog": {"type": "integer"}}},
            "charge_points": {"type": "integer"},
            "outbox": {"type": "integer", "description": "central mode only"},
        },
    },
    "Status": {
        "type": "object",
        "required": ["gateway", "version", "mode", "started_at", "uptime_s", "ready", "reason",
                     "mqtt", "charge_points", "outbox"],
        "properties": {
            "gateway": {"type": "string"},
            "version": {"type": "string"},
            "mode": {"enum": ["relay", "central", "proxy"]},
            "started_at": {"type": "integer", "description": "Unix ms"},
            "uptime_s": {"type": "number"},
            "ready": {"type": "boolean"},
            "reason": NULLABLE_STR,
            "mqtt": {
                "type": "object",
                "required": ["broker", "protocol", "connected", "down_since", "backlog",
                             "in_flight", "in_flight_max", "reads_paused"],
                "properties": {
                    "broker": NULLABLE_STR, "protocol": NULLABLE_STR,
                    "connected": {"type": "boolean"}, "down_since": NULLABLE_INT,
                    "backlog": {"type": "integer"}, "in_flight": {"type": "integer"},
                    "in_flight_max": {"type": "integer"}, "reads_paused": {"type": "boolean"},
                },
            },
            "charge_points": {
                "type": "object", "required": ["connected", "by_version", "known"],
                "properties": {"connected": {"type": "integer"},
                               "by_version": {"type": "object",
                                              "additionalProperties": {"type": "integer"}},
                               "known": {"type": "integer"}},
            },
            "outbox": {**NULLABLE_INT, "description": "central mode: messages not yet "
                       "acknowledged by the broker; null in relay mode"},
        },
    },
    "ChargePoint": {
        "type": "object",
        "required": ["identity", "online", "ocpp_version", "remote_address", "connected_since",
                     "queue_length", "connectors"],
        "properties": {
            "identity": {"type": "string"},
            "online": {"type": "boolean"},
            "ocpp_version": {"type": ["string", "null"], "enum": ["1.6", "2.0.1", "2.1", None]},
            "remote_address": NULLABLE_STR,
            "connected_since": {**NULLABLE_INT, "description": "Unix ms"},
            "queue_length": {"type": "integer", "minimum": 0},
            "connectors": {"type": "array", "items": _ref("Connector"),
                           "description": "connectors (1.6) or EVSEs (2.x), id >= 1; relay "
                           "mode: from StatusNotification and TransactionEvent frames"},
        },
    },
    "Connector": {
        "type": "object", "required": ["id", "status"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "status": {**NULLABLE_STR, "description": "1.6 vocabulary in every version "
                       "(2.x Occupied reads Preparing, Charging, SuspendedEV/EVSE)"},
            "ocpp_status": {**NULLABLE_STR, "description": "as the charge point sent it"},
            "error_code": NULLABLE_STR,
            "transaction_id": NULLABLE_STR,
            "power_w": {"type": ["number", "null"]},
            "energy_wh": {"type": ["number", "null"]},
        },
    },
    "ChargePointList": {
        "type": "object", "required": ["total", "limit", "offset", "items"],
        "properties": {"total": {"type": "integer"}, "limit": {"type": "integer"},
                       "offset": {"type": "integer"},
                       "items": {"type": "array", "items": _ref("ChargePoint")}},
    },
    "Frame": {
        "type": "object", "required": ["ts", "direction", "text"],
        "properties": {"ts": {"type": "integer", "description": "Unix ms"},
                       "direction": {"enum": ["in", "out"],
                                     "description": "in: from the charge point"},
                       "text": {"type": "string"}},
    },
    "PendingCall": {
        "type": "object", "required": ["unique_id", "action", "age_s"],
        "properties": {"unique_id": {"type": "string"}, "action": {"type": "string"},
                       "age_s": {"type": "number"}},
    },
    "ChargePointDetail": {
        "allOf": [_ref("ChargePoint"), {
            "type": "object",
            "required": ["counters", "pending", "keepalive", "frames", "state"],
            "properties": {
                "counters": {"type": ["object", "null"], "properties": {
                    k: {"type": "integer"} for k in ("frames_in", "frames_out", "calls_in",
                                                     "calls_out", "callerrors_in",
                                                     "callerrors_out")}},
                "pending": {"type": ["object", "null"], "properties": {
                    "from_charge_point": {"type": "array", "items": _ref("PendingCall")},
                    "to_charge_point": {"oneOf": [{"type": "null"}, _ref("PendingCall")]},
                    "queued": {"type": "array", "items": {
                        "type": "object", "properties": {"unique_id": {"type": "string"},
                                                         "action": {"type": "string"}}}}}},
                "keepalive": NULLABLE_INT,
                "frames": {"type": "array", "items": _ref("Frame")},
                "state": {"type": ["object", "null"],
                          "description": "central mode: the state model (connectors, ...)"},
            },
        }],
    },
    "CredentialList": {
        "type": "object", "required": ["credentials"],
        "properties": {"credentials": {"type": "array", "items": {
            "type": "object", "required": ["identity", "kind", "updated_at"],
            "properties": {"identity": {"type": "string"},
                           "kind": {"enum": ["password", "key"]},
                           "updated_at": {"type": "integer",
                                          "description": "Unix time of the last change"}}}}},
    },
    "CredentialRequest": {"oneOf": [
        {"type": "object", "required": ["password"], "additionalProperties": False,
         "properties": {"password": {"type": "string", "minLength": 16, "maxLength": 40,
                                     "description": "OCPP 2.x BasicAuthPassword (SEC-06)"}}},
        {"type": "object", "required": ["key"], "additionalProperties": False,
         "properties": {"key": {"type": "string", "pattern": "^([0-9a-fA-F]{2}){16,20}$",
                                "description": "OCPP 1.6 AuthorizationKey (SEC-05)"}}},
        {"type": "object", "required": ["generate"], "additionalProperties": False,
         "properties": {"generate": {"enum": ["password", "key"]}}},
    ]},
    "CredentialResult": {
        "type": "object", "required": ["identity", "kind"],
        "properties": {"identity": {"type": "string"}, "kind": {"enum": ["password", "key"]},
                       "password": {"type": "string",
                                    "description": "only for generate, shown this once"},
                       "key": {"type": "string",
                               "description": "only for generate, shown this once"}},
    },
    "KickRequest": {
        "type": "object", "additionalProperties": False,
        "properties": {"reason": {"type": "string", "maxLength": 80}},
    },
    "KickResult": {
        "type": "object", "required": ["identity", "closed", "reason"],
        "properties": {"identity": {"type": "string"}, "closed": {"type": "boolean"},
                       "reason": {"type": "string"}},
    },
    "CallRequest": {
        "type": "object", "required": ["action"], "additionalProperties": False,
        "properties": {
            "action": {"type": "string", "minLength": 1, "example": "Reset"},
            "payload": {"type": "object", "example": {"type": "Soft"}},
            "unique_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
        },
    },
    "CallResult": {
        "type": "object",
        "required": ["identity", "unique_id", "status", "action", "elapsed_ms"],
        "properties": {
            "identity": {"type": "string"},
            "unique_id": NULLABLE_STR,
            "status": {"enum": ["answered", "rejected", "invalid", "queue_full", "timeout",
                                "offline"]},
            "action": {"type": "string"},
            "reason": {"type": "string"},
            "result": {"type": "object", "description": "the CALLRESULT payload"},
            "error": {"description": "on 2xx: the charge point's CALLERROR {code, "
                      "description, details}; on 4xx/5xx: the status again"},
            "elapsed_ms": {"type": "number"},
        },
    },
}


def _op(summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": {**responses, "401": UNAUTHORIZED}, **more}


@cache
def document() -> dict[str, Any]:
    call_error = _json({"allOf": [_ref("CallResult"), {"required": ["error"]}]}, "")
    return {
        "openapi": "3.1.0",
        "info": {"title": "ocpp-mqtt admin API", "version": __version__,
                 "description": "Charge points, their frames and commands; gateway status. "
                 "Errors are {\"error\", \"reason\"}."},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {"get": {"summary": "liveness: 200 while the process serves",
                                 "security": [],
                                 "responses": {"200": _json(_ref("Probe"), "alive")}}},
            "/readyz": {"get": {"summary": "readiness: 200 when charge points are accepted",
                                "security": [],
                                "responses": {"200": _json(_ref("Probe"), "ready"),
                                              "503": _json(_ref("Probe"), "not ready")}}},
            "/metrics": {"get": _op("Prometheus metrics (text exposition format)", {
                "200": {"description": "metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}}}})},
            "/api/v1/openapi.json": {"get": {
                "summary": "this document", "security": [],
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")}}},
            "/api/v1/status": {"get": _op("gateway status", {
                "200": _json(_ref("Status"), "status")})},
            "/api/v1/charge-points": {"get": _op(
                "charge points, sorted by identity, filtered and paged", {
                    "200": _json(_ref("ChargePointList"), "a page of charge points"),
                    "400": _error("a query parameter out of range")},
                parameters=[
                    {"name": "status", "in": "query", "schema": {"enum": ["online", "offline"]},
                     "description": "offline ones are known in central mode only"},
                    {"name": "version", "in": "query",
                     "schema": {"enum": ["1.6", "2.0.1", "2.1"]}},
                    {"name": "q", "in": "query", "schema": {"type": "string"},
                     "description": "identity substring, case-insensitive"},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 1000,
                                "default": 50}},
                    {"name": "offset", "in": "query",
                     "schema": {"type": "integer", "minimum": 0, "maximum": 1000000000,
                                "default": 0}},
                ])},
            "/api/v1/charge-points/{identity}": {"get": _op("one charge point in detail", {
                "200": _json(_ref("ChargePointDetail"), "the charge point"),
                "404": _error("unknown charge point")}, parameters=[IDENTITY])},
            "/api/v1/charge-points/{identity}/kick": {"post": _op(
                "close the charge point's WebSocket (code 1000 with the reason)", {
                    "200": _json(_ref("KickResult"), "closed (closed=false: still closing "
                                 "after 5 s)"),
                    "400": _error("bad body"),
                    "404": _error("not connected here")},
                parameters=[IDENTITY],
                requestBody={"required": False, "content": {
                    "application/json": {"schema": _ref("KickRequest")}}})},
            "/api/v1/charge-points/{identity}/call": {"post": _op(
                "send an OCPP CALL and wait for the answer (queued like MQTT commands)", {
                    "200": _json(_ref("CallResult"), "answered (status answered) or CALLERROR "
                                 "from the charge point (status rejected, see error)"),
                    "400": _error("bad body"),
                    "404": _error("not connected here"),
                    "409": call_error | {"description": "disconnected before answering"},
                    "422": call_error | {"description": "refused before sending: unknown "
                                         "action, wrong direction, schema failure (reason)"},
                    "429": call_error | {"description": "max_queue CALLs already wait",
                                         "headers": {"Retry-After": {
                                             "schema": {"type": "string"}}}},
                    "502": call_error | {"description": "the answer failed its schema "
                                         "(result holds it)"},
                    "504": call_error | {"description": "no answer within call_timeout"}},
                parameters=[IDENTITY],
                requestBody={"required": True, "content": {
                    "application/json": {"schema": _ref("CallRequest"), "example": {
                        "action": "Reset", "payload": {"type": "Soft"}}}}})},
            "/api/v1/credentials": {"get": _op(
                "identities with stored credentials (security profiles 1/2), never a secret", {
                    "200": _json(_ref("CredentialList"), "every stored identity")})},
            "/api/v1/credentials/{identity}": {
                "put": _op("set a charge point's password or 1.6 key (hashed), or generate one", {
                    "200": _json(_ref("CredentialResult"), "stored"),
                    "400": _error("bad body, secret or identity (reason)")},
                    parameters=[IDENTITY],
                    requestBody={"required": True, "content": {"application/json": {
                        "schema": _ref("CredentialRequest"),
                        "example": {"password": "a-16-to-40-char-password"}}}}),
                "delete": _op("remove a charge point's credentials", {
                    "204": {"description": "removed"},
                    "404": _error("nothing stored for this identity")},
                    parameters=[IDENTITY])},
            "/api/v1/stream": {"get": _op(
                "Server-Sent Events: frame, connected, disconnected, connectors (then dropped "
                "if the reader falls admin_stream_buffer events behind)", {
                    "200": {"description": "an endless text/event-stream",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                    "400": _error("unknown event type")},
                parameters=[
                    {"name": "identity", "in": "query", "schema": {"type": "string"},
                     "description": "only these charge points (repeat or comma-separate)"},
                    {"name": "types", "in": "query", "schema": {"type": "string"},
                     "description": "comma list of frame, connected, disconnected, "
                     "connectors"},
                ])},
        },
    }

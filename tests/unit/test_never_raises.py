"""Random frames and backend messages never make the core raise (a seeded, bounded fuzz; the
coverage-guided fuzzing of issue 5 goes further)."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from ocpp_mqtt.northbound import emqx
from ocpp_mqtt.ocppj import events as ev
from ocpp_mqtt.ocppj.session import Policy, Session
from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import Version

ACTIONS = ["Heartbeat", "BootNotification", "MeterValues", "FooBar", "Reset", "DataTransfer",
           "NotifyPeriodicEventStream", "BootNotification-Signed", "", "heartbeat"]


def value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63 - 1, 3.5, 1e300])
    if kind == 3:
        return rng.choice(["", "x" * 40, "Accepted", "\u0000", "é", "id-1"])
    if kind == 4:
        return rng.choice(ACTIONS)
    if kind == 5:
        return rng.randrange(8)
    if kind == 6:
        return [value(rng, depth + 1) for _ in range(rng.randrange(6))]
    return {rng.choice(["a", "status", "interval", "vendorId", "connectorId"]):
            value(rng, depth + 1) for _ in range(rng.randrange(4))}


def frame(rng: random.Random) -> str:
    choice = rng.randrange(10)
    if choice == 0:
        return orjson.dumps(value(rng)).decode()
    if choice == 1:
        return orjson.dumps([rng.randrange(8)] + [value(rng) for _ in range(rng.randrange(6))]
                            ).decode()[: rng.randrange(1, 60)]  # truncated JSON
    items: list[Any] = [rng.choice([2, 3, 4, 5, 6, 7, "2"]), rng.choice([f"id{rng.randrange(5)}",
                                                                    7, None, "x" * 40])]
    items += [rng.choice(ACTIONS), value(rng), value(rng)][: rng.randrange(4)]
    return orjson.dumps(items).decode()


@pytest.mark.parametrize("version", list(Version))
def test_random_frames_and_backend_messages(version: Version) -> None:
    rng = random.Random(20261121 + list(Version).index(version))
    session = Session(version, Schemas(), Policy(call_timeout=1.0))
    for step in range(3000):
        now = step * 0.01
        for event in session.receive(frame(rng), now):
            if isinstance(event, ev.SendFrame):
                assert isinstance(orjson.loads(event.text), list)  # FR-01: one JSON array
        raw = orjson.dumps({"MessageTypeId": rng.choice([2, 3, 4, 5, "3"]),
                            "UniqueId": rng.choice([f"id{rng.randrange(5)}", None, 1]),
                            "Action": rng.choice(ACTIONS), "Payload": value(rng),
                            "ErrorCode": rng.choice(["GenericError", "FormatViolation", "x"]),
                            "ErrorDescription": rng.choice(["", "d" * 300])})
        try:
            down = emqx.decode_downstream(raw)
        except emqx.DecodeError:
            continue
        if down.message_type == 2:
            session.backend_call(down.unique_id, down.action, down.payload, None, now)
        elif down.message_type == 3:
            session.backend_result(down.unique_id or "", down.payload, None, now)
        else:
            session.backend_error(down.unique_id or "", down.code, down.description,
                                  down.details, None, now, down.message_type)
        session.expire(now)
    session.close()

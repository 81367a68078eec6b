"""Session core, backend CALLERRORs toward the charge point (ER-01..ER-03, FR-04, FR-09)."""

from __future__ import annotations

import pytest

from ocpp_mqtt.ocppj import events as ev
from ocpp_mqtt.ocppj.validation import Schemas
from ocpp_mqtt.ocppj.versions import Version

from .session_kit import V2X, V16, V21, V201, cp_call, frames, outcome, session


@pytest.mark.parametrize(
    ("version", "given", "wire"),
    [
        (V16, "FormatViolation", "FormationViolation"),
        (V16, "OccurrenceConstraintViolation", "OccurenceConstraintViolation"),
        (V16, "FormationViolation", "FormationViolation"),
        (V201, "FormationViolation", "FormatViolation"),
        (V201, "OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
        (V21, "FormationViolation", "FormatViolation"),
        (V21, "RpcFrameworkError", "RpcFrameworkError"),
        (V16, "NotSupported", "NotSupported"),
    ],
)
def test_er03_backend_callerror_spelled_per_version(
    schemas: Schemas, version: Version, given: str, wire: str
) -> None:
    s = session(version, schemas)
    cp_call(s, "c1", "Heartbeat")
    events = s.backend_error("c1", given, "why", None, "ctx", 0.0)
    assert frames(events, version) == [[4, "c1", wire, "why", {}]]  # FR-09: details {}
    assert outcome(events).status == ev.SENT
    assert s.pending_action("c1") is None


@pytest.mark.parametrize(
    ("version", "code", "description", "details"),
    [
        (V16, "RpcFrameworkError", "", {}),
        (V16, "MessageTypeNotSupported", "", {}),
        (V201, "FooError", "", {}),
        (V201, "GenericError", "x" * 256, {}),
        (V21, "GenericError", "é" * 256, {}),
        (V201, "GenericError", "", [1]),
        (V16, "GenericError", "", "details"),
    ],
)
def test_er03_fr09_bad_backend_callerror_refused(
    schemas: Schemas, version: Version, code: str, description: str, details: object
) -> None:
    s = session(version, schemas)
    cp_call(s, "c1", "Heartbeat")
    events = s.backend_error("c1", code, description, details, None, 0.0)
    assert frames(events, version) == [] and outcome(events).status == ev.INVALID
    assert s.pending_action("c1") == "Heartbeat"  # still answerable


@pytest.mark.parametrize("version", V2X)
def test_fr09_description_of_255_characters_is_sent(schemas: Schemas, version: Version) -> None:
    s = session(version, schemas)
    cp_call(s, "c1", "Heartbeat")
    events = s.backend_error("c1", "GenericError", "d" * 255, {"k": [1]}, None, 0.0)
    assert frames(events, version) == [[4, "c1", "GenericError", "d" * 255, {"k": [1]}]]


@pytest.mark.parametrize(("version", "allowed"), [(V16, False), (V201, False), (V21, True)])
def test_fr04_backend_callresulterror_only_on_21(
    schemas: Schemas, version: Version, allowed: bool
) -> None:
    s = session(version, schemas)
    events = s.backend_error("r1", "FormatViolation", "bad", {}, None, 0.0, message_type=5)
    if allowed:
        assert frames(events, version) == [[5, "r1", "FormatViolation", "bad", {}]]
    else:
        assert frames(events, version) == [] and outcome(events).status == ev.INVALID

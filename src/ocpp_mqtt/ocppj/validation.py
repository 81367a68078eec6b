"""Payload validation against the official OCPP JSON schemas shipped in the PyPI `ocpp` package.

Only the schema *files* of that package are used (never its ChargePoint or message classes): its
error codes and case conversion are wrong for a relay. Validators are compiled lazily, once per
(version, schema name), with jsonschema-rs; failures are mapped to OCPP error codes per ER-08.
"""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from .versions import Version, error_code

_DIRS = {Version.V16: "v16", Version.V201: "v201", Version.V21: "v21"}

# ER-08: JSON-schema keyword -> 2.x error code (spelled for 1.6 by `error_code`).
_KIND_TO_CODE = {
    "Required": "OccurrenceConstraintViolation",
    "Type": "TypeConstraintViolation",
    "AdditionalProperties": "FormatViolation",
    "Enum": "PropertyConstraintViolation",
    "Pattern": "PropertyConstraintViolation",
    "MaxLength": "PropertyConstraintViolation",
    "MinLength": "PropertyConstraintViolation",
    "Minimum": "PropertyConstraintViolation",
    "Maximum": "PropertyConstraintViolation",
    "ExclusiveMinimum": "PropertyConstraintViolation",
    "ExclusiveMaximum": "PropertyConstraintViolation",
    "MultipleOf": "PropertyConstraintViolation",
    "MaxItems": "OccurrenceConstraintViolation",
    "MinItems": "OccurrenceConstraintViolation",
    "Format": "PropertyConstraintViolation",
}


@dataclass(frozen=True, slots=True)
class SchemaError:
    """One validation failure, already mapped to the version's error code."""

    code: str
    path: str
    message: str

    def describe(self) -> str:
        where = self.path or "payload"
        return f"{where}: {self.message}"[:255]


class Schemas:
    """The set of known actions per version and their (lazily compiled) validators."""

    def __init__(self, *, validate_formats: bool = False) -> None:
        self._validate_formats = validate_formats
        self._root = importlib.resources.files("ocpp")
        self._names: dict[Version, frozenset[str]] = {}
        self._validators: dict[tuple[Version, str], Any] = {}
        for version, folder in _DIRS.items():
            names = {
                entry.name[: -len(".json")]
                for entry in (self._root / folder / "schemas").iterdir()
                if entry.name.endswith(".json")
            }
            self._names[version] = frozenset(names)
        self._actions = {v: frozenset(self._action_names(v)) for v in Version}

    def _action_names(self, version: Version) -> set[str]:
        names = self._names[version]
        if version is Version.V16:
            return {n for n in names if not n.endswith("Response")}
        actions = {n[: -len("Request")] for n in names if n.endswith("Request")}
        # SEND messages (2.1) have a schema with no suffix and no response (FR-05).
        actions |= {n for n in names if not n.endswith(("Request", "Response"))}
        return actions

    def is_action(self, version: Version, action: str) -> bool:
        """Is `action` an OCPP action of `version` (case-sensitive, FR-06)?"""
        return action in self._actions[version]

    def actions(self, version: Version) -> frozenset[str]:
        return self._actions[version]

    def _schema_name(self, version: Version, action: str, response: bool) -> str:
        if response:
            return action + "Response"
        if version is Version.V16 or action in self._names[version]:
            return action
        return action + "Request"

    def validator(self, version: Version, action: str, response: bool) -> Any | None:
        name = self._schema_name(version, action, response)
        key = (version, name)
        found = self._validators.get(key)
        if found is not None:
            return found
        if name not in self._names[version]:
            return None
        path = self._root / _DIRS[version] / "schemas" / (name + ".json")
        # The 2.0.1 files start with a UTF-8 byte-order mark: read them as utf-8-sig.
        schema = json.loads(path.read_text(encoding="utf-8-sig"))
        # All 387 files validate with draft-04 rules (no draft-06-only keyword is used).
        schema.pop("$schema", None)
        schema.pop("$id", None)
        schema.pop("id", None)
        compiled = jsonschema_rs.Draft4Validator(schema, validate_formats=self._validate_formats)
        self._validators[key] = compiled
        return compiled

    def check(
        self, version: Version, action: str, payload: Any, *, response: bool
    ) -> SchemaError | None:
        """Validate `payload`; None when valid or when no schema exists for it."""
        validator = self.validator(version, action, response)
        if validator is None or validator.is_valid(payload):
            return None
        first = next(iter(validator.iter_errors(payload)))
        kind = type(first.kind).__name__
        code = _KIND_TO_CODE.get(kind, "FormatViolation")
        path = "/" + "/".join(str(p) for p in first.instance_path) if first.instance_path else ""
        return SchemaError(error_code(version, code), path, first.message)

    def compile_all(self) -> int:
        """Compile every validator up front (used by benchmarks and `check-config`)."""
        count = 0
        for version in Version:
            for action in self._actions[version]:
                for response in (False, True):
                    if self.validator(version, action, response) is not None:
                        count += 1
        return count

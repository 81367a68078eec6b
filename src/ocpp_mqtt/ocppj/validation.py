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

from .frames import SIGNED_SUFFIX
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


_MISSING = object()


class VersionSchemas:
    """Known actions and validators of one OCPP version (plain dict lookups on the hot path)."""

    def __init__(self, version: Version, folder: Any, names: frozenset[str],
                 validate_formats: bool) -> None:
        self.version = version
        self._folder = folder
        self._names = names
        self._validate_formats = validate_formats
        # (action, response) -> compiled validator, or None when no schema exists
        self._validators: dict[tuple[str, bool], Any] = {}
        if version is Version.V16:
            actions = {n for n in names if not n.endswith("Response")}
        else:
            actions = {n[: -len("Request")] for n in names if n.endswith("Request")}
            # SEND messages (2.1) have a schema with no suffix and no response (FR-05).
            actions |= {n for n in names if not n.endswith(("Request", "Response"))}
        self.actions = frozenset(actions)

    def is_action(self, action: str) -> bool:
        """Is `action` an OCPP action of this version (case-sensitive, FR-06)?"""
        return action in self.actions

    def signed_base(self, action: str) -> str | None:
        """The OCPP action of a 2.x `<Action>-Signed` message (FR-11), or None."""
        if not (action.endswith(SIGNED_SUFFIX) and self.version.is_2x):
            return None
        base = action[: -len(SIGNED_SUFFIX)]
        return base if base in self.actions else None

    def validator(self, action: str, response: bool) -> Any | None:
        found = self._validators.get((action, response), _MISSING)
        if found is not _MISSING:
            return found
        compiled = self._compile(action, response)
        self._validators[(action, response)] = compiled
        return compiled

    def _compile(self, action: str, response: bool) -> Any | None:
        if response:
            name = action + "Response"
        elif self.version is Version.V16 or action in self._names:
            name = action
        else:
            name = action + "Request"
        if name not in self._names:
            return None
        # The 2.0.1 files start with a UTF-8 byte-order mark: read them as utf-8-sig.
        schema = json.loads((self._folder / (name + ".json")).read_text(encoding="utf-8-sig"))
        # All 387 files validate with draft-04 rules (no draft-06-only keyword is used).
        for key in ("$schema", "$id", "id"):
            schema.pop(key, None)
        return jsonschema_rs.Draft4Validator(schema, validate_formats=self._validate_formats)

    def check(self, action: str, payload: Any, response: bool) -> SchemaError | None:
        """Validate `payload`; None when valid or when no schema exists for it."""
        validator = self.validator(action, response)
        if validator is None or validator.is_valid(payload):
            return None
        first = next(iter(validator.iter_errors(payload)))
        code = _KIND_TO_CODE.get(type(first.kind).__name__, "FormatViolation")
        path = "/" + "/".join(str(p) for p in first.instance_path) if first.instance_path else ""
        return SchemaError(error_code(self.version, code), path, first.message)


class Schemas:
    """The official schemas of every version, read from the installed `ocpp` package."""

    def __init__(self, *, validate_formats: bool = False) -> None:
        root = importlib.resources.files("ocpp")
        self._by_version: dict[Version, VersionSchemas] = {}
        for version, folder_name in _DIRS.items():
            folder = root / folder_name / "schemas"
            names = frozenset(
                entry.name[: -len(".json")] for entry in folder.iterdir()
                if entry.name.endswith(".json")
            )
            self._by_version[version] = VersionSchemas(version, folder, names, validate_formats)

    def for_version(self, version: Version) -> VersionSchemas:
        return self._by_version[version]

    def is_action(self, version: Version, action: str) -> bool:
        return self._by_version[version].is_action(action)

    def actions(self, version: Version) -> frozenset[str]:
        return self._by_version[version].actions

    def validator(self, version: Version, action: str, response: bool) -> Any | None:
        return self._by_version[version].validator(action, response)

    def check(
        self, version: Version, action: str, payload: Any, *, response: bool
    ) -> SchemaError | None:
        return self._by_version[version].check(action, payload, response)

    def compile_all(self) -> int:
        """Compile every validator up front (used by benchmarks and `check-config`)."""
        count = 0
        for schemas in self._by_version.values():
            for action in schemas.actions:
                for response in (False, True):
                    if schemas.validator(action, response) is not None:
                        count += 1
        return count

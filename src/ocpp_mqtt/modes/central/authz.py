"""The idTag list of central mode: who may charge.

`id_tags` maps a tag to its status (`Accepted`, `Blocked`, `Expired`, `Invalid`) or to a table
`{status, expiry, parent}`. Tags compare case-insensitively (1.6 §IdToken and 2.x IdTokenType
say so). A tag not listed gets `unknown_id_tag`, `Invalid` by default: an RFID card nobody
registered must not start charging (lbbrhzn/ocpp#370, #1454).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

STATUSES = ("Accepted", "Blocked", "Expired", "Invalid")


@dataclass(frozen=True, slots=True)
class Entry:
    status: str
    expiry: datetime | None = None
    parent: str | None = None


def parse_id_tags(value: dict[str, Any]) -> dict[str, Entry]:
    """The `id_tags` setting, checked; ValueError names the tag and what is wrong."""
    out: dict[str, Entry] = {}
    for tag, spec in value.items():
        if not tag or len(tag) > 36:
            raise ValueError(f"idTag {tag!r} must have 1 to 36 characters")
        if isinstance(spec, str):
            spec = {"status": spec}
        if not isinstance(spec, dict):
            raise ValueError(f"idTag {tag!r}: expected a status or a table "
                             "{status, expiry, parent}")
        unknown = set(spec) - {"status", "expiry", "parent"}
        if unknown:
            raise ValueError(f"idTag {tag!r}: unknown key(s) {', '.join(sorted(unknown))}; "
                             "use status, expiry, parent")
        status = spec.get("status", "Accepted")
        if status not in STATUSES:
            raise ValueError(f"idTag {tag!r}: status {status!r} is not one of "
                             f"{', '.join(STATUSES)}")
        expiry = spec.get("expiry")
        when: datetime | None = None
        if expiry is not None:
            when = expiry if isinstance(expiry, datetime) else _parse_time(str(expiry), tag)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
        parent = spec.get("parent")
        key = tag.casefold()
        if key in out:
            raise ValueError(f"idTag {tag!r} is listed twice (tags compare case-insensitively)")
        out[key] = Entry(status, when, str(parent) if parent is not None else None)
    return out


def _parse_time(text: str, tag: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"idTag {tag!r}: expiry {text!r} is not an ISO 8601 date-time, "
                         "e.g. 2027-01-31T00:00:00Z") from exc


class IdTags:
    def __init__(self, tags: dict[str, Any], unknown: str, remote_start: str | None = None) -> None:
        self.entries = parse_id_tags(tags)
        self.unknown = unknown
        # The tag the gateway's own start_charging sends must pass when the charger checks it
        # (Authorize, StartTransaction), or a remote start would be stopped at once; listing
        # it in id_tags overrides this.
        if remote_start and remote_start.casefold() not in self.entries:
            self.entries[remote_start.casefold()] = Entry("Accepted")

    def status(self, tag: str | None, now: datetime) -> Entry:
        if tag is None:
            return Entry(self.unknown)
        entry = self.entries.get(tag.casefold())
        if entry is None:
            return Entry(self.unknown)
        if entry.status == "Accepted" and entry.expiry is not None and entry.expiry <= now:
            return Entry("Expired", entry.expiry, entry.parent)
        return entry

    def id_tag_info(self, tag: str | None, now: datetime, enabled: bool = True) -> dict[str, Any]:
        """1.6 IdTagInfo. `enabled` False (charging switched off for this charge point)
        answers Blocked whatever the tag."""
        entry = self.status(tag, now)
        info: dict[str, Any] = {"status": entry.status if enabled else "Blocked"}
        if entry.expiry is not None:
            info["expiryDate"] = _iso(entry.expiry)
        if entry.parent is not None:
            info["parentIdTag"] = entry.parent[:20]
        return info

    def id_token_info(self, token: str | None, now: datetime,
                      enabled: bool = True) -> dict[str, Any]:
        """2.x IdTokenInfo (its statuses include all of 1.6's but ConcurrentTx, and more)."""
        entry = self.status(token, now)
        info: dict[str, Any] = {"status": entry.status if enabled else "Blocked"}
        if entry.expiry is not None:
            info["cacheExpiryDateTime"] = _iso(entry.expiry)
        if entry.parent is not None:
            info["groupIdToken"] = {"idToken": entry.parent, "type": "Central"}
        return info


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

"""Charge point credentials for security profiles 1 and 2: one SQLite file, argon2id hashes.

Two kinds of secret, told apart when they are stored:

- `password` (OCPP 2.x `BasicAuthPassword`, SEC-06): 16-40 characters, sent and hashed as
  UTF-8 text.
- `key` (OCPP 1.6 `AuthorizationKey`, SEC-05): 16-20 bytes, written as 32-40 hex digits. The
  hash is over the lowercase hex text, so a charge point may send the raw bytes (as the 1.6
  specification shows) or the hex text; the two forms have disjoint lengths (16-20 bytes
  against 32-40 characters), so one hash check decides.

Nothing here ever returns or logs a secret; only hashes are stored.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import sqlite3
import string
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

Kind = Literal["password", "key"]

# OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane): about 50 ms per check on one free core
# (bench/auth.py measures it here). The parameters are stored in each hash, so raising them
# later only affects new hashes.
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_ALPHABET = string.ascii_letters + string.digits


class CredentialError(ValueError):
    """A credential that cannot be stored, phrased as what is wrong and what to give."""


@dataclass(frozen=True, slots=True)
class Credential:
    identity: str
    kind: Kind
    hash: str


def check_secret(kind: Kind, secret: str) -> str:
    """The normalised secret to hash, or CredentialError (SEC-05, SEC-06)."""
    if kind == "password":
        if not 16 <= len(secret) <= 40:
            raise CredentialError(f"a password must have 16-40 characters (OCPP 2.x "
                                  f"BasicAuthPassword, SEC-06); this one has {len(secret)}")
        return secret
    text = secret.strip().lower()
    if len(text) % 2 or not 32 <= len(text) <= 40 or any(c not in string.hexdigits
                                                          for c in text):
        raise CredentialError("a 1.6 AuthorizationKey is 16-20 bytes written as 32-40 hex "
                              "digits (SEC-05)")
    return text


def hash_secret(identity: str, kind: Kind, secret: str) -> str:
    """Check the identity and secret and return the argon2id hash to store (slow, no I/O)."""
    if not identity or ":" in identity or len(identity) > 1000:
        raise CredentialError(f"identity {identity[:60]!r}: must be non-empty, without ':' "
                              "(it is the Basic user name, ID-04)")
    return HASHER.hash(check_secret(kind, secret))


def generate(kind: Kind) -> str:
    """A strong random secret: 32 letters and digits, or a 20-byte key as 40 hex digits."""
    if kind == "key":
        return secrets.token_hex(20)
    return "".join(secrets.choice(_ALPHABET) for _ in range(32))


def presented_forms(kind: Kind, presented: bytes) -> str | None:
    """What to check against the hash, from the bytes after `identity:` in the header."""
    if kind == "password":
        try:
            return presented.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if 16 <= len(presented) <= 20:  # the raw key bytes (J16 §6.2.2)
        return presented.hex()
    try:
        text = presented.decode("ascii").lower()
    except UnicodeDecodeError:
        return None
    return text if len(text) in range(32, 41, 2) else None


def verify(credential: Credential, presented: bytes) -> bool:
    """The slow check (argon2id); run it off the event loop."""
    form = presented_forms(credential.kind, presented)
    if form is None:
        return False
    try:
        return HASHER.verify(credential.hash, form)
    except (VerificationError, InvalidHashError):
        return False


class CredentialStore:
    """The SQLite table; every call is a short indexed statement, so a handshake reads the
    current row and changes made by the CLI or another process apply at the next connect."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA busy_timeout=2000")
            self.db.execute("CREATE TABLE IF NOT EXISTS credentials (identity TEXT PRIMARY KEY,"
                            " kind TEXT NOT NULL, hash TEXT NOT NULL, updated_at INTEGER)")
        except sqlite3.Error as exc:
            raise CredentialError(f"credentials_store: cannot open {path}: {exc}; give a "
                                  "writable file path") from exc

    def get(self, identity: str) -> Credential | None:
        row = self.db.execute("SELECT kind, hash FROM credentials WHERE identity = ?",
                              (identity,)).fetchone()
        return Credential(identity, row[0], row[1]) if row else None

    def set(self, identity: str, kind: Kind, secret: str) -> None:
        self.put(identity, kind, hash_secret(identity, kind, secret))

    def put(self, identity: str, kind: Kind, digest: str) -> None:
        """Store a hash made by :func:`hash_secret` (which may run in another thread)."""
        self.db.execute("INSERT OR REPLACE INTO credentials VALUES (?, ?, ?, ?)",
                        (identity, kind, digest, int(time.time())))

    def remove(self, identity: str) -> bool:
        return self.db.execute("DELETE FROM credentials WHERE identity = ?",
                               (identity,)).rowcount > 0

    def list(self) -> list[tuple[str, str, int]]:
        """(identity, kind, updated_at) of every row; never the hash."""
        rows = self.db.execute("SELECT identity, kind, updated_at FROM credentials "
                               "ORDER BY identity").fetchall()
        return [(str(r[0]), str(r[1]), int(r[2] or 0)) for r in rows]

    def close(self) -> None:
        self.db.close()


def parse_import(text: str, fmt: Literal["csv", "json"]) -> list[tuple[str, Kind, str]]:
    """(identity, kind, secret) rows from CSV (`identity,password` or `identity,key` header)
    or JSON (a list of {"identity", "password" | "key"}); every bad row is named."""
    rows: list[tuple[str, Kind, str]] = []
    problems: list[str] = []
    if fmt == "json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CredentialError(f"not JSON: {exc}") from None
        items = data if isinstance(data, list) else []
        if not isinstance(data, list):
            problems.append('expected a JSON list of {"identity": ..., "password" | "key": ...}')
        numbered = [(str(i + 1), item) for i, item in enumerate(items)]
    else:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "identity" not in reader.fieldnames:
            raise CredentialError("CSV needs a header line with `identity` and `password` or "
                                  "`key` columns")
        numbered = [(f"line {i + 2}", row) for i, row in enumerate(reader)]
    for where, item in numbered:
        if not isinstance(item, dict):
            problems.append(f"{where}: expected an object")
            continue
        identity = str(item.get("identity") or "").strip()
        password, key = item.get("password") or "", item.get("key") or ""
        if not identity or bool(password) == bool(key):
            problems.append(f"{where}: needs `identity` and exactly one of `password`, `key`")
            continue
        kind: Kind = "password" if password else "key"
        secret = str(password or key)
        try:
            check_secret(kind, secret)
        except CredentialError as exc:
            problems.append(f"{where} ({identity}): {exc}")
            continue
        rows.append((identity, kind, secret))
    if problems:
        raise CredentialError("; ".join(problems))
    return rows

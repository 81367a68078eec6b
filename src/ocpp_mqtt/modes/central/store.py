"""Central mode's one SQLite file: transactions, charge point state, the outbox and the keys
of recent transaction messages.

SQLite runs in WAL mode with `synchronous=NORMAL`: a commit is durable against a crash of the
gateway process (the data is in the OS before the charge point is answered) but not against a
power cut of the machine, which would cost an fsync per message.
Writes are small and happen on the event loop: a home has a few per minute, a depot of 1,000
charge points sending MeterValues every minute about 17 per second.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .state import ChargePointState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS transactions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- the OCPP 1.6 transactionId
    cid         TEXT NOT NULL,
    connector   INTEGER NOT NULL,
    ocpp_id     TEXT,              -- OCPP 2.x transactionId (chosen by the charge point)
    id_tag      TEXT,
    started_at  TEXT,              -- the charge point's timestamps
    meter_start REAL,              -- Wh
    stopped_at  TEXT,
    meter_stop  REAL,
    reason      TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS transactions_ocpp_id ON transactions (cid, ocpp_id);
CREATE TABLE IF NOT EXISTS charge_points (
    cid     TEXT PRIMARY KEY,
    state   BLOB NOT NULL,         -- ChargePointState.to_json()
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS seen (  -- MessageKeys published, to flag repeats after a restart
    key      TEXT PRIMARY KEY,
    first_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS seen_first ON seen (first_ms);
CREATE TABLE IF NOT EXISTS outbox (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    topic   TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos     INTEGER NOT NULL,
    retain  INTEGER NOT NULL
);
"""

# 1.6 transactionId is an `integer` that many chargers keep in 32 bits
MAX_TRANSACTION_ID = 2**31 - 1


class StoreError(Exception):
    """The store cannot be opened or written; the message names the file and the fix."""


@dataclass(slots=True)
class Transaction:
    id: int
    cid: str
    connector: int
    ocpp_id: str | None
    id_tag: str | None
    started_at: str | None
    meter_start: float | None
    stopped_at: str | None
    meter_stop: float | None
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        energy = (self.meter_stop - self.meter_start
                  if self.meter_stop is not None and self.meter_start is not None else None)
        return {
            "transaction_id": self.ocpp_id if self.ocpp_id is not None else self.id,
            "connector": self.connector,
            "id_tag": self.id_tag,
            "started_at": self.started_at,
            "stopped_at": self.stopped_at,
            "meter_start_wh": self.meter_start,
            "meter_stop_wh": self.meter_stop,
            "energy_wh": max(energy, 0.0) if energy is not None else None,
            "reason": self.reason,
        }


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            if str(path) != ":memory:":
                path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"store: cannot open {path}: {exc}; choose a writable --store "
                             "FILE") from exc

    def close(self) -> None:
        self.db.close()

    # ---- transactions --------------------------------------------------------------------

    def start_transaction(self, cid: str, connector: int, id_tag: str | None,
                          started_at: str | None, meter_start: float | None,
                          ocpp_id: str | None = None) -> tuple[Transaction, bool]:
        """A new transaction (True); a charge point repeating the same StartTransaction (it
        got no answer the first time) gets the same one back (False), not a second id."""
        if ocpp_id is not None:
            row = self.db.execute("SELECT * FROM transactions WHERE cid=? AND ocpp_id=?",
                                  (cid, ocpp_id)).fetchone()
        else:
            row = self.db.execute(
                "SELECT * FROM transactions WHERE cid=? AND connector=? AND started_at IS ? "
                "AND meter_start IS ? AND id_tag IS ? AND ocpp_id IS NULL",
                (cid, connector, started_at, meter_start, id_tag)).fetchone()
        if row is not None:
            return Transaction(*row), False
        cursor = self.db.execute(
            "INSERT INTO transactions (cid, connector, ocpp_id, id_tag, started_at, meter_start)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (cid, connector, ocpp_id, id_tag, started_at, meter_start))
        tx_id = cursor.lastrowid
        assert tx_id is not None
        if ocpp_id is None and tx_id > MAX_TRANSACTION_ID:  # wrap, never reuse a live id
            self.db.execute("DELETE FROM transactions WHERE id=?", (tx_id,))
            self.db.execute("UPDATE sqlite_sequence SET seq=0 WHERE name='transactions'")
            return self.start_transaction(cid, connector, id_tag, started_at, meter_start)
        return Transaction(tx_id, cid, connector, ocpp_id, id_tag, started_at, meter_start,
                           None, None, None), True

    def find_transaction(self, cid: str, tx_id: int | None = None,
                         ocpp_id: str | None = None) -> Transaction | None:
        if ocpp_id is not None:
            row = self.db.execute("SELECT * FROM transactions WHERE cid=? AND ocpp_id=?",
                                  (cid, ocpp_id)).fetchone()
        else:
            row = self.db.execute("SELECT * FROM transactions WHERE cid=? AND id=?",
                                  (cid, tx_id)).fetchone()
        return Transaction(*row) if row is not None else None

    def stop_transaction(self, tx: Transaction, stopped_at: str | None,
                         meter_stop: float | None, reason: str | None) -> Transaction:
        self.db.execute(
            "UPDATE transactions SET stopped_at=?, meter_stop=?, reason=? WHERE id=?",
            (stopped_at, meter_stop, reason, tx.id))
        tx.stopped_at, tx.meter_stop, tx.reason = stopped_at, meter_stop, reason
        return tx

    def update_transaction(self, tx: Transaction, **values: Any) -> None:
        """Fill in fields learnt later (2.x: idToken or meter start in an Updated event)."""
        if not values:
            return
        names = ", ".join(f"{name}=?" for name in values)
        self.db.execute(f"UPDATE transactions SET {names} WHERE id=?", (*values.values(), tx.id))
        for name, value in values.items():
            setattr(tx, name, value)

    def transactions(self, cid: str | None = None, limit: int = 100) -> list[Transaction]:
        if cid is None:
            rows = self.db.execute("SELECT * FROM transactions ORDER BY id DESC LIMIT ?",
                                   (limit,)).fetchall()
        else:
            rows = self.db.execute(
                "SELECT * FROM transactions WHERE cid=? ORDER BY id DESC LIMIT ?",
                (cid, limit)).fetchall()
        return [Transaction(*row) for row in rows]

    # ---- charge point state --------------------------------------------------------------

    def save_state(self, cp: ChargePointState) -> None:
        self.db.execute(
            "INSERT INTO charge_points (cid, state, updated) VALUES (?, ?, ?) "
            "ON CONFLICT(cid) DO UPDATE SET state=excluded.state, updated=excluded.updated",
            (cp.identity, orjson.dumps(cp.to_json()), time.time()))

    def load_states(self) -> dict[str, ChargePointState]:
        out: dict[str, ChargePointState] = {}
        for cid, blob in self.db.execute("SELECT cid, state FROM charge_points"):
            try:
                out[cid] = ChargePointState.from_json(orjson.loads(blob))
            except (orjson.JSONDecodeError, TypeError, ValueError):
                continue  # written by another version of the gateway: start afresh
        return out

    def delete_state(self, cid: str) -> bool:
        return self.db.execute("DELETE FROM charge_points WHERE cid=?", (cid,)).rowcount > 0

    # ---- outbox --------------------------------------------------------------------------

    def outbox_add(self, topic: str, payload: bytes, qos: int, retain: bool) -> int:
        cursor = self.db.execute(
            "INSERT INTO outbox (topic, payload, qos, retain) VALUES (?, ?, ?, ?)",
            (topic, payload, qos, int(retain)))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def outbox_after(self, seq: int, limit: int) -> list[tuple[int, str, bytes, int, bool]]:
        rows = self.db.execute(
            "SELECT seq, topic, payload, qos, retain FROM outbox WHERE seq > ? ORDER BY seq "
            "LIMIT ?", (seq, limit)).fetchall()
        return [(s, t, bytes(p), q, bool(r)) for s, t, p, q, r in rows]

    def outbox_remove(self, seqs: list[int]) -> None:
        self.db.executemany("DELETE FROM outbox WHERE seq=?", [(s,) for s in seqs])

    def outbox_drop_oldest(self, count: int) -> int:
        return self.db.execute(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
            (count,)).rowcount

    def outbox_count_after(self, seq: int) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM outbox WHERE seq > ?",
                                   (seq,)).fetchone()[0])

    def meta_get(self, name: str) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def meta_set(self, name: str, value: int) -> None:
        self.db.execute("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) "
                        "DO UPDATE SET value=excluded.value", (name, value))

    def outbox_last(self) -> int:
        return int(self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0])

    def outbox_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    # ---- keys of published transaction messages (modes/repeats.py) -----------------------

    def seen_add(self, key: str, first_ms: int) -> None:
        self.db.execute("INSERT OR IGNORE INTO seen (key, first_ms) VALUES (?, ?)",
                        (key, first_ms))

    def seen_since(self, first_ms: int, limit: int) -> list[tuple[str, int]]:
        """The newest `limit` keys first seen at or after `first_ms`, oldest first."""
        rows = self.db.execute(
            "SELECT key, first_ms FROM (SELECT key, first_ms FROM seen WHERE first_ms >= ? "
            "ORDER BY first_ms DESC LIMIT ?) ORDER BY first_ms", (first_ms, limit)).fetchall()
        return [(str(k), int(ms)) for k, ms in rows]

    def seen_forget(self, before_ms: int) -> int:
        return self.db.execute("DELETE FROM seen WHERE first_ms < ?", (before_ms,)).rowcount

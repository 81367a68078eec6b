"""Answers the gateway gives itself in proxy mode: the actions in `local_actions` (e.g.
Authorize from the `id_tags` list), and every CALL while the upstream is away when
`upstream_outage` is `central`. It is central mode's built-in central system (`answers.py`,
`authz.py`) with its SQLite store (transaction ids), fed with what it answered so its view of
each charge point stays current (`observe.py`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from ...config import ConfigError, Settings
from ...ocppj.versions import Version
from ..central.answers import Answer, Answerer, iso_now
from ..central.observe import observe
from ..central.state import ChargePointState
from ..central.store import Store, StoreError

log = logging.getLogger("ocpp_mqtt.proxy")


class LocalAnswers:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        try:
            self.store = Store(settings.store)
        except StoreError as exc:
            raise ConfigError(str(exc)) from exc
        self.answerer = Answerer(settings, self.store)
        self.states: dict[str, ChargePointState] = {}

    def answer(self, identity: str, cid_level: str, version: Version, action: str,
               request: dict[str, Any]) -> Answer:
        cp = self.states.get(identity)
        if cp is None:
            cp = self.states[identity] = ChargePointState(
                identity, cid_level, charging_enabled=self.settings.charging_enabled_default)
        now = datetime.now(UTC)
        try:
            answer = self.answerer.answer(cp, version, action, request, now)
        except Exception as exc:  # e.g. the store's disk is full: the charger must hear back
            log.exception("cannot answer", extra={"cid": identity, "action": action})
            return Answer(error=("InternalError", f"the gateway cannot answer: {exc}"))
        try:
            observe(cp, version.value, action, request, answer.payload, iso_now(now))
        except Exception:  # its view of the charge point is a help, not a condition
            log.exception("cannot take in a message", extra={"cid": identity, "action": action})
        return answer

    def forget(self, identity: str) -> None:
        self.states.pop(identity, None)

    def close(self) -> None:
        self.store.close()

"""Connection limits, decided before the upgrade (no I/O, unit-tested): how many charge points
at once (`max_connections`) and from one IP address (`max_per_address`).

A charge point that is already connected is always let in again: its new connection replaces
the old one (HS-12), so it never counts twice.
"""

from __future__ import annotations

import resource

from .handshake import Reject

FD_MARGIN = 100  # descriptors kept for the broker link, the store, logs and the admin API


def automatic_max_connections() -> int:
    """What RLIMIT_NOFILE allows: beyond it `accept` fails with EMFILE for everyone."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 0
    return max(1, soft - FD_MARGIN)


class ConnectionLimits:
    def __init__(self, max_connections: int, max_per_address: int) -> None:
        self.max_connections = max_connections or automatic_max_connections()
        self.max_per_address = max_per_address
        self.count = 0  # sockets open (a replaced one until it is closed)
        self._identities: dict[str, int] = {}  # identity -> sockets
        self._by_address: dict[str, dict[str, int]] = {}  # address -> identity -> sockets

    def admit(self, identity: str, address: str) -> Reject | None:
        """Why this charge point may not connect now (HTTP status and reason), or None."""
        if identity in self._identities:
            return None
        if self.max_connections and self.count >= self.max_connections:
            return Reject(503, f"the gateway holds its maximum of {self.max_connections} "
                          "charge points (max_connections); try again later")
        here = self._by_address.get(address)
        if self.max_per_address and here is not None and len(here) >= self.max_per_address:
            return Reject(429, f"{len(here)} charge points are already connected from "
                          f"{address} (max_per_address {self.max_per_address})")
        return None

    def opened(self, identity: str, address: str) -> None:
        self.count += 1
        self._identities[identity] = self._identities.get(identity, 0) + 1
        here = self._by_address.setdefault(address, {})
        here[identity] = here.get(identity, 0) + 1

    def closed(self, identity: str, address: str) -> None:
        self.count -= 1
        _drop(self._identities, identity)
        here = self._by_address.get(address)
        if here is not None:
            _drop(here, identity)
            if not here:
                del self._by_address[address]


def _drop(counts: dict[str, int], key: str) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)

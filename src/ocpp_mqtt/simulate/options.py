"""The options of `ocpp-mqtt simulate`: parsed by argparse, checked here with errors that name
the option and the fix. They are the simulator's own, not gateway settings (`config/`)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from ..ocppj.versions import Version

DEFAULT_URL = "ws://127.0.0.1:9000/ocpp"


class OptionError(Exception):
    """`--option: what is wrong; what to do`."""


@dataclass(frozen=True, slots=True)
class Span:
    """A range of seconds, `60-600`, or one value `120`; each use draws uniformly from it."""

    low: float
    high: float

    @classmethod
    def parse(cls, text: str, option: str) -> Span:
        low_text, sep, high_text = text.partition("-")
        try:
            low = float(low_text)
            high = float(high_text) if sep else low
        except ValueError:
            raise OptionError(f"{option}: expected seconds or a range like 60-600, got "
                              f"{text!r}") from None
        if low < 0 or high < low:
            raise OptionError(f"{option}: {text!r} is not a range of seconds (0 <= low <= high)")
        return cls(low, high)

    def __str__(self) -> str:
        return f"{self.low:g}" if self.low == self.high else f"{self.low:g}-{self.high:g}"


@dataclass(frozen=True, slots=True)
class SimOptions:
    count: int = 1
    url: str = DEFAULT_URL
    versions: tuple[Version, ...] = (Version.V16, Version.V201, Version.V21)
    identity: str = "SIM{n:04}"
    first: int = 1
    connectors: int = 1
    duration: float = 0.0
    until_idle: bool = False
    transactions: int | None = None
    rate: float = 20.0
    heartbeat_interval: float | None = None
    meter_interval: float = 30.0
    tx_duration: Span = field(default_factory=lambda: Span(60, 600))
    tx_pause: Span = field(default_factory=lambda: Span(5, 30))
    id_tags: tuple[str, ...] = ("ocpp-mqtt",)
    max_power: float = 11.0
    phases: int = 3
    password: str | None = None
    seed: int | None = None
    call_timeout: float = 30.0
    connect_timeout: float = 10.0
    reconnect_min: float = 3.0
    reconnect_range: float = 3.0
    reconnect_doublings: int = 5
    boot_retry: float = 30.0
    stop_timeout: float = 10.0
    quiet: bool = False
    json: bool = False
    # not flags: for benchmarks that keep a fixed message count per charge point
    status_connector_zero: bool = True  # 1.6: a StatusNotification for the charge point itself
    report_status: bool = True  # StatusNotifications after the Boot

    def identity_of(self, index: int) -> str:
        n = self.first + index
        if "{" in self.identity:
            return self.identity.format(n=n)
        return f"{self.identity}{n}"

    def version_of(self, index: int) -> Version:
        """Versions spread evenly: charge point i speaks versions[i % len(versions)]."""
        return self.versions[index % len(self.versions)]

    @property
    def urls(self) -> tuple[str, ...]:
        """The central system URLs: `url` may list several, comma-separated."""
        return tuple(u.strip() for u in self.url.split(",") if u.strip())

    def url_of(self, identity: str, turn: int = 0) -> str:
        """The URL of a charge point's connection attempt number `turn`: with several URLs,
        each attempt takes the next one (round robin)."""
        from urllib.parse import quote

        urls = self.urls
        return f"{urls[turn % len(urls)].rstrip('/')}/{quote(identity, safe='')}"

    @property
    def per_connector_transactions(self) -> int | None:
        """How many transactions each connector starts by itself (None: no limit)."""
        if self.transactions is None and self.until_idle:
            return 0
        return self.transactions


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = SimOptions()
    p.add_argument("-n", "--count", type=int, default=d.count, help="charge points (default 1)")
    p.add_argument("--url", default=d.url, help="central system URL; each charge point "
                   f"connects to URL/<identity> (default {d.url}, the local gateway); several "
                   "URLs, comma-separated, spread the charge points over them and each new "
                   "connection attempt takes the next one")
    p.add_argument("--versions", default="1.6,2.0.1,2.1",
                   help="OCPP versions, spread evenly over the charge points "
                   "(default 1.6,2.0.1,2.1)")
    p.add_argument("--identity", default=d.identity,
                   help="identity pattern with {n} (Python format, e.g. CP{n:03}) or a prefix "
                   "the number is appended to (default SIM{n:04}: SIM0001, SIM0002, ...)")
    p.add_argument("--first", type=int, default=d.first, help="number of the first charge "
                   "point (default 1)")
    p.add_argument("--connectors", type=int, default=d.connectors,
                   help="connectors (1.6) or EVSEs (2.x) per charge point (default 1)")
    p.add_argument("--duration", type=float, default=d.duration,
                   help="seconds to run, then stop cleanly (default 0: until Ctrl-C)")
    p.add_argument("--until-idle", action="store_true",
                   help="stop when every charge point is booted, has done its --transactions "
                   "(none unless given) and has nothing left to send")
    p.add_argument("--transactions", type=int, default=None,
                   help="transactions each connector starts by itself (default: no limit; "
                   "0 with --until-idle)")
    p.add_argument("--rate", type=float, default=d.rate,
                   help="ramp-up: new connections per second (default 20; 0: all at once)")
    p.add_argument("--heartbeat-interval", type=float, default=None,
                   help="seconds between Heartbeats (default: the interval the "
                   "BootNotification answer gives)")
    p.add_argument("--meter-interval", type=float, default=d.meter_interval,
                   help="seconds between meter values during a transaction (default 30)")
    p.add_argument("--tx-duration", default=str(d.tx_duration),
                   help="seconds a transaction lasts, a range drawn from (default 60-600)")
    p.add_argument("--tx-pause", default=str(d.tx_pause),
                   help="seconds a connector waits before each transaction (default 5-30)")
    p.add_argument("--id-tags", default=",".join(d.id_tags),
                   help="idTags the charge points authorize with, comma-separated (default "
                   "ocpp-mqtt, which the gateway's central mode accepts out of the box)")
    p.add_argument("--max-power", type=float, default=d.max_power,
                   help="kW per connector (default 11)")
    p.add_argument("--phases", type=int, default=d.phases, choices=(1, 3),
                   help="phases per connector (default 3)")
    p.add_argument("--password", default=None,
                   help="HTTP Basic password (security profile 1); the user is the identity")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of every random choice, for reproducible runs (default: random, "
                   "printed in the summary)")
    p.add_argument("--call-timeout", type=float, default=d.call_timeout,
                   help="seconds to wait for the answer to a CALL (default 30)")
    p.add_argument("--connect-timeout", type=float, default=d.connect_timeout,
                   help="seconds for a WebSocket handshake (default 10)")
    p.add_argument("--reconnect-min", type=float, default=d.reconnect_min,
                   help="first reconnect wait in seconds, RetryBackOffWaitMinimum (default 3)")
    p.add_argument("--reconnect-range", type=float, default=d.reconnect_range,
                   help="random seconds added to each reconnect wait, RetryBackOffRandomRange "
                   "(default 3)")
    p.add_argument("--reconnect-doublings", type=int, default=d.reconnect_doublings,
                   help="how many failed attempts in a row double the reconnect wait, "
                   "RetryBackOffRepeatTimes (default 5)")
    p.add_argument("--boot-retry", type=float, default=d.boot_retry,
                   help="seconds before a Pending or Rejected BootNotification is sent again "
                   "when the answer's interval is 0 (default 30)")
    p.add_argument("--stop-timeout", type=float, default=d.stop_timeout,
                   help="seconds a stop waits for transactions to end and queued messages to "
                   "be answered (default 10)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("-q", "--quiet", action="store_true",
                     help="no progress line; only the summary table")
    out.add_argument("--json", action="store_true",
                     help="no progress line; the summary as one JSON object on stdout")


def _positive(name: str, value: float, *, zero: bool = False) -> None:
    if value < 0 or (value == 0 and not zero):
        raise OptionError(f"{name}: must be {'0 or more' if zero else 'more than 0'}, "
                          f"got {value:g}")


def from_args(a: argparse.Namespace) -> SimOptions:
    """Check every option; raise OptionError naming the first bad one."""
    if a.count < 1:
        raise OptionError(f"--count: at least 1 charge point, got {a.count}")
    urls = [u.strip() for u in a.url.split(",")]
    for url in urls:
        if not url.startswith(("ws://", "wss://")):
            raise OptionError(f"--url: expected ws://HOST:PORT/PATH or wss://... (several "
                              f"separated by commas), got {url!r}")
    try:
        versions = tuple(Version.parse(v) for v in a.versions.split(",") if v.strip())
    except ValueError as exc:
        raise OptionError(f"--versions: {exc}") from None
    if not versions:
        raise OptionError("--versions: name at least one of 1.6, 2.0.1, 2.1")
    try:
        probe = a.identity.format(n=a.first) if "{" in a.identity else a.identity + "1"
    except (KeyError, IndexError, ValueError) as exc:
        raise OptionError(f"--identity: {a.identity!r} is not a pattern with {{n}} "
                          f"(e.g. CP{{n:03}}): {exc}") from None
    if not probe or "/" in probe:
        raise OptionError(f"--identity: gives {probe!r}; an identity is one non-empty path "
                          "segment")
    if len(probe) > 48:
        raise OptionError(f"--identity: {probe!r} is longer than 48 characters (ID-01)")
    if not 1 <= a.connectors <= 100:
        raise OptionError(f"--connectors: 1 to 100, got {a.connectors}")
    for name, value, zero in (("--duration", a.duration, True), ("--rate", a.rate, True),
                              ("--meter-interval", a.meter_interval, False),
                              ("--max-power", a.max_power, False),
                              ("--call-timeout", a.call_timeout, False),
                              ("--connect-timeout", a.connect_timeout, False),
                              ("--reconnect-min", a.reconnect_min, True),
                              ("--reconnect-range", a.reconnect_range, True),
                              ("--boot-retry", a.boot_retry, False),
                              ("--stop-timeout", a.stop_timeout, True)):
        _positive(name, value, zero=zero)
    if not 0 <= a.reconnect_doublings <= 20:
        raise OptionError(f"--reconnect-doublings: 0 to 20, got {a.reconnect_doublings}")
    if a.heartbeat_interval is not None:
        _positive("--heartbeat-interval", a.heartbeat_interval)
    if a.transactions is not None and a.transactions < 0:
        raise OptionError(f"--transactions: 0 or more, got {a.transactions}")
    tags = tuple(t.strip() for t in a.id_tags.split(",") if t.strip())
    if not tags or any(len(t) > 20 for t in tags):
        raise OptionError("--id-tags: one or more tags of at most 20 characters (the 1.6 "
                          "idTag limit), comma-separated")
    return SimOptions(
        count=a.count, url=",".join(urls), versions=versions, identity=a.identity, first=a.first,
        connectors=a.connectors, duration=a.duration, until_idle=a.until_idle,
        transactions=a.transactions, rate=a.rate, heartbeat_interval=a.heartbeat_interval,
        meter_interval=a.meter_interval, tx_duration=Span.parse(a.tx_duration, "--tx-duration"),
        tx_pause=Span.parse(a.tx_pause, "--tx-pause"), id_tags=tags, max_power=a.max_power,
        phases=a.phases, password=a.password, seed=a.seed, call_timeout=a.call_timeout,
        connect_timeout=a.connect_timeout, reconnect_min=a.reconnect_min,
        reconnect_range=a.reconnect_range, reconnect_doublings=a.reconnect_doublings,
        boot_retry=a.boot_retry,
        stop_timeout=a.stop_timeout, quiet=a.quiet, json=a.json,
    )

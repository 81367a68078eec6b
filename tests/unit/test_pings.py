"""KA-03 sweep: who gets pinged and who is dropped, without sockets."""

from __future__ import annotations

from typing import Any

from ocpp_mqtt.transport.pings import Pinger


class Conn:
    def __init__(self, last_rx: float) -> None:
        self.last_rx = last_rx
        self.ping_sent = 0.0
        self.pings = 0
        self.dropped = False

    def ping(self) -> None:
        self.pings += 1

    def no_pong(self) -> None:
        self.dropped = True


def pinger(conns: list[Any]) -> Pinger:
    return Pinger(20.0, 10.0, lambda: conns)


def test_ka03_only_silent_connections_are_pinged() -> None:
    quiet, busy = Conn(last_rx=0.0), Conn(last_rx=15.0)
    p = pinger([quiet, busy])
    p.sweep(20.0)
    assert (quiet.pings, busy.pings) == (1, 0)
    p.sweep(25.0)  # the ping is outstanding: not sent again
    assert quiet.pings == 1 and not quiet.dropped


def test_ka03_pong_clears_and_the_next_ping_waits_an_interval() -> None:
    conn = Conn(last_rx=0.0)
    p = pinger([conn])
    p.sweep(20.0)
    conn.last_rx = 20.01  # the pong
    p.sweep(25.0)
    assert conn.ping_sent == 0.0 and conn.pings == 1 and not conn.dropped
    p.sweep(40.0)
    assert conn.pings == 1
    p.sweep(40.02)
    assert conn.pings == 2


def test_ka03_no_pong_within_timeout_drops_the_connection() -> None:
    conn = Conn(last_rx=0.0)
    p = pinger([conn])
    p.sweep(20.0)
    p.sweep(29.9)
    assert not conn.dropped
    p.sweep(30.0)
    assert conn.dropped and conn.pings == 1


def test_sweep_period_scales_with_the_interval() -> None:
    assert Pinger(20.0, 20.0, list).period == 5.0
    assert Pinger(0.4, 0.4, list).period == 0.1
    assert Pinger(60.0, 2.0, list).period == 1.0

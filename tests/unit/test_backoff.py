"""Reconnect delays of the MQTT link: doubling from the minimum, capped, jittered, reset."""

from __future__ import annotations

from ocpp_mqtt.northbound.client import Backoff


def test_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    backoff = Backoff(1.0, 8.0)
    delays = [backoff() for _ in range(6)]
    for delay, base in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert base <= delay <= base * 1.2


def test_reset_starts_again_from_the_minimum() -> None:
    backoff = Backoff(0.5, 30.0)
    for _ in range(5):
        backoff()
    backoff.reset()
    assert 0.5 <= backoff() <= 0.6


def test_a_cap_below_the_minimum_is_the_minimum() -> None:
    assert 2.0 <= Backoff(2.0, 1.0)() <= 2.4

"""The simulator's option checks, meter model and latency histogram."""

from __future__ import annotations

import argparse
import random

import pytest

from ocpp_mqtt.ocppj.versions import Version
from ocpp_mqtt.simulate.meter import Meter
from ocpp_mqtt.simulate.options import OptionError, SimOptions, Span, add_arguments, from_args
from ocpp_mqtt.simulate.stats import Histogram


def parse(*argv: str) -> SimOptions:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return from_args(parser.parse_args(list(argv)))


def test_defaults_and_spread_of_versions() -> None:
    options = parse("-n", "5")
    assert options.url == "ws://127.0.0.1:9000/ocpp"
    assert [options.version_of(i) for i in range(5)] == [
        Version.V16, Version.V201, Version.V21, Version.V16, Version.V201]
    assert [options.identity_of(i) for i in (0, 1)] == ["SIM0001", "SIM0002"]
    assert options.url_of("A B|1") == "ws://127.0.0.1:9000/ocpp/A%20B%7C1"  # HS-02
    assert options.per_connector_transactions is None


def test_identity_prefix_pattern_and_until_idle() -> None:
    options = parse("--identity", "CP", "--first", "7", "--until-idle", "--versions", "2.1")
    assert options.identity_of(0) == "CP7" and options.versions == (Version.V21,)
    assert options.per_connector_transactions == 0  # until-idle alone: boot, status, done
    assert parse("--identity", "X{n:03}", "--transactions", "2").identity_of(1) == "X002"


def test_several_urls_take_turns() -> None:
    options = parse("--url", "ws://a:9000/ocpp, wss://b/ocpp/")
    assert options.urls == ("ws://a:9000/ocpp", "wss://b/ocpp/")
    assert [options.url_of("CP1", turn) for turn in range(3)] == [
        "ws://a:9000/ocpp/CP1", "wss://b/ocpp/CP1", "ws://a:9000/ocpp/CP1"]
    assert parse().urls == ("ws://127.0.0.1:9000/ocpp",)


@pytest.mark.parametrize(("argv", "message"), [
    (["-n", "0"], "--count: at least 1"),
    (["--versions", "1.6,1.5"], "--versions: unknown OCPP version '1.5'"),
    (["--versions", ","], "--versions: name at least one"),
    (["--url", "http://x"], "--url: expected ws://"),
    (["--url", "ws://a/ocpp,http://b"], "got 'http://b'"),
    (["--url", "ws://a/ocpp,"], "got ''"),
    (["--identity", "CP{m}"], "--identity: 'CP{m}' is not a pattern"),
    (["--identity", "a/b"], "one non-empty path segment"),
    (["--identity", "X" * 60], "longer than 48"),
    (["--tx-duration", "10-5"], "--tx-duration: '10-5' is not a range"),
    (["--tx-pause", "soon"], "--tx-pause: expected seconds"),
    (["--meter-interval", "0"], "--meter-interval: must be more than 0"),
    (["--rate", "-1"], "--rate: must be 0 or more"),
    (["--connectors", "0"], "--connectors: 1 to 100"),
    (["--id-tags", "A" * 21], "--id-tags: one or more tags of at most 20"),
    (["--transactions", "-2"], "--transactions: 0 or more"),
    (["--reconnect-doublings", "21"], "--reconnect-doublings: 0 to 20"),
])
def test_bad_options_name_the_option(argv: list[str], message: str) -> None:
    with pytest.raises(OptionError, match=None) as caught:
        parse(*argv)
    assert message in str(caught.value)


def test_span() -> None:
    assert Span.parse("120", "--x") == Span(120, 120)
    assert str(Span.parse("5-60", "--x")) == "5-60"


def test_meter_register_only_grows_and_tapers() -> None:
    meter = Meter(random.Random(3), max_power_w=22_000)
    start = meter.energy_wh
    meter.plug_in()
    meter.ev_max_w, meter.soc, meter.capacity_wh = 11_000.0, 50.0, 50_000.0
    meter.charging = True
    meter.advance(0)
    assert 10_600 < meter.power_w <= 11_000
    # power = sum over the phases of V x I
    assert abs(sum(v * i for v, i in zip(meter.voltage_v, meter.current_a, strict=True))
               - meter.power_w) < 1
    meter.advance(3600)
    assert 10_600 < meter.energy_wh - start <= 11_000
    assert 70 < meter.soc < 73
    meter.soc = 95.0
    meter.advance(0)
    assert meter.power_w < 11_000 * 0.26  # tapering near full
    meter.charging = False
    meter.advance(60)
    assert meter.power_w == 0 and meter.current_a == [0.0, 0.0, 0.0]
    assert meter.energy_wh > start


def test_histogram_percentiles() -> None:
    h = Histogram()
    assert h.percentile(0.5) is None
    for ms in range(1, 1001):
        h.add(ms / 1000)
    assert h.count == 1000
    p50, p99 = h.percentile(0.5), h.percentile(0.99)
    assert p50 is not None and p99 is not None
    assert abs(p50 - 0.5) / 0.5 < 0.03 and abs(p99 - 0.99) / 0.99 < 0.03
    assert h.percentile(1.0) == pytest.approx(1.0, rel=0.03)


@pytest.mark.parametrize(("doublings", "waits"), [(5, [1, 2, 4, 8, 16, 32, 32]),
                                                  (2, [1, 2, 4, 4, 4, 4, 4]), (0, [1] * 7)])
def test_reconnect_back_off_doubles_up_to_the_option(doublings: int, waits: list[int]) -> None:
    """RC-01: the first wait doubles per failure, RetryBackOffRepeatTimes (set by
    --reconnect-doublings) times at most; no random part with --reconnect-range 0."""
    from ocpp_mqtt.ocppj.validation import Schemas
    from ocpp_mqtt.simulate.chargepoint import ChargePoint
    from ocpp_mqtt.simulate.stats import VersionStats

    options = parse("--reconnect-min", "1", "--reconnect-range", "0",
                    "--reconnect-doublings", str(doublings))
    cp = ChargePoint("CP1", Version.V16, options, None, Schemas(),  # type: ignore[arg-type]
                     VersionStats(), random.Random(1))
    assert cp.station.keys["RetryBackOffRepeatTimes"].value == str(doublings)
    assert [cp._backoff(failures) for failures in range(7)] == waits

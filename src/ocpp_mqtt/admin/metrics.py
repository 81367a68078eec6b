"""Prometheus metrics: a prometheus_client collector that reads the gateway's own counters
(`ocppj.stats.Stats`, the connections, the MQTT link) when scraped.

Nothing is recorded through prometheus_client on the message path: its labelled metrics take a
lock and a label lookup per increment, while the session bumps plain ints (see Stats).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from .. import __version__
from ..ocppj.stats import Histogram

if TYPE_CHECKING:
    from ..gateway import Gateway

P = "ocpp_mqtt_"


def _histogram(name: str, doc: str, label: str,
               series: dict[str, Histogram]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=[label])
    for value, hist in series.items():
        family.add_metric([value], hist.cumulative(), hist.sum)
    return family


class GatewayCollector(Collector):
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def collect(self) -> Iterator[Metric]:
        gateway = self.gateway
        settings = gateway.settings
        stats = gateway.policy.stats
        info = GaugeMetricFamily(P + "info", "the gateway: version, id and mode",
                                 labels=["version", "gateway", "mode"])
        info.add_metric([__version__, settings.gateway_id, settings.mode], 1)
        yield info

        conns = [c for c in gateway.relay.connections.values() if not c.detached]
        by_version = dict.fromkeys(settings.versions, 0)
        queued = pending_in = pending_out = longest = 0
        for conn in conns:
            by_version[conn.version.value] = by_version.get(conn.version.value, 0) + 1
            length = conn.session.queue_length
            queued += length
            longest = max(longest, length)
            counts = conn.session.pending_counts()
            pending_in += counts[0]
            pending_out += counts[1]
        connections = GaugeMetricFamily(P + "connections", "charge points connected, by OCPP "
                                        "version", labels=["ocpp_version"])
        for version, n in by_version.items():
            connections.add_metric([version], n)
        yield connections

        messages = CounterMetricFamily(
            P + "messages", "OCPP messages by direction (in: from charge points, out: to "
            "them), type and action", labels=["direction", "type", "action"])
        for direction, kind, table in (("in", "call", stats.calls_in),
                                       ("in", "result", stats.results_in),
                                       ("out", "call", stats.calls_out),
                                       ("out", "result", stats.results_out)):
            for action, n in list(table.items()):
                messages.add_metric([direction, kind, action], n)
        yield messages

        errors = CounterMetricFamily(P + "callerrors", "CALLERRORs by direction and error code "
                                     "(out includes the gateway's own)", labels=["direction",
                                                                                "code"])
        for direction, table in (("in", stats.errors_in), ("out", stats.errors_out)):
            for code, n in list(table.items()):
                errors.add_metric([direction, code], n)
        yield errors

        timeouts = CounterMetricFamily(P + "call_timeouts", "CALLs not answered within "
                                       "call_timeout, by who sent them", labels=["origin"])
        timeouts.add_metric(["charge_point"], stats.timeouts_in)
        timeouts.add_metric(["central_system"], stats.timeouts_out)
        yield timeouts

        yield _histogram(P + "round_trip_seconds",
                         "CALL to its answer: origin charge_point = a charge point CALL until "
                         "the answer is sent to it; central_system = a CALL sent to a charge "
                         "point (MQTT command, API or gateway) until its answer arrives",
                         "origin", {"charge_point": stats.rtt_cp, "central_system": stats.rtt_cs})

        limits = CounterMetricFamily(P + "limit_hits", "times a limit refused or cut something",
                                     labels=["limit"])
        for name in ("queue_full", "write_backlog", "outbox_full"):
            limits.add_metric([name], stats.limits.get(name, 0))
        for name, n in list(stats.limits.items()):
            if name not in ("queue_full", "write_backlog", "outbox_full"):
                limits.add_metric([name], n)
        yield limits

        yield GaugeMetricFamily(P + "queued_calls", "CALLs waiting behind an outstanding one, "
                                "all charge points", value=queued)
        yield GaugeMetricFamily(P + "queued_calls_max", "the longest queue of one charge point",
                                value=longest)
        pending = GaugeMetricFamily(P + "pending_calls", "CALLs awaiting their answer",
                                    labels=["origin"])
        pending.add_metric(["charge_point"], pending_in)
        pending.add_metric(["central_system"], pending_out)
        yield pending

        link = gateway.link
        yield GaugeMetricFamily(P + "mqtt_connected", "1 while the MQTT link is up",
                                value=int(bool(link and link.connected)))
        yield GaugeMetricFamily(P + "mqtt_in_flight", "QoS 1/2 packets awaiting their ack",
                                value=link.in_flight if link else 0)
        yield GaugeMetricFamily(P + "mqtt_in_flight_max", "the in-flight window",
                                value=link.window if link else 0)
        yield GaugeMetricFamily(P + "mqtt_backlog", "packets waiting for room in the window",
                                value=link.backlog if link else 0)
        yield GaugeMetricFamily(P + "mqtt_reads_paused", "1 while charge point sockets are not "
                                "read (MQTT backlog or outage)",
                                value=int(bool(link and link.blocked)))
        if gateway.central is not None:
            yield GaugeMetricFamily(P + "outbox_messages", "messages on disk not yet "
                                    "acknowledged by the broker (central mode)",
                                    value=gateway.central.outbox.count)


class Metrics:
    """A registry of its own per gateway (several gateways share a test process)."""

    def __init__(self, gateway: Gateway) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(GatewayCollector(gateway))
        ProcessCollector(registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)

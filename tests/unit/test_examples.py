"""The examples stay true: the Node-RED flow only uses topics the gateway has."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ocpp_mqtt.modes.central.state import ConnectorState

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONNECTOR_FIELDS = set(ConnectorState(1).to_json()) | {"energy_kwh", "session_energy_kwh"}

PUBLISHED = [  # what the gateway publishes (default prefix), as regular expressions
    r"ocpp/state/[^/+#]+/\d+/(?P<field>\w+)",
    r"ocpp/transactions/(\+|[^/#]+)",
    r"ocpp/cmd/[^/+#]+/result",
]
SUBSCRIBED = [r"ocpp/set/[^/+#]+(/\d+)?/(charging|current_limit|power_limit|available|unlock|"
              r"reset|charging_enabled)", r"ocpp/cmd/[^/+#]+"]


def test_node_red_flow_uses_real_topics_and_is_wired() -> None:
    nodes = json.loads((EXAMPLES / "node-red" / "flow.json").read_text())
    ids = {node["id"] for node in nodes}
    brokers = {node["id"] for node in nodes if node["type"] == "mqtt-broker"}
    checked = 0
    for node in nodes:
        for outputs in node.get("wires", []):
            assert set(outputs) <= ids, node["id"]
        if node["type"] not in ("mqtt in", "mqtt out"):
            continue
        assert node["broker"] in brokers
        patterns = PUBLISHED if node["type"] == "mqtt in" else SUBSCRIBED
        match = next((m for p in patterns if (m := re.fullmatch(p, node["topic"]))), None)
        assert match is not None, f"{node['name']}: {node['topic']} is not a gateway topic"
        if "field" in match.groupdict():
            assert match["field"] in CONNECTOR_FIELDS, node["topic"]
        checked += 1
    assert checked >= 6

"""README "What appears in Home Assistant": each row of the two entity tables against the
discovery configs the gateway publishes (platform, category, device class, state class, unit,
state and command topics). A renamed entity, a moved topic or a new unit fails here."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ocpp_mqtt.northbound.ha_discovery import Discovery
from tests.readme_examples import section

from .test_ha_discovery import GATEWAY_STATUS, entities, multi_16, settings, single_16

TEXT = section("What appears in Home Assistant")


def _rows(title: str) -> list[list[str]]:
    table = TEXT[TEXT.index(title):].split("\n\n")[1]
    return [[cell.strip() for cell in line.strip().removeprefix("|").removesuffix("|").split("|")]
            for line in table.splitlines()[2:]]


def _by_name(configs: list[Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for config in configs:
        for entity in entities(config.payload).values():
            found.setdefault(entity["name"], entity)
    return found


def _check(row: list[str], entity: dict[str, Any], base: str, setter: str) -> list[str]:
    _name, platform, classes, state, command = row
    problems = []
    kind, _, category = platform.partition(" ")
    if entity["platform"] != kind:
        problems.append(f"platform {entity['platform']}, README {kind}")
    if entity.get("entity_category") != (category.strip("()") or None):
        problems.append(f"category {entity.get('entity_category')}, README {category}")
    # every `literal` of the class column is the device class or a state class
    for literal in re.findall(r"`([^`]+)`", classes):
        if literal not in (entity.get("device_class"), entity.get("state_class")) and \
                not literal.startswith("ha_current_"):
            problems.append(f"{literal!r} is neither device_class nor state_class")
    for unit in re.findall(r"(?:^|, | / )(kWh|W|A|V|%|°C|s)(?:$|,| )", classes):
        if entity.get("unit_of_measurement") != unit:
            problems.append(f"unit {entity.get('unit_of_measurement')}, README {unit}")
    states = [f"{base}/{field}" for field in re.findall(r"`([^`]+)`", state)]
    if entity.get("state_topic") not in (states or [None]):
        problems.append(f"state topic {entity.get('state_topic')}, README {states}")
    commands = [f"{setter}/{field}" for field in re.findall(r"`([^`]+)`", command)[:1]]
    if entity.get("command_topic") not in (commands or [None]):
        problems.append(f"command topic {entity.get('command_topic')}, README {commands}")
    return problems


@pytest.mark.parametrize("layout", ["single", "multi"])
def test_entity_tables_match_the_discovery_configs(layout: str) -> None:
    cp = single_16() if layout == "single" else multi_16()
    discovery = Discovery(settings(), GATEWAY_STATUS)
    configs = discovery.device_configs(cp)
    cp_entities = _by_name(configs[:1])
    connector_entities = _by_name(configs[1:2] if layout == "multi" else configs[:1])
    base = f"ocpp/state/{cp.cid_level}"
    setter = f"ocpp/set/{cp.cid_level}"
    problems = []
    for row in _rows("Charge point entities"):
        for name in row[0].split(", "):
            if "(multi-outlet only)" in name:
                name = name.replace(" (multi-outlet only)", "")
                if layout == "single":
                    assert name not in cp_entities or name in connector_entities
                    continue
            assert name in cp_entities, f"{name}: no such charge point entity ({layout})"
            problems += [f"{name}: {p}" for p in _check(row, cp_entities[name], base, setter)]
    documented = set()
    for row in _rows("Connector entities"):
        name = row[0].replace(" (1.6 only)", "")
        documented.add(name)
        assert name in connector_entities, f"{name}: no such connector entity ({layout})"
        problems += [f"{name}: {p}" for p in _check(
            [name, *row[1:]], connector_entities[name], f"{base}/1", f"{setter}/1")]
    if layout == "single":  # one device: the charge point's and the connector's entities
        assert set(connector_entities) <= documented | set(cp_entities)
    else:
        assert set(connector_entities) == documented
    assert not problems, "\n".join(problems)

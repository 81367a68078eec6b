"""TopicPlan: topics read back (which charge point is this message about?) and wildcards."""

from __future__ import annotations

import pytest

from ocpp_mqtt.config import ConfigError, load_settings
from ocpp_mqtt.modes.topics import TopicPlan


def plan(**values: str) -> TopicPlan:
    return TopicPlan(load_settings(None, **values))


def test_wildcards_only_for_whole_levels() -> None:
    assert plan().wildcard("dnstream_topic") == "ocpp/cs/+"
    assert plan().wildcard("held_topic") == "ocpp/held/+"
    assert plan().wildcard("gateway_status_topic") == "ocpp/gateway/+/status"
    assert plan(dnstream_topic="cs/cp-${cid}").wildcard("dnstream_topic") is None
    assert plan().action_wildcard() is None
    p = plan(dnstream_action_topic="cs/${cid}/call/${action}")
    assert p.action_wildcard() == "ocpp/cs/+/call/+"
    assert plan(dnstream_action_topic="cs/x${cid}/${action}").action_wildcard() is None


def test_levels_read_back() -> None:
    p = plan(dnstream_action_topic="cs/${cid}/call/${action}")
    assert p.cid_level("dnstream_topic", "ocpp/cs/CP%2F1") == "CP%2F1"
    assert p.cid_level("dnstream_topic", "ocpp/cs/CP/Ack") is None
    assert p.cid_level("gateway_status_topic", "ocpp/gateway/gw-1/status") == "gw-1"
    assert p.action_target("ocpp/cs/CP1/call/Reset") == ("CP1", "Reset")
    assert p.action_target("ocpp/cs/CP1/call/") is None
    assert p.action_target("ocpp/cs/CP1/other/Reset") is None
    flat = plan(dnstream_action_topic="cs/${cid}/${action}", ack_topic="ack/${cid}")
    assert flat.action_target("ocpp/cs/CP1/Reset") == ("CP1", "Reset")


def test_held_topic_needs_cid_as_a_whole_level() -> None:
    with pytest.raises(ConfigError, match="held_topic"):
        load_settings(None, held_topic="held-${cid}")
    with pytest.raises(ConfigError, match="held_topic falls under dnstream_topic"):
        load_settings(None, held_topic="cs/${cid}", dnstream_topic="cs/${cid}/x")


def test_shared_group_is_one_level() -> None:
    with pytest.raises(ConfigError, match="shared_group"):
        load_settings(None, shared_group="a/b")

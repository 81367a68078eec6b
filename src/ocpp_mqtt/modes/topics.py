"""The EMQX-profile topics of a gateway: per charge point, and read back from a topic.

Templates are compiled once from the settings; a charge point's topics are rendered once per
connection. Topics whose template holds `${cid}` as a whole level can also be read back (which
charge point is this presence message or command about?)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from ..northbound.emqx import Template

NAMES = ("upstream_topic", "upstream_reply_topic", "upstream_error_topic", "dnstream_topic",
         "ack_topic", "presence_topic", "events_topic", "dnstream_action_topic", "held_topic",
         "gateway_status_topic")


@dataclass(slots=True)
class Topics:
    """The topics of one charge point, computed once per connection."""

    upstream: str | Template  # a Template when it has per-message placeholders
    overrides: dict[str, str | Template]
    reply: str | Template
    error: str | Template
    dnstream: str
    action_prefix: str  # per-Action CALL topics: this prefix + the Action ("" when off)
    ack: str
    presence: str
    connected: str
    disconnected: str


class TopicPlan:
    def __init__(self, settings: Settings) -> None:
        prefix = settings.prefix
        self.templates = {name: Template(prefix, getattr(settings, name)) for name in NAMES}
        self.overrides = {action: Template(prefix, topic)
                          for action, topic in settings.upstream_topic_override_mapping.items()}
        self.action_topics = bool(settings.dnstream_action_topic)

    def for_cp(self, cid: str) -> Topics:
        t = self.templates

        def per_cp(template: Template) -> str | Template:
            return template if template.dynamic else template.render(cid=cid)

        return Topics(
            upstream=per_cp(t["upstream_topic"]),
            overrides={a: per_cp(tpl) for a, tpl in self.overrides.items()},
            reply=per_cp(t["upstream_reply_topic"]),
            error=per_cp(t["upstream_error_topic"]),
            dnstream=t["dnstream_topic"].render(cid=cid),
            action_prefix=(t["dnstream_action_topic"].render(cid=cid, action="")
                           if self.action_topics else ""),
            ack=t["ack_topic"].render(cid=cid),
            presence=t["presence_topic"].render(cid=cid),
            connected=t["events_topic"].render(cid=cid, event="connected"),
            disconnected=t["events_topic"].render(cid=cid, event="disconnected"),
        )

    def render(self, name: str, cid: str) -> str:
        return self.templates[name].render(cid=cid)

    def wildcard(self, name: str) -> str | None:
        """The subscription filter for topic `name` of every charge point, when it has one."""
        parts = self.templates[name].parts
        return parts[0] + "+" + parts[2] if len(parts) == 3 and _whole(parts) else None

    def action_wildcard(self) -> str | None:
        """The subscription filter for the per-Action CALL topics of every charge point."""
        if not self.action_topics:
            return None
        parts = self.templates["dnstream_action_topic"].parts
        return parts[0] + "+" + parts[2] + "+" if _whole(parts[:3]) else None

    def action_target(self, topic: str) -> tuple[str, str] | None:
        """(escaped charge point level, escaped Action) of a per-Action CALL topic."""
        if not self.action_topics:
            return None
        head, _, action = topic.rpartition("/")
        parts = self.templates["dnstream_action_topic"].parts
        level = self.cid_level_in([*parts[:2], parts[2][:-1]], head)
        return (level, action) if level is not None and action else None

    def cid_level(self, name: str, topic: str) -> str | None:
        """The (escaped) charge point level of `topic` if it is a topic `name`, else None.
        Also reads the gateway level of `gateway_status_topic`."""
        return self.cid_level_in(self.templates[name].parts, topic)

    @staticmethod
    def cid_level_in(parts: list[str], topic: str) -> str | None:
        if len(parts) != 3 or not topic.startswith(parts[0]) or not topic.endswith(parts[2]):
            return None
        level = topic[len(parts[0]):len(topic) - len(parts[2])]
        return level if level and "/" not in level else None


def _whole(parts: list[str]) -> bool:
    """Whether the placeholder between parts[0] and parts[2] fills a whole topic level."""
    return parts[0][-1:] in ("", "/") and parts[2][:1] in ("", "/")

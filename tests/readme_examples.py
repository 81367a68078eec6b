"""The README's examples, read out of README.md so that tests compare them with what the
gateway really does: a renamed key, a new type or a dropped field fails the suite."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

README_PATH = Path(__file__).resolve().parents[1] / "README.md"
README = README_PATH.read_text()
FENCE = re.compile(r"^ *```([a-z]*)\n(.*?)^ *```", re.MULTILINE | re.DOTALL)


def section(heading: str) -> str:
    """The text under a Markdown heading (given without its #s) up to the next heading of the
    same or a higher level; `# comments` in code blocks are no headings."""
    match = re.search(rf"^(#+) {re.escape(heading)}\n", README, re.MULTILINE)
    assert match is not None, f"README.md has no heading {heading!r}"
    level = len(match.group(1))
    offset, fenced = match.end(), False
    for line in README[match.end():].splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(rf"#{{1,{level}}} ", line):
            return README[match.end():offset]
        offset += len(line)
    return README[match.end():]


def blocks(heading: str, lang: str | None = None) -> list[str]:
    """The fenced code blocks of a section (of one language: "json", "sh", "" ...)."""
    return [m.group(2) for m in FENCE.finditer(section(heading))
            if lang is None or m.group(1) == lang]


def block_after(heading: str, marker: str, lang: str | None = "json") -> str:
    """The first code block of a section (of that language) that holds or follows the text
    `marker`."""
    text = section(heading)
    start = text.index(marker)
    for m in FENCE.finditer(text):
        if m.end() > start and (lang is None or m.group(1) == lang):
            return m.group(2)
    raise AssertionError(f"no {lang} block after {marker!r} under {heading!r}")


def json_objects(block: str) -> list[dict[str, Any]]:
    """The JSON objects of a block: one object spread over the block, or one per line.
    A trailing `, ...` (an object shown in part) is dropped; see `partial`."""
    text = re.sub(r",\s*\.\.\.\s*}", "}", block)
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return [orjson.loads(line) for line in text.splitlines() if line.strip()]
    assert isinstance(value, dict), block
    return [value]


def partial(block: str) -> bool:
    """Whether the block shows an object in part (`, ...}`)."""
    return re.search(r",\s*\.\.\.\s*}", block) is not None


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shape(value: dict[str, Any]) -> dict[str, str]:
    """Key -> JSON type: what a user who copies an example relies on."""
    return {key: json_type(item) for key, item in value.items()}


def same_shape(example: dict[str, Any], actual: dict[str, Any], *, subset: bool = False,
               nullable: frozenset[str] = frozenset()) -> list[str]:
    """The differences between an example and a real message, as readable lines: missing or
    extra keys, other types. `nullable` keys may be null on one side only; `subset`: the
    example shows some of the keys (`...`)."""
    problems: list[str] = []
    for key, kind in shape(example).items():
        if key not in actual:
            problems.append(f"{key!r}: in the README, not in the message")
        elif (other := json_type(actual[key])) != kind and key not in nullable \
                and {kind, other} != {"integer", "number"}:
            problems.append(f"{key!r}: README shows {kind}, the gateway sends {other}")
    if not subset:
        problems += [f"{key!r}: sent by the gateway, not in the README example"
                     for key in actual if key not in example]
    return problems


def assert_same_shape(example: dict[str, Any], actual: dict[str, Any], **kwargs: Any) -> None:
    """Fail with both messages and every difference (`same_shape`'s options)."""
    problems = same_shape(example, actual, **kwargs)
    assert not problems, (f"README example and the gateway differ:\n  README:  {example}\n"
                          f"  gateway: {actual}\n  " + "\n  ".join(problems))

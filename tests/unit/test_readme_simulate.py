"""README "Simulator": its sample summary table is what `simulate` prints for those figures,
column for column, and `--json` has the keys the README names."""

from __future__ import annotations

import re
from typing import Any

from ocpp_mqtt.simulate.output import table
from tests.readme_examples import section

KEYS = ("charge_points", "boots", "transactions_started", "transactions_ended",
        "messages_sent", "messages_answered", "callerrors_received", "timeouts",
        "calls_received", "reconnects", "latency_p50_ms", "latency_p99_ms")
NONE: dict[str, Any] = {"connect_errors": {}, "callerror_codes": {}, "callerrors_sent": 0,
                        "authorize_rejected": 0, "boots_pending": 0, "boots_rejected": 0,
                        "dropped_messages": 0, "queued": 0}


def test_sample_table_is_the_printed_one() -> None:
    text = section("Simulator")
    sample = re.search(r"```\n( *version .*?)```", text, re.DOTALL)
    assert sample
    lines = sample.group(1).rstrip("\n").splitlines()
    summary: dict[str, Any] = {"versions": {}}
    for line in lines[2:-1]:
        name, *cells = line.split()
        row = {key: (float(cell) if "." in cell else int(cell))
               for key, cell in zip(KEYS, cells, strict=True)}
        if name == "all":
            summary["total"] = {**row, **NONE}
        else:
            summary["versions"][name] = row
    footer = re.fullmatch(r"([\d.]+) s, seed (\d+), (\S+)", lines[-1])
    assert footer
    elapsed, seed, url = footer.groups()
    summary.update(elapsed_s=float(elapsed), seed=int(seed), url=url)
    assert table(summary).splitlines() == lines


def test_json_keys_named_in_the_readme_exist() -> None:
    text = section("Simulator")
    named = re.search(r"`--json` prints the same figures \(and more: (.*?)\)", text, re.DOTALL)
    assert named
    keys = re.findall(r"`(\w+)`", named.group(1))
    assert keys
    from ocpp_mqtt.simulate.stats import VersionStats

    assert set(keys) <= set(VersionStats().summary()), keys


def test_flag_defaults_are_the_parsers() -> None:
    """The Simulator table's default column: a `literal` is what the flag defaults to, in the
    form a user would type it (a Span `60-600`, a list `1.6,2.0.1,2.1`)."""
    import argparse

    from ocpp_mqtt.simulate.options import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    text = section("Simulator")
    table = text[text.index("| flag | default | meaning |"):].split("\n\n")[0]
    wrong, checked = [], 0
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        flag = re.findall(r"`(--[\w-]+)`", cells[0])[-1]
        action = next(a for a in parser._actions if flag in a.option_strings)
        literal = re.fullmatch(r"`([^`]*)`", cells[1])
        if literal is None:  # off, none, random, no limit, the Boot answer's
            if action.default not in (None, False):
                wrong.append(f"{flag}: README {cells[1]!r}, default {action.default!r}")
            continue
        default = action.default
        shown = ",".join(default) if isinstance(default, list) else str(default)
        if hasattr(default, "low"):  # a Span
            shown = f"{default.low:g}-{default.high:g}" if default.low != default.high \
                else f"{default.low:g}"
        if isinstance(default, float):
            shown = f"{default:g}"
        if shown != literal.group(1):
            wrong.append(f"{flag}: README {literal.group(1)!r}, default {default!r}")
        checked += 1
    assert checked >= 20 and not wrong, wrong

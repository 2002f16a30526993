"""Output side of the admin commands: JSON, aligned tables, times and spans, and the text
forms of fault rules, keys, the clock and journal entries."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import click

from mockauth.faults.rules import EFFECTS, FORM_MATCHERS, FREQUENCY_KEYS


def print_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2))


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [list(header)] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: object) -> str:
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _stamp(epoch: float) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
    except (OverflowError, ValueError, OSError):
        return f"{epoch!r}"


def _span(seconds: float) -> str:
    """A signed, rounded duration: +1h 30m, -45s, +2d 3h."""
    if not math.isfinite(seconds):
        return str(seconds)
    sign = "-" if seconds < 0 else "+"
    rest = round(abs(seconds))
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + (" ".join(parts[:2]) or "0s")


def rule_summary(rule: Mapping[str, Any]) -> str:
    where, match, effect, how = rule_columns(rule)
    return " ".join(p for p in (where, effect, match, how) if p)


def rule_columns(rule: Mapping[str, Any]) -> tuple[str, str, str, str]:
    where = rule.get("path") or rule.get("endpoint") or "any"
    match = " ".join(f"{k}={rule[k]}" for k in FORM_MATCHERS if k in rule)
    params = EFFECTS.get(rule.get("effect", ""), frozenset())
    effect = " ".join(
        [str(rule.get("effect"))] + [f"{k}={_cell(rule[k])}" for k in sorted(params) if k in rule]
    )
    how = " ".join(f"{k}={rule[k]}" for k in sorted(FREQUENCY_KEYS) if k in rule)
    return where, match, effect, how


def print_keys(state: Mapping[str, Any]) -> None:
    retire_at: Mapping[str, float] = state.get("retire_at") or {}
    now = time.time()
    rows = []
    for kid in state.get("published", []):
        due = retire_at.get(kid)
        when = None
        if due is not None:
            left = _span(due - now)
            when = f"{_stamp(due)} ({'in ' + left[1:] if left[0] == '+' else left[1:] + ' ago'})"
        rows.append((kid, "active" if kid == state.get("active") else "published", when))
    print_table(("KID", "STATE", "RETIRES"), rows)


def print_clock(state: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(state)
        return
    offset = float(state.get("offset") or 0.0)
    frozen = state.get("frozen_at")
    click.echo(f"now:    {_stamp(state['now'])} ({state['now']})")
    if frozen is not None:
        click.echo(f"frozen: yes, at {_stamp(frozen)}")
    elif offset:
        click.echo(f"offset: {_span(offset)} ({offset:g} s from real time)")
    else:
        click.echo("offset: none (real time)")


def journal_row(entry: Mapping[str, Any]) -> tuple[object, ...]:
    moment = entry.get("time")
    stamp = time.strftime("%H:%M:%S", time.gmtime(moment)) if moment is not None else None
    status = entry.get("status")
    return (
        entry.get("seq"),
        stamp,
        entry.get("method"),
        entry.get("path"),
        "closed" if status is None else status,
        entry.get("client_id"),
        entry.get("grant_type"),
        entry.get("fault"),
        f"{entry.get('duration_ms', 0):.1f}",
    )

"""FaultEngine: the ordered fault rules of a tenant, kept in its store, and the decision
which rule fires for a request.

Rules are consulted in the order they were added; the first one that fires applies and the
rules after it do not see the request. Counters live in the store and change in one
transaction per decision, so a rule with ``times = 1`` fires once across every worker, and
a rule with a ``seed`` draws the same numbers for its n-th request whichever worker answers
it (each draw is seeded by the rule's seed and its count).
"""

from __future__ import annotations

import contextlib
import math
import random
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from mockauth.errors import ConfigConflictError
from mockauth.faults.rules import Decision, FaultRule, parse_rule
from mockauth.tenant.journal import RequestSummary
from mockauth.tenant.memory import memory_store
from mockauth.tenant.rows import FaultRow
from mockauth.tenant.store import Store


class FaultEngine:
    """A tenant's fault rules and the per-request decision.

    ``live`` is read on every request without touching the store: while it is False no rule
    can fire and the fast path answers. ``now`` is the wall clock that times ``expires_in``.
    """

    def __init__(
        self,
        rules: Iterable[FaultRule | Mapping[str, Any]] = (),
        *,
        store: Store | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._store = store or memory_store()
        self._now = now
        self._parsed: dict[str, tuple[dict[str, Any], FaultRule]] = {}
        self._rules: list[FaultRule] = []
        self._live_until = -math.inf
        self.needs_form = False
        self.reload()
        if rules:
            self.add(*rules)

    @property
    def live(self) -> bool:
        """True while some rule can still fire."""
        return self._now() < self._live_until

    def reload(self) -> None:
        """Read the rules again (another worker changed them)."""
        rows = self._store.faults()
        self._rules = [self._rule(row) for row in rows]
        now = self._now()
        active = [
            (row, rule)
            for row, rule in zip(rows, self._rules, strict=True)
            if not _spent(row, rule, now)
        ]
        ends = [math.inf if row.deadline is None else row.deadline for row, _ in active]
        self._live_until = max(ends, default=-math.inf)
        self.needs_form = any(rule.match.needs_form for _, rule in active)

    def add(self, *rules: FaultRule | Mapping[str, Any]) -> list[FaultRule]:
        """Add rules (parsed from mappings if need be): all of them, or none on any error.

        Rules without an id get ``fault-N``; rules that draw random numbers without a seed
        get a fresh one, shown by ``describe()`` so a run can be replayed.
        """
        parsed = [r if isinstance(r, FaultRule) else parse_rule(r) for r in rules]

        def change(rows: list[FaultRow]) -> tuple[list[FaultRow], bool, list[FaultRule]]:
            taken = {row.id for row in rows}
            named = [r.id for r in parsed if r.id]
            for rule_id in named:
                if rule_id in taken or named.count(rule_id) > 1:
                    raise ConfigConflictError("fault", "id", rule_id, "a fault with this id exists")
            taken.update(named)  # generated ids must not take a name given later in the batch
            done = [_complete(rule, taken) for rule in parsed]
            now = self._now()
            added = [
                FaultRow(
                    rule.id,
                    rule.to_dict(),
                    deadline=None
                    if rule.frequency.expires_in is None
                    else now + rule.frequency.expires_in,
                )
                for rule in done
            ]
            return [*rows, *added], True, done

        done = self._store.update_faults(change)
        self.reload()
        return done

    def remove(self, rule_id: str) -> FaultRule:
        """Delete one rule by id; KeyError if there is none."""

        def change(rows: list[FaultRow]) -> tuple[list[FaultRow], bool, FaultRow]:
            for i, row in enumerate(rows):
                if row.id == rule_id:
                    return [*rows[:i], *rows[i + 1 :]], True, row
            raise KeyError(rule_id)

        row = self._store.update_faults(change)
        self.reload()
        return self._rule(row)

    def clear(self) -> int:
        """Delete every rule; return how many there were."""
        count = self._store.update_faults(lambda rows: ([], True, len(rows)))
        self.reload()
        return count

    def load(self, rules: Iterable[FaultRule]) -> None:
        """Replace every rule, counters reset (``Tenant.reset`` loads the config's rules)."""
        self.clear()
        self.add(*rules)

    def rules(self) -> list[FaultRule]:
        """The rules, in the order they are consulted."""
        return [self._rule(row) for row in self._store.faults()]

    def describe(self, rule_id: str | None = None) -> list[dict[str, Any]]:
        """Rules as JSON-ready dicts with ``seen``, ``fired`` and ``state`` (active,
        exhausted, expired); only the one with ``rule_id`` if given (KeyError if absent)."""
        now = self._now()
        rows = [r for r in self._store.faults() if rule_id is None or r.id == rule_id]
        if rule_id is not None and not rows:
            raise KeyError(rule_id)
        out = []
        for row in rows:
            rule = self._rule(row)
            described = rule.to_dict()
            described["seen"] = row.seen
            described["fired"] = row.fired
            described["state"] = _spent(row, rule, now) or "active"
            out.append(described)
        return out

    @contextlib.contextmanager
    def injected(self, *rules: FaultRule | Mapping[str, Any]) -> Iterator[list[FaultRule]]:
        """Add rules for the duration of a ``with`` block, then remove them."""
        added = self.add(*rules)
        try:
            yield added
        finally:
            for rule in added:
                with contextlib.suppress(KeyError):
                    self.remove(rule.id)

    def decide(self, request: RequestSummary) -> Decision | None:
        """The rule that fires for this request, if any; counts and draws in the store."""
        now = self._now()

        Outcome = tuple[Decision | None, bool]

        def change(rows: list[FaultRow]) -> tuple[list[FaultRow], bool, Outcome]:
            out = list(rows)
            for i, row in enumerate(rows):
                rule = self._rule(row)
                if _spent(row, rule, now) or not rule.match.matches(request):
                    continue
                row, decision = _consider(row, rule)
                out[i] = row
                if decision is not None:
                    moved = _spent(row, rule, now) is not None  # it just fired its last
                    return out, moved, (decision, moved)
            return out, False, (None, False)

        decision, moved = self._store.update_faults(change)
        if moved:
            self.reload()
        return decision

    def refund(self, decision: Decision) -> None:
        """Take back a firing whose effect could not apply, so ``times`` counts real ones."""

        def change(rows: list[FaultRow]) -> tuple[list[FaultRow], bool, None]:
            out = [replace(r, fired=r.fired - 1) if r.id == decision.rule.id else r for r in rows]
            was_spent = any(_spent(r, self._rule(r), self._now()) for r in rows)
            return out, was_spent, None

        self._store.update_faults(change)
        self.reload()

    def _rule(self, row: FaultRow) -> FaultRule:
        cached = self._parsed.get(row.id)
        if cached is not None and cached[0] == row.rule:
            return cached[1]
        rule = parse_rule(row.rule, source="store")
        self._parsed[row.id] = (row.rule, rule)
        return rule


def _spent(row: FaultRow, rule: FaultRule, now: float) -> str | None:
    """Why a rule can no longer fire ("exhausted", "expired"), or None."""
    times = rule.frequency.times
    if times is not None and row.fired >= times:
        return "exhausted"
    if row.deadline is not None and now >= row.deadline:
        return "expired"
    return None


def _consider(row: FaultRow, rule: FaultRule) -> tuple[FaultRow, Decision | None]:
    """Count a matching request; fire on every ``every``-th, with ``probability``."""
    freq = rule.frequency
    seen = row.seen + 1
    row = replace(row, seen=seen)
    if seen % freq.every:
        return row, None
    rng = random.Random(f"{freq.seed}:{seen}")  # the n-th request draws alike in any worker
    if freq.probability < 1.0 and rng.random() >= freq.probability:
        return row, None
    row = replace(row, fired=row.fired + 1)
    delay = rule.effect.delay
    if delay is None:
        return row, Decision(rule)
    low, high = delay
    return row, Decision(rule, low if low == high else rng.uniform(low, high))


def _complete(rule: FaultRule, taken: set[str]) -> FaultRule:
    if not rule.id:
        n = 1
        while f"fault-{n}" in taken:
            n += 1
        rule = replace(rule, id=f"fault-{n}")
    taken.add(rule.id)
    if rule.uses_random and rule.frequency.seed is None:
        seed = secrets.randbits(32)
        rule = replace(rule, frequency=replace(rule.frequency, seed=seed))
    return rule

"""FaultEngine: an ordered, thread-safe set of fault rules and the per-request decision.

Rules are consulted in the order they were added; the first one that fires applies and the
rules after it do not see the request. Counters and random draws happen under one lock, so
a rule set is safe to share between the server's event loop and test threads, and a rule
with a ``seed`` fires on the same requests every run.
"""

from __future__ import annotations

import contextlib
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from mockauth.errors import ConfigError
from mockauth.faults.rules import Decision, FaultRule, RequestFacts, parse_rule


class _Slot:
    """A rule with its counters, random generator and deadline."""

    __slots__ = ("deadline", "fired", "rng", "rule", "seen")

    def __init__(self, rule: FaultRule, now: float) -> None:
        self.rule = rule
        self.seen = 0
        self.fired = 0
        self.rng = random.Random(rule.frequency.seed)
        expires = rule.frequency.expires_in
        self.deadline = None if expires is None else now + expires

    def spent(self, now: float) -> str | None:
        """Why the rule can no longer fire ("exhausted", "expired"), or None."""
        times = self.rule.frequency.times
        if times is not None and self.fired >= times:
            return "exhausted"
        if self.deadline is not None and now >= self.deadline:
            return "expired"
        return None

    def consider(self) -> Decision | None:
        freq = self.rule.frequency
        self.seen += 1
        if self.seen % freq.every:
            return None
        if freq.probability < 1.0 and self.rng.random() >= freq.probability:
            return None
        self.fired += 1
        delay = self.rule.effect.delay
        if delay is None:
            return Decision(self.rule)
        low, high = delay
        return Decision(self.rule, low if low == high else self.rng.uniform(low, high))


class FaultEngine:
    """A thread-safe, ordered set of fault rules and the per-request decision.

    ``live`` is a plain attribute read without the lock: the request path checks it first
    and costs nothing more while no rule can fire. ``monotonic`` times ``expires_in``.
    """

    def __init__(
        self,
        rules: Iterable[FaultRule | Mapping[str, Any]] = (),
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._slots: list[_Slot] = []
        self._counter = 0
        self.live = False
        self.needs_form = False
        self.add(*rules)

    def add(self, *rules: FaultRule | Mapping[str, Any]) -> list[FaultRule]:
        """Add rules (parsed from mappings if need be): all of them, or none on any error.

        Rules without an id get ``fault-N``; rules that draw random numbers without a seed
        get a fresh one, shown by ``describe()`` so a run can be replayed.
        """
        parsed = [r if isinstance(r, FaultRule) else parse_rule(r) for r in rules]
        with self._lock:
            taken = {slot.rule.id for slot in self._slots}
            named = [r.id for r in parsed if r.id]
            for rule_id in named:
                if rule_id in taken or named.count(rule_id) > 1:
                    raise ConfigError("fault", "id", rule_id, "a fault with this id exists")
            taken.update(named)  # generated ids must not take a name given later in the batch
            done = [self._complete(rule, taken) for rule in parsed]
            now = self._monotonic()
            self._slots.extend(_Slot(rule, now) for rule in done)
            self._update()
        return done

    def remove(self, rule_id: str) -> FaultRule:
        """Delete one rule by id; KeyError if there is none."""
        with self._lock:
            for i, slot in enumerate(self._slots):
                if slot.rule.id == rule_id:
                    del self._slots[i]
                    self._update()
                    return slot.rule
        raise KeyError(rule_id)

    def clear(self) -> int:
        """Delete every rule; return how many there were."""
        with self._lock:
            count = len(self._slots)
            self._slots = []
            self._update()
        return count

    def load(self, rules: Iterable[FaultRule]) -> None:
        """Replace every rule, counters reset (``Tenant.reset`` loads the config's rules)."""
        with self._lock:
            self._slots = []
        self.add(*rules)

    def rules(self) -> list[FaultRule]:
        """The rules, in the order they are consulted."""
        with self._lock:
            return [slot.rule for slot in self._slots]

    def describe(self, rule_id: str | None = None) -> list[dict[str, Any]]:
        """Rules as JSON-ready dicts with ``seen``, ``fired`` and ``state`` (active,
        exhausted, expired); only the one with ``rule_id`` if given (KeyError if absent)."""
        now = self._monotonic()
        with self._lock:
            slots = [s for s in self._slots if rule_id is None or s.rule.id == rule_id]
            out = [_status(slot, now) for slot in slots]
        if rule_id is not None and not out:
            raise KeyError(rule_id)
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

    def decide(self, request: RequestFacts) -> Decision | None:
        """The rule that fires for this request, if any; counts and draws under the lock."""
        now = self._monotonic()
        with self._lock:
            for slot in self._slots:
                if slot.spent(now) or not slot.rule.match.matches(request):
                    continue
                decision = slot.consider()
                if slot.spent(now):
                    self._update()
                if decision is not None:
                    return decision
            if self.live and all(slot.spent(now) for slot in self._slots):
                self._update()
        return None

    def refund(self, decision: Decision) -> None:
        """Take back a firing whose effect could not apply, so ``times`` counts real ones."""
        with self._lock:
            for slot in self._slots:
                if slot.rule is decision.rule:
                    slot.fired -= 1
                    self._update()
                    return

    def _complete(self, rule: FaultRule, taken: set[str]) -> FaultRule:
        if not rule.id:
            self._counter += 1
            while f"fault-{self._counter}" in taken:
                self._counter += 1
            rule = replace(rule, id=f"fault-{self._counter}")
        taken.add(rule.id)
        if rule.uses_random and rule.frequency.seed is None:
            seed = secrets.randbits(32)
            rule = replace(rule, frequency=replace(rule.frequency, seed=seed))
        return rule

    def _update(self) -> None:
        now = self._monotonic()
        active = [s for s in self._slots if not s.spent(now)]
        self.needs_form = any(s.rule.match.needs_form for s in active)
        self.live = bool(active)


def _status(slot: _Slot, now: float) -> dict[str, Any]:
    out = slot.rule.to_dict()
    out["seen"] = slot.seen
    out["fired"] = slot.fired
    out["state"] = slot.spent(now) or "active"
    return out

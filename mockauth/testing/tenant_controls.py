"""The parts of :class:`~mockauth.testing.helpers.MockAuth` that steer the tenant under test:
fault rules (each an :class:`InjectedFault`), signing keys, the request journal, reset."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from mockauth.faults.engine import FaultEngine
from mockauth.faults.rules import ENDPOINTS, FaultRule
from mockauth.tenant.journal import JournalEntry
from mockauth.tenant.tenant import Tenant


class InjectedFault:
    """A fault rule added by :meth:`MockAuth.fault`; as a context manager it is removed
    when the block ends. ``fired`` and ``seen`` count requests (kept after removal)."""

    def __init__(self, engine: FaultEngine, rule: FaultRule) -> None:
        self.rule = rule
        self._engine = engine
        self._final: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.rule.id

    def status(self) -> dict[str, Any]:
        """The rule as JSON with ``seen``, ``fired`` and ``state`` (active, exhausted,
        expired, removed). KeyError if a reset removed it."""
        if self._final is not None:
            return dict(self._final)
        return self._engine.describe(self.id)[0]

    @property
    def fired(self) -> int:
        return int(self.status()["fired"])

    @property
    def seen(self) -> int:
        return int(self.status()["seen"])

    def remove(self) -> None:
        """Remove the rule now (again: no effect)."""
        if self._final is not None:
            return
        with contextlib.suppress(KeyError):
            self._final = {**self._engine.describe(self.id)[0], "state": "removed"}
            self._engine.remove(self.id)
        if self._final is None:  # already gone (reset or clear_faults)
            self._final = {**self.rule.to_dict(), "seen": 0, "fired": 0, "state": "removed"}

    def __enter__(self) -> InjectedFault:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"InjectedFault({self.rule.to_dict()!r})"


class TenantControls:
    """Fault rules, keys, the journal and reset, on ``self.tenant`` (MockAuth's base)."""

    tenant: Tenant

    # --- faults ---

    def fault(
        self, rule: Mapping[str, Any] | FaultRule | None = None, /, **fields: Any
    ) -> InjectedFault:
        """Add a fault rule (a mapping, keyword fields, or both merged) and return it.

        Use it in a ``with`` block to remove it at the end of the block; otherwise it lasts
        until the test ends. A rule that does not parse raises ConfigError, naming the field.
        """
        if isinstance(rule, FaultRule):
            if fields:
                raise TypeError("give a FaultRule or fields, not both")
            spec: FaultRule | Mapping[str, Any] = rule
        else:
            spec = {**(rule or {}), **fields}
        (added,) = self.tenant.faults.add(spec)
        return InjectedFault(self.tenant.faults, added)

    def clear_faults(self) -> int:
        """Remove every fault rule; return how many there were."""
        return self.tenant.faults.clear()

    # --- keys ---

    @property
    def active_kid(self) -> str:
        return self.tenant.keys.active_kid

    @property
    def published_kids(self) -> tuple[str, ...]:
        return self.tenant.keys.published_kids

    def rotate_keys(self, *, overlap: float | None = None) -> str:
        """A new signing key; the old ones stay in the JWKS until retired (or ``overlap``
        seconds). Returns the new kid."""
        return self.tenant.rotate_keys(overlap=overlap)

    def retire_key(self, kid: str) -> None:
        """Remove a key from the JWKS (KeyError if not published; the active key cannot be)."""
        self.tenant.keys.retire(kid)

    # --- journal ---

    def journal(
        self,
        *,
        endpoint: str | None = None,
        path: str | None = None,
        client_id: str | None = None,
        status: int | None = None,
        fault: str | InjectedFault | None = None,
        since: int | None = None,
        limit: int | None = None,
    ) -> list[JournalEntry]:
        """Requests the server received, oldest first. ``endpoint``: token, jwks or
        discovery; ``fault``: a rule id or an InjectedFault; ``limit``: the most recent."""
        wanted: tuple[str, ...] | None = None
        if endpoint is not None:
            wanted = ENDPOINTS.get(endpoint) if endpoint != "any" else None
            if not wanted:
                raise ValueError(f"endpoint must be one of token, jwks, discovery: {endpoint!r}")
        entries = self.tenant.journal.entries(
            path=path,
            client_id=client_id,
            status=status,
            fault=fault.id if isinstance(fault, InjectedFault) else fault,
            since=since,
        )
        if wanted is not None:
            entries = [e for e in entries if e.path in wanted]
        if limit is not None:
            entries = entries[len(entries) - limit :] if limit > 0 else []
        return entries

    def token_requests(self, client_id: str | None = None) -> list[JournalEntry]:
        """Requests to the token endpoint (optionally by one client), oldest first."""
        return self.journal(endpoint="token", client_id=client_id)

    def clear_journal(self) -> int:
        """Forget every journal entry; return how many there were."""
        return self.tenant.journal.clear()

    def reset(self) -> None:
        """Back to the start-up state now (the fixture does this around every test)."""
        self.tenant.reset()

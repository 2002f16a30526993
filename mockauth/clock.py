"""The tenant's clock: real time, optionally offset or frozen, for iat/exp."""

from __future__ import annotations

import time
from collections.abc import Callable


class Clock:
    """Seconds since the epoch as the server sees them; tests move it instead of sleeping."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._offset = 0.0
        self._frozen: float | None = None

    def now(self) -> int:
        """Current whole seconds, after any offset or freeze."""
        if self._frozen is not None:
            return int(self._frozen)
        return int(self._source() + self._offset)

    def __call__(self) -> int:
        return self.now()

    @property
    def offset(self) -> float:
        return self._offset

    @property
    def frozen_at(self) -> float | None:
        return self._frozen

    def set_offset(self, seconds: float) -> None:
        """Run the clock ``seconds`` ahead of real time (negative: behind)."""
        self._frozen = None
        self._offset = float(seconds)

    def freeze(self, at: float | None = None) -> None:
        """Stop the clock at ``at`` (default: now)."""
        self._frozen = float(self.now() if at is None else at)

    def advance(self, seconds: float) -> None:
        """Move time by ``seconds`` (negative: back); a frozen clock stays frozen."""
        if self._frozen is not None:
            self._frozen += seconds
        else:
            self._offset += seconds

    def reset(self) -> None:
        """Back to real time."""
        self._offset = 0.0
        self._frozen = None

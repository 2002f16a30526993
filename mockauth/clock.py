"""The tenant's clock: real time, optionally offset or frozen, for iat/exp.

A tenant shares its clock with every worker through the store: it listens to changes made
here (``on_change``) and loads those made elsewhere (``load``).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Clock:
    """Seconds since the epoch as the server sees them; tests move it instead of sleeping."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._offset = 0.0
        self._frozen: float | None = None
        # Called with (offset, frozen_at) after every change made through this object.
        self.on_change: Callable[[float, float | None], None] | None = None

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
        self._changed()

    def freeze(self, at: float | None = None) -> None:
        """Stop the clock at ``at`` (default: now)."""
        self._frozen = float(self.now() if at is None else at)
        self._changed()

    def advance(self, seconds: float) -> None:
        """Move time by ``seconds`` (negative: back); a frozen clock stays frozen."""
        if self._frozen is not None:
            self._frozen += seconds
        else:
            self._offset += seconds
        self._changed()

    def reset(self) -> None:
        """Back to real time."""
        self._offset = 0.0
        self._frozen = None
        self._changed()

    def load(self, offset: float, frozen_at: float | None) -> None:
        """Take a state set elsewhere (another worker), without calling ``on_change``."""
        self._offset = float(offset)
        self._frozen = None if frozen_at is None else float(frozen_at)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self._offset, self._frozen)

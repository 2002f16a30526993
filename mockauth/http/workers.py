"""The worker processes' supervisor: uvicorn's, but a worker that dies is no secret.

uvicorn notes a dead worker at INFO ("Child process [pid] died"), which the default log level
hides: requests in flight failed and nothing said so. This says it at ERROR, naming the
worker, how it ended, and the worker started in its place.
"""

from __future__ import annotations

import logging
import signal
from typing import Any

from uvicorn.supervisors import Multiprocess

# The supervisor's own logger: its lines keep uvicorn's format and obey --log-level.
log = logging.getLogger("uvicorn.error")


class Supervisor(Multiprocess):
    """uvicorn's ``Multiprocess``, logging each worker it replaces at ERROR."""

    def keep_subprocess_alive(self) -> None:
        before = list(self.processes)
        running = [p.process.is_alive() for p in before]
        super().keep_subprocess_alive()
        for old, was_running, new in zip(before, running, self.processes, strict=False):
            if new is not old:
                log.error(
                    "mockauth: worker process [%s] %s; started worker process [%s] in its place",
                    old.pid,
                    _how_it_ended(old, was_running),
                    new.pid,
                )


def _how_it_ended(process: Any, was_running: bool) -> str:
    if was_running:  # uvicorn found it alive but not answering, and killed it
        return "did not answer its health check and was killed"
    code = process.exitcode
    if code is None:
        return "died"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"died (killed by {name})"
    return f"died (exit status {code})"

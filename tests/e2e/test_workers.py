"""`mockauth serve --workers 2` when a worker dies: said at the default log level, and
replaced."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from tests.e2e.test_server import (
    LINUX_PROC,
    WAIT,
    assert_still_serving,
    serving,
    worker_pids,
)


def _wait_for(what: str, check: Callable[[], object]) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


@LINUX_PROC
def test_a_worker_killed_is_logged_at_error_and_replaced(tmp_path: Path) -> None:
    with serving("--port", "0", "--workers", "2", cwd=tmp_path) as proc:
        url = proc.url()
        workers = worker_pids(proc.proc.pid)
        assert len(workers) == 2
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)

        def said() -> list[str]:
            return [line for line in proc.stderr if f"[{victim}]" in line]

        _wait_for("a line naming the dead worker", said)
        (line,) = said()
        # At the default level (warning) uvicorn's own "Child process [pid] died" is hidden.
        assert line.startswith("ERROR:"), line
        assert "died (killed by SIGKILL)" in line, line
        _wait_for("two workers again", lambda: len(worker_pids(proc.proc.pid)) == 2)
        (replacement,) = set(worker_pids(proc.proc.pid)) - set(workers)
        assert f"started worker process [{replacement}] in its place" in line
        for _ in range(4):  # both workers answer (the kernel spreads the connections)
            assert_still_serving(url)
        assert proc.stop() == 0

"""`mockauth serve --workers 2` when a worker dies or hangs: said at the default log level,
and the worker replaced."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

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
@pytest.mark.parametrize(
    ("sig", "said"),
    [
        (signal.SIGKILL, "died (killed by SIGKILL)"),
        (signal.SIGSTOP, "stopped answering and was killed"),  # uvicorn's health check
    ],
    ids=["killed", "hung"],
)
def test_a_worker_lost_is_logged_at_error_and_replaced(
    tmp_path: Path, sig: signal.Signals, said: str
) -> None:
    with serving("--port", "0", "--workers", "2", cwd=tmp_path) as proc:
        url = proc.url()
        workers = worker_pids(proc.proc.pid)
        assert len(workers) == 2
        victim = workers[0]
        os.kill(victim, sig)

        def lines() -> list[str]:
            return [line for line in proc.stderr if f"[{victim}]" in line]

        _wait_for("a line naming the lost worker", lines)
        (line,) = lines()
        # At the default level (warning) uvicorn's own "Child process [pid] died" is hidden.
        assert line.startswith("ERROR:"), line
        assert f"worker process [{victim}] {said}" in line, line
        _wait_for("two workers again", lambda: len(worker_pids(proc.proc.pid)) == 2)
        (replacement,) = set(worker_pids(proc.proc.pid)) - set(workers)
        assert f"started worker process [{replacement}] in its place" in line
        for _ in range(4):  # both workers answer (the kernel spreads the connections)
            assert_still_serving(url)
        assert proc.stop() == 0

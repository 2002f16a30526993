"""The HTTP fuzzer (fuzz/fuzz_http.py), a short bounded pass: 3,000 requests against
`mockauth serve --workers 2`, no 5xx, no hang, nothing logged at ERROR."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

FUZZER = Path(__file__).resolve().parents[2] / "fuzz" / "fuzz_http.py"


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_short_fuzz_pass_finds_nothing(tls: bool) -> None:
    args = ["--requests", "3000", "--seed", "1", *(["--tls"] if tls else [])]
    done = subprocess.run(
        [sys.executable, str(FUZZER), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "failures: 0; ERROR/traceback lines in the server log: 0" in done.stdout, report

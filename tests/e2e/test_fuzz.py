"""The HTTP fuzzer (fuzz/fuzz_http.py), a short bounded pass: 3,000 requests against
`mockauth serve --workers 2`, no 5xx, no hang, nothing logged at ERROR."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mockauth import paths
from mockauth.http.app import create_app
from mockauth.tenant.tenant import Tenant

FUZZER = Path(__file__).resolve().parents[2] / "fuzz" / "fuzz_http.py"


def _admin_origin_is_a_500() -> bool:
    """Issue 12, item 2 (an unparseable Origin on the admin API), fixed on another branch:
    until it is merged here the fuzzer finds it, so the pass is expected to fail."""
    app = create_app(Tenant(issuer="http://testserver"))
    with TestClient(app, raise_server_exceptions=False) as client:
        return client.get(paths.ADMIN_KEYS, headers={"Origin": "http://["}).status_code == 500


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
    if done.returncode and _admin_origin_is_a_500():
        found = [line for line in done.stdout.splitlines() if line.startswith("  ")]
        failures = [line for line in found if " for (" in line or "hang" in line]
        if failures and all("Origin: http://[" in line for line in failures):
            pytest.xfail("issue 12 item 2 (admin Origin 500) is not fixed on this branch")
    assert done.returncode == 0, report
    assert "failures: 0; ERROR/traceback lines in the server log: 0" in done.stdout, report

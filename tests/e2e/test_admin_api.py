"""The admin API over real sockets: refusals keep the connection, and the OpenAPI document
agrees with the server (schemathesis against a ServerThread)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockauth import paths
from mockauth.admin.openapi import openapi_document
from mockauth.http.server import ServerThread
from tests.e2e.test_server import server_errors_logged

WAIT = 30.0  # a bound on waits; nothing asserts on timing


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread() as running:
        yield running


def exchange(
    conn: http.client.HTTPConnection, path: str, headers: dict[str, str]
) -> tuple[int, Any]:
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    return response.status, json.loads(response.read())


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://["},
        {"Origin": "http://[zz]:1"},
        {"Host": "["},
        {"Host": "[::1:8400"},
    ],
)
def test_an_unreadable_origin_or_host_is_refused_and_the_connection_kept(
    server: ServerThread, headers: dict[str, str]
) -> None:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=WAIT)
    with contextlib.closing(conn), server_errors_logged() as errors:
        status, body = exchange(conn, paths.ADMIN_KEYS, headers)
        assert status == 403, body
        assert body["error"] == "access_denied"
        sock = conn.sock
        status, body = exchange(conn, paths.ADMIN_KEYS, {})  # the same keep-alive connection
        assert status == 200, body
        assert conn.sock is sock
    assert errors == []


# --- the server conforms to its OpenAPI document -------------------------------------------

FUZZ = Path(__file__).parents[2] / "fuzz" / "fuzz_admin.py"
# Examples per operation and phase: enough to walk every operation's constraints in CI in
# about half a minute; `python fuzz/fuzz_admin.py --examples 2000` runs many more on demand.
EXAMPLES = int(os.environ.get("MOCKAUTH_SCHEMATHESIS_EXAMPLES", "10"))


def test_the_admin_api_conforms_to_its_openapi_document() -> None:
    # schemathesis with every check: no 5xx; status codes, content types, headers and bodies
    # as documented; a body the document admits never gets a 400 and one it refuses never a
    # 2xx; a 405 lists the path's methods; no Authorization needed on loopback sans secret.
    with ServerThread() as running, server_errors_logged() as errors:
        command = [sys.executable, str(FUZZ), "--url", running.url, "--seed", "1"]
        done = subprocess.run(
            [*command, "--examples", str(EXAMPLES)], capture_output=True, text=True, timeout=600
        )
    print(done.stdout)
    assert done.returncode == 0, done.stdout[-30_000:] + done.stderr[-5_000:]
    counts = re.search(r"fuzz_admin: operations=(\d+) cases=(\d+) failures=(\d+)", done.stdout)
    assert counts is not None, done.stdout
    operations, cases, failures = map(int, counts.groups())
    documented = sum(len(ops) for ops in openapi_document()["paths"].values())
    assert (operations, failures) == (documented - 1, 0)  # all but GET of the document itself
    assert cases > 1000
    assert errors == []

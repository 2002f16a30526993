"""The admin API over real sockets: refusals keep the connection, and the OpenAPI document
agrees with the server (schemathesis against a ServerThread)."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from mockauth import paths
from mockauth.http.server import ServerThread

WAIT = 30.0  # a bound on waits; nothing asserts on timing


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread() as running:
        yield running


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def server_errors_logged() -> Iterator[list[logging.LogRecord]]:
    """ERROR records from our handler of last resort and from uvicorn's ASGI error path."""
    handler = _Errors()
    loggers = [logging.getLogger(name) for name in ("mockauth", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


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

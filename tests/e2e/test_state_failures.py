"""A state dir that fails under a running server (issue 12, item 5): code exchange, refresh,
revocation and key rotation answer an error that names what failed and how to fix it, write
nothing, and work again once the state dir does; a FIFO named like a key file is refused at
start instead of hanging it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest

from mockauth import paths
from mockauth.errors import KeyStoreError
from mockauth.http.server import ServerThread
from mockauth.tokens.keys import KeyStore
from tests.e2e.test_login import Browser
from tests.e2e.test_server import FORM, http_request

WRITABLE = "make it writable, or start with another --keys-dir"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    with ServerThread(keys_dir=tmp_path / "state") as running:
        yield running


@contextmanager
def store_read_only(server: ServerThread) -> Iterator[None]:
    """The shared store.db as SQLite answers a read-only file (the tests run as root, whom
    file modes do not stop)."""
    shared = server.tenant.store._shared  # type: ignore[attr-defined]
    shared.execute("PRAGMA query_only = ON")
    try:
        yield
    finally:
        shared.execute("PRAGMA query_only = OFF")


def assert_names_the_store(status: int, body: dict[str, str], where: Path) -> None:
    assert status == 500, body
    assert body["error"] == "server_error"
    assert str(where) in body["error_description"], body
    assert WRITABLE in body["error_description"], body


def test_code_exchange_and_refresh_name_the_store_and_spend_nothing(
    server: ServerThread, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    browser = Browser(server.url)
    code = browser.authorize()["code"]
    with store_read_only(server):
        status, body = browser.redeem(code)
    assert_names_the_store(status, body, tmp_path / "state")
    assert any(WRITABLE in r.getMessage() for r in caplog.records)
    assert not any(r.exc_info for r in caplog.records)  # a line that says why, no traceback
    status, tokens = browser.redeem(code)  # the failed exchange spent nothing
    assert status == 200, tokens
    with store_read_only(server):
        status, body = browser.refresh(tokens["refresh_token"])
    assert_names_the_store(status, body, tmp_path / "state")
    status, again = browser.refresh(tokens["refresh_token"])
    assert status == 200, again


def test_revocation_names_the_store_and_revokes_nothing(
    server: ServerThread, tmp_path: Path
) -> None:
    browser = Browser(server.url)
    tokens = browser.login()
    form = {
        "token": tokens["refresh_token"],
        "client_id": browser.app.client_id,
        "client_secret": browser.app.client_secret,
    }

    def revoke() -> tuple[int, bytes]:
        status, _, body = http_request(
            server.url, "POST", paths.REVOKE, body=urlencode(form), headers={"Content-Type": FORM}
        )
        return status, body

    with store_read_only(server):
        status, raw = revoke()
    assert_names_the_store(status, json.loads(raw), tmp_path / "state")
    assert browser.refresh(tokens["refresh_token"])[0] == 200  # still live
    assert revoke()[0] == 200


def test_rotation_with_a_damaged_key_set_names_the_file_and_the_fix(
    server: ServerThread, tmp_path: Path
) -> None:
    keyset = tmp_path / "state" / "keyset.json"
    good = keyset.read_bytes()
    before = http_request(server.url, "GET", "/.well-known/jwks", headers={})[2]
    keyset.write_text("{not json")
    status, _, raw = http_request(server.url, "POST", paths.ADMIN_KEYS + "/rotate", headers={})
    body = json.loads(raw)
    assert status == 500 and body["error"] == "server_error", body
    assert str(keyset) in body["error_description"]
    assert "delete keyset.json to rebuild it" in body["error_description"]
    assert http_request(server.url, "GET", "/.well-known/jwks", headers={})[2] == before
    keyset.write_bytes(good)
    assert http_request(server.url, "POST", paths.ADMIN_KEYS + "/rotate", headers={})[0] == 200


@pytest.mark.parametrize("name", ["0123abcd.pem", "seal.key", "keyset.json"])
def test_a_fifo_named_like_a_state_file_is_refused_at_start_not_a_hang(
    tmp_path: Path, name: str
) -> None:
    state = tmp_path / "state"
    if name != "0123abcd.pem":
        KeyStore(state)  # a key, so that the FIFO is what start-up reads next
        (state / name).unlink(missing_ok=True)
    else:
        state.mkdir()
    os.mkfifo(state / name)
    done = subprocess.run(
        [sys.executable, "-m", "mockauth", "serve", "--port", "0", "--keys-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert str(state / name) in done.stderr and "Traceback" not in done.stderr
    if name != "seal.key":  # the key store's own reads refuse it too
        with pytest.raises(KeyStoreError, match=r"not a regular file|not a readable"):
            KeyStore(state)

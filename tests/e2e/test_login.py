"""User login over real sockets: a browser's redirects followed by hand, tokens checked with
PyJWT's PyJWKClient against the served JWKS, and codes and refresh tokens shared by
`mockauth serve --workers 2`."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest

from mockauth.http.server import ServerThread
from mockauth.tenant.config import DEFAULT_CONFIG_TOML, default_config
from tests.e2e.test_server import (
    API,
    FORM,
    LINUX_PROC,
    http_request,
    pause,
    serving,
    verify,
    wait_for_state,
    worker_pids,
)

CONFIG = default_config()
WEB = next(a for a in CONFIG.apps if a.type == "regular")
SPA = next(a for a in CONFIG.apps if a.type == "spa")
USER = CONFIG.users[0]
CALLBACK = WEB.redirect_uris[0]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread() as running:
        yield running


class Browser:
    """What a web app's back end and its user's browser do, one request per connection."""

    def __init__(self, url: str, app: Any = WEB) -> None:
        self.url = url
        self.app = app
        self.verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(self.verifier.encode()).digest()
        self.challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def authorize(self, **extra: str) -> dict[str, str]:
        query = {
            "client_id": self.app.client_id,
            "redirect_uri": self.app.redirect_uris[0],
            "response_type": "code",
            "scope": "openid profile email offline",
            "state": "s-1",
            "nonce": "n-1",
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
            **extra,
        }
        status, headers, body = http_request(
            self.url, "GET", "/oauth2/auth?" + urlencode(query), headers={}
        )
        assert status == 302, body
        location = urlsplit(headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == query["redirect_uri"]
        return {k: v[0] for k, v in parse_qs(location.query).items()}

    def post_token(self, **form: str) -> tuple[int, dict[str, Any]]:
        if self.app.client_secret:
            form["client_secret"] = self.app.client_secret
        form["client_id"] = self.app.client_id
        status, _, body = http_request(
            self.url, "POST", "/oauth2/token", body=urlencode(form), headers={"Content-Type": FORM}
        )
        answer: dict[str, Any] = json.loads(body)
        return status, answer

    def redeem(self, code: str) -> tuple[int, dict[str, Any]]:
        return self.post_token(
            grant_type="authorization_code",
            code=code,
            redirect_uri=self.app.redirect_uris[0],
            code_verifier=self.verifier,
        )

    def refresh(self, token: str) -> tuple[int, dict[str, Any]]:
        return self.post_token(grant_type="refresh_token", refresh_token=token)

    def login(self, **extra: str) -> dict[str, Any]:
        status, body = self.redeem(self.authorize(**extra)["code"])
        assert status == 200, body
        return body


def test_a_login_over_http_gives_tokens_the_served_jwks_verifies(server: ServerThread) -> None:
    browser = Browser(server.url)
    got = browser.authorize(audience=API)
    assert got["state"] == "s-1"
    status, body = browser.redeem(got["code"])
    assert status == 200, body
    jwks_url = server.url + "/.well-known/jwks"
    access = verify(body["access_token"], jwks_url, issuer=server.url, audience=API)
    assert access["sub"] == USER.id and access["azp"] == WEB.client_id
    id_claims = verify(body["id_token"], jwks_url, issuer=server.url, audience=WEB.client_id)
    assert id_claims["nonce"] == "n-1" and id_claims["sub"] == USER.id
    status, _, profile = http_request(
        server.url,
        "GET",
        "/oauth2/v2/user_profile",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert status == 200 and json.loads(profile)["sub"] == id_claims["sub"]
    status, again = browser.refresh(body["refresh_token"])
    assert status == 200 and again["access_token"] == body["access_token"]
    assert browser.refresh(body["refresh_token"])[0] == 200  # another tab, within the grace
    server.tenant.clock.advance(CONFIG.lifetimes.refresh_grace + 1)
    try:
        assert browser.refresh(body["refresh_token"])[1]["error"] == "invalid_grant"
    finally:
        server.tenant.clock.reset()


def test_a_spa_logs_in_over_http_with_pkce_alone(server: ServerThread) -> None:
    browser = Browser(server.url, SPA)
    body = browser.login()
    claims = verify(
        body["id_token"],
        server.url + "/.well-known/jwks.json",
        issuer=server.url,
        audience=SPA.client_id,
    )
    assert claims["azp"] == SPA.client_id
    other = Browser(server.url, SPA)  # another verifier: the code is useless without its own
    status, answer = other.redeem(browser.authorize()["code"])
    assert (status, answer["error"]) == (400, "invalid_grant")


def test_discovery_names_the_user_login_endpoints_that_answer(server: ServerThread) -> None:
    status, _, raw = http_request(
        server.url, "GET", "/.well-known/openid-configuration", headers={}
    )
    doc = json.loads(raw)
    assert {"authorization_code", "refresh_token"} <= set(doc["grant_types_supported"])
    status, headers, _ = http_request(
        server.url,
        "GET",
        urlsplit(doc["end_session_endpoint"]).path + "?redirect=" + WEB.logout_uris[0],
        headers={},
    )
    assert (status, headers["location"]) == (302, WEB.logout_uris[0])


@LINUX_PROC
def test_two_workers_share_codes_and_refresh_tokens_and_spend_each_once(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    with serving(
        "--port", "0", "--keys-dir", str(keys_dir), "--workers", "2", cwd=tmp_path
    ) as proc:
        url = proc.url()
        first, second = worker_pids(proc.proc.pid)
        browser = Browser(url)

        def alone(pid: int) -> Any:
            """Stop the other worker so that ``pid`` answers the next request."""
            other = second if pid == first else first
            pause(other)
            wait_for_state(other, "T")
            return other

        def resume(pid: int) -> None:
            os.kill(pid, signal.SIGCONT)

        stopped = alone(first)
        try:
            code = browser.authorize()["code"]  # issued by the first worker
        finally:
            resume(stopped)
        stopped = alone(second)
        try:
            status, body = browser.redeem(code)  # redeemed at the second
            assert status == 200, body
        finally:
            resume(stopped)
        stopped = alone(first)
        try:
            status, rotated = browser.refresh(body["refresh_token"])  # rotated at the first
            assert status == 200, rotated
        finally:
            resume(stopped)
        stopped = alone(second)
        try:
            status, tab = browser.refresh(body["refresh_token"])  # the old one, in its grace
            assert status == 200, tab
            status, again = browser.refresh(rotated["refresh_token"])  # the new one: works
            assert status == 200, again
        finally:
            resume(stopped)
        stopped = alone(first)
        try:
            status, replay = browser.redeem(code)  # the code again, at the first worker
            assert (status, replay["error"]) == (400, "invalid_grant"), replay
            assert "already been used" in replay["error_description"]
        finally:
            resume(stopped)
        stopped = alone(second)
        try:  # the other worker knows: the code's descendants are revoked
            status, revoked = browser.refresh(again["refresh_token"])
            assert (status, revoked["error"]) == (400, "invalid_grant"), revoked
        finally:
            resume(stopped)
        assert proc.stop() == 0
    with sqlite3.connect(keys_dir / "store.db") as db:
        spent = db.execute("SELECT until FROM spent").fetchall()
        notes = db.execute("SELECT until FROM notes").fetchall()
        families = db.execute("SELECT revoked, until FROM families").fetchall()
    # The code and the access token its first use gave (revoked by the replay), the code's
    # note, and one family, revoked: each remembered until its real end.
    assert (len(spent), len(notes), [r for r, _ in families]) == (2, 1, [1])
    assert all(until > time.time() for (until,) in spent + notes)
    assert all(until > time.time() for _, until in families)


@LINUX_PROC
@pytest.mark.parametrize("how", ["flag", "env"])
def test_serve_login_page_reaches_every_worker(tmp_path: Path, how: str) -> None:
    args = ["--port", "0", "--keys-dir", str(tmp_path / "keys"), "--workers", "2"]
    env = {"MOCKAUTH_LOGIN_PAGE": "1"} if how == "env" else None
    with serving(
        *args, *(["--login-page"] if how == "flag" else []), cwd=tmp_path, env=env
    ) as proc:
        url = proc.url()
        lines = [proc.line()]
        while not lines[-1].strip().startswith("users:"):
            lines.append(proc.line())
        assert any("shows a page to pick the user" in line for line in lines)
        first, second = worker_pids(proc.proc.pid)
        for stopped in (first, second):  # each worker alone shows the page
            pause(stopped)
            try:
                wait_for_state(stopped, "T")
                query = urlencode(
                    {
                        "client_id": WEB.client_id,
                        "redirect_uri": CALLBACK,
                        "response_type": "code",
                    }
                )
                status, headers, body = http_request(
                    url, "GET", "/oauth2/auth?" + query, headers={}
                )
                assert status == 200, body
                assert headers["content-type"].startswith("text/html")
                assert b"login_hint=" + USER.id.encode() in body
            finally:
                os.kill(stopped, signal.SIGCONT)
        assert proc.stop() == 0


def test_no_login_page_wins_over_the_config(tmp_path: Path) -> None:
    config = tmp_path / "lp.toml"
    config.write_text("login_page = true\n" + DEFAULT_CONFIG_TOML)
    query = urlencode(
        {"client_id": WEB.client_id, "redirect_uri": CALLBACK, "response_type": "code"}
    )
    for flag, status in (("--login-page", 200), ("--no-login-page", 302)):
        args = ("--port", "0", "--keys-dir", str(tmp_path / "keys"), "--config", str(config))
        with serving(*args, flag, cwd=tmp_path) as proc:
            url = proc.url()
            assert http_request(url, "GET", "/oauth2/auth?" + query, headers={})[0] == status


@LINUX_PROC
def test_a_device_started_at_one_worker_is_approved_at_the_other(tmp_path: Path) -> None:
    tv = next(a for a in CONFIG.apps if a.type == "device")
    args = ("--port", "0", "--keys-dir", str(tmp_path / "keys"), "--workers", "2")
    with serving(*args, cwd=tmp_path) as proc:
        url = proc.url()
        first, second = 0, 1

        def at(worker: int, method: str, path: str, form: dict[str, str] | None = None) -> Any:
            # The workers as they are now: on a loaded machine uvicorn's supervisor may have
            # replaced one it found stopped for 5 s (its health check).
            other = worker_pids(proc.proc.pid)[1 - worker]
            pause(other)
            try:
                wait_for_state(other, "T")
                headers = {"Content-Type": FORM} if form is not None else {}
                body = urlencode(form) if form is not None else None
                return http_request(url, method, path, body=body, headers=headers)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(other, signal.SIGCONT)

        status, _, raw = at(first, "POST", "/oauth2/device/auth", {"client_id": tv.client_id})
        assert status == 200, raw
        started = json.loads(raw)
        grant = "urn:ietf:params:oauth:grant-type:device_code"
        form = {
            "grant_type": grant,
            "device_code": started["device_code"],
            "client_id": tv.client_id,
        }
        status, _, raw = at(second, "POST", "/oauth2/token", form)
        assert (status, json.loads(raw)["error"]) == (400, "authorization_pending")
        status, _, page = at(second, "GET", f"/device?user_code={started['user_code']}")
        assert status == 200 and b"connected" in page
        status, _, raw = at(first, "POST", "/oauth2/token", form)
        assert status == 200, raw
        token = json.loads(raw)["access_token"]
        signing_key = jwt.PyJWKClient(url + "/.well-known/jwks").get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token, signing_key.key, algorithms=["RS256"], issuer=url, options={"verify_aud": False}
        )
        assert (claims["sub"], claims["azp"]) == (USER.id, tv.client_id)
        assert proc.stop() == 0

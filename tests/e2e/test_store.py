"""The tenant store shared by the worker processes of `mockauth serve --workers 2`: each
change is made at one worker (the other stopped) and seen at the other."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest

from mockauth import paths
from mockauth.tenant.config import default_config
from tests.e2e.test_server import (
    API,
    CLIENT_ID,
    CLIENT_SECRET,
    LINUX_PROC,
    Serve,
    http_request,
    pause,
    serving,
    wait_for_state,
    worker_pids,
)

pytestmark = LINUX_PROC
WEB = default_config().apps[1]
NEW_ID, NEW_SECRET = "ab" * 16, "S" * 40
FORM = {
    "grant_type": "client_credentials",
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "audience": API,
}


class Workers:
    """A two-worker server where a test chooses which worker answers."""

    def __init__(self, proc: Serve) -> None:
        self.proc = proc
        self.url = proc.url()
        self.pids = worker_pids(proc.proc.pid)
        assert len(self.pids) == 2

    @contextlib.contextmanager
    def at(self, index: int) -> Iterator[None]:
        """Only worker ``index`` answers inside the block (the other is stopped)."""
        other = self.pids[1 - index]
        pause(other)
        wait_for_state(other, "T")
        try:
            yield
        finally:
            os.kill(other, signal.SIGCONT)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        raw = json.dumps(body) if body is not None else None
        status, _, data = http_request(self.url, method, path, body=raw, headers=headers)
        return status, json.loads(data) if data else None

    def token(self, form: dict[str, str] = FORM) -> tuple[int, Any]:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _, data = http_request(
            self.url, "POST", paths.TOKEN, body=urlencode(form), headers=headers
        )
        return status, json.loads(data) if data else None


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    args = ["--port", "0", "--keys-dir", str(tmp_path / "keys"), "--workers", "2"]
    with serving(*args, cwd=tmp_path) as proc:
        yield Workers(proc)


def test_a_fault_that_fires_once_fires_once_across_the_workers(workers: Workers) -> None:
    with workers.at(0):
        status, added = workers.call(
            "POST", paths.ADMIN_FAULTS, {"effect": "error", "status": 503, "times": 1}
        )
        assert status == 201, added
    with workers.at(1):
        assert workers.token()[0] == 503
    with workers.at(0):
        assert workers.token()[0] == 200  # spent at the other worker
        status, faults = workers.call("GET", paths.ADMIN_FAULTS)
        assert [(f["fired"], f["state"]) for f in faults["faults"]] == [(1, "exhausted")]


def test_the_journal_holds_every_workers_requests(workers: Workers) -> None:
    with workers.at(0):
        workers.call("DELETE", paths.ADMIN_JOURNAL)
        assert workers.token()[0] == 200
    with workers.at(1):
        assert workers.token({**FORM, "client_secret": "wrong"})[0] == 401
    with workers.at(0):
        entries = workers.call("GET", paths.ADMIN_JOURNAL)[1]["entries"]
    assert worker_pids(workers.proc.proc.pid) == workers.pids, workers.proc.stderr
    assert [(e["path"], e["status"]) for e in entries] == [(paths.TOKEN, 200), (paths.TOKEN, 401)]


def test_the_clock_and_a_runtime_app_reach_the_other_worker(workers: Workers) -> None:
    with workers.at(0):
        assert workers.call("PUT", paths.ADMIN_CLOCK, {"offset": 3600})[0] == 200
        app = {"name": "New", "client_id": NEW_ID, "client_secret": NEW_SECRET}
        app["apis"] = {"https://api.example.com": ["read:calendar"]}  # type: ignore[assignment]
        assert workers.call("POST", paths.ADMIN_APPS, app)[0] == 201
    with workers.at(1):
        status, body = workers.token({**FORM, "client_id": NEW_ID, "client_secret": NEW_SECRET})
        assert status == 200, body
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        clock = workers.call("GET", paths.ADMIN_CLOCK)[1]
    assert claims["azp"] == NEW_ID
    assert claims["iat"] == pytest.approx(clock["now"], abs=5)
    assert clock["offset"] == 3600


def test_a_user_added_at_one_worker_signs_in_at_the_other(workers: Workers) -> None:
    with workers.at(1):
        user = {"email": "new@example.com", "given_name": "New"}
        assert workers.call("POST", paths.ADMIN_USERS, user)[0] == 201
    with workers.at(0):
        query = {
            "response_type": "code",
            "client_id": WEB.client_id,
            "redirect_uri": WEB.redirect_uris[0],
            "scope": "openid",
            "login_hint": "new@example.com",
        }
        status, headers, _ = http_request(
            workers.url, "GET", paths.AUTHORIZE + "?" + urlencode(query), headers={}
        )
    assert status == 302 and "code=" in headers["location"], headers


def test_a_user_who_signs_up_at_one_worker_is_known_at_the_other(workers: Workers) -> None:
    request = {
        "response_type": "code",
        "client_id": WEB.client_id,
        "redirect_uri": WEB.redirect_uris[0],
        "scope": "openid",
        "prompt": "create",
        "is_create_org": "true",
    }
    form = {**request, "email": "grace@example.com", "given_name": "Grace", "org_name": "Navy"}
    with workers.at(1):  # the sign-up page's form, as a browser posts it
        status, headers, _ = http_request(
            workers.url,
            "POST",
            paths.SIGNUP,
            body=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert status == 302 and "code=" in headers["location"], headers
    code = headers["location"].split("code=", 1)[1].split("&", 1)[0]
    with workers.at(0):
        status, body = workers.token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": WEB.redirect_uris[0],
                "client_id": WEB.client_id,
                "client_secret": WEB.client_secret or "",
            }
        )
        assert status == 200, body
        claims = jwt.decode(body["id_token"], options={"verify_signature": False})
        assert claims["email"] == "grace@example.com"
        org_code = jwt.decode(body["access_token"], options={"verify_signature": False})["org_code"]
        status, users = workers.call("GET", paths.ADMIN_USERS)
    assert status == 200
    new = next(u for u in users["users"] if u["email"] == "grace@example.com")
    assert new["orgs"] == [org_code]

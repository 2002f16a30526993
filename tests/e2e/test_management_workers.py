"""Writes through the Management API change what tokens carry, across workers: with
`mockauth serve --workers 2`, the writes go to one worker and the refreshed token comes
from the other."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt

from mockauth.tenant.config import default_config
from tests.e2e.test_login import Browser
from tests.e2e.test_server import (
    FORM,
    LINUX_PROC,
    http_request,
    pause,
    serving,
    wait_for_state,
    worker_pids,
)

CONFIG = default_config()
M2M = CONFIG.apps[0]


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


class Kinde:
    """A back end calling the Management API with its M2M token, over plain HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url
        form = {
            "grant_type": "client_credentials",
            "client_id": M2M.client_id,
            "client_secret": M2M.client_secret,
            "audience": url + "/api",
        }
        status, _, body = http_request(
            url, "POST", "/oauth2/token", body=urlencode(form), headers={"Content-Type": FORM}
        )
        assert status == 200, body
        self.token = json.loads(body)["access_token"]

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body)
        status, _, answer = http_request(
            self.url, method, "/api/v1" + path, body=data, headers=headers
        )
        assert status in (200, 201), (path, answer)
        return json.loads(answer)


@contextmanager
def only(pid: int, pids: list[int]) -> Iterator[None]:
    """Stop every other worker, so ``pid`` answers the requests made meanwhile."""
    others = [p for p in pids if p != pid]
    for other in others:
        pause(other)
        wait_for_state(other, "T")
    try:
        yield
    finally:
        for other in others:
            os.kill(other, signal.SIGCONT)


@LINUX_PROC
def test_create_org_add_user_assign_role_then_refresh_at_the_other_worker(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    with serving("--port", "0", "--keys-dir", str(keys), "--workers", "2", cwd=tmp_path) as proc:
        url = proc.url()
        first, second = pids = worker_pids(proc.proc.pid)
        browser = Browser(url)
        at: Callable[[int], Any] = lambda pid: only(pid, pids)  # noqa: E731
        # Set-up, at either worker: a user, signed in with no organisation yet; a permission,
        # a role holding it, an organisation with the user in it, a flag.
        kinde = Kinde(url)
        user = kinde(
            "POST",
            "/user",
            {
                "profile": {"given_name": "Ada", "family_name": "Lovelace"},
                "identities": [{"type": "email", "details": {"email": "ada@example.com"}}],
            },
        )["id"]
        signed_in = browser.login(login_hint="ada@example.com")
        before = claims(signed_in["access_token"])
        assert before["sub"] == user and "org_code" not in before and "roles" not in before
        kinde("POST", "/permissions", {"key": "read:reports", "name": "Read reports"})
        perms = kinde("GET", "/permissions")["permissions"]
        perm_id = next(p["id"] for p in perms if p["key"] == "read:reports")
        role = kinde("POST", "/roles", {"key": "analyst", "name": "Analyst"})["role"]["id"]
        kinde("PATCH", f"/roles/{role}/permissions", {"permissions": [{"id": perm_id}]})
        org = kinde("POST", "/organization", {"name": "Acme"})["organization"]["code"]
        kinde("POST", f"/organizations/{org}/users", {"users": [{"id": user}]})
        flag = {"key": "beta", "name": "Beta", "type": "bool", "default_value": "false"}
        kinde("POST", "/feature_flags", flag)
        # The writes that matter at the first worker (kept short: uvicorn's supervisor
        # replaces a worker that stays stopped for seconds) ...
        with at(first):
            kinde("POST", f"/organizations/{org}/users/{user}/roles", {"role_id": role})
            kinde("PATCH", f"/organizations/{org}/feature_flags/beta?value=true")
            kinde("POST", f"/users/{user}/refresh_claims")
        # ... and the refresh at the second.
        with at(second):
            status, refreshed = browser.refresh(signed_in["refresh_token"])
        assert status == 200, refreshed
        access = claims(refreshed["access_token"])
        assert access["org_code"] == org and access["org_name"] == "Acme"
        assert access["roles"] == [{"id": role, "key": "analyst", "name": "Analyst"}]
        assert access["permissions"] == ["read:reports"]
        assert access["feature_flags"] == {"beta": {"t": "b", "v": True}}
        assert claims(refreshed["id_token"])["org_codes"] == [org]
        # And back: the role taken away at the second worker, refreshed at the first.
        with at(second):
            kinde("DELETE", f"/organizations/{org}/users/{user}/roles/{role}")
        with at(first):
            status, again = browser.refresh(refreshed["refresh_token"])
        assert status == 200, again
        assert "roles" not in claims(again["access_token"])
        assert claims(again["access_token"])["permissions"] == []
        assert proc.stop() == 0

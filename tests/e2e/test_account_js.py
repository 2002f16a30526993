"""Kinde's own browser utilities against mockauth's Account API over HTTPS: ``@kinde/js-utils``
(installed by .ci/deps with npm into .ci/node) run by Node, reading a
signed-in user's roles, permissions, feature flags and entitlements with ``forceApi``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from mockauth.http.server import ServerThread
from mockauth.issuance import login_app, login_tokens
from mockauth.tenant.config import parse_config
from tests.management.test_tokens import CONFIG  # the catalog the Account API tests use

from .test_management_js import ROOT

PACKAGE = ROOT / ".ci" / "node" / "node_modules" / "@kinde" / "js-utils"
SCRIPT = ROOT / "tests" / "e2e" / "node" / "account_api.cjs"
INSTALL = "npm install --prefix .ci/node @kinde/js-utils@0.32.1"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    config = parse_config(CONFIG.encode(), source="account.toml")
    with ServerThread(config, tls=True) as running:
        yield running


def run_js_utils(server: ServerThread, org_code: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not PACKAGE.is_dir():
        pytest.fail(f"needs Node and @kinde/js-utils: run `{INSTALL}` (as .ci/run does)")
    assert server.ca_file is not None
    tenant = server.tenant
    token = login_tokens(tenant, login_app(tenant, None), org_code=org_code)["access_token"]
    env = {
        **os.environ,
        "KINDE_JS_UTILS": str(PACKAGE),
        "MOCKAUTH_TOKEN": token,
        "NODE_EXTRA_CA_CERTS": str(server.ca_file),
    }
    done = subprocess.run(
        [node, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(done.stdout)
    return seen


def test_js_utils_reads_the_signed_in_users_access_from_the_account_api(
    server: ServerThread,
) -> None:
    seen = run_js_utils(server, "org_acme")
    role_id = server.tenant.config.catalog.roles[0].id
    assert seen["roles"] == [{"id": role_id, "key": "analyst", "name": "Analyst"}]
    assert seen["permissions"] == {
        "orgCode": "org_acme",
        "permissions": ["read:calendar", "read:reports"],
    }
    assert seen["granted"] == {
        "permissionKey": "read:reports",
        "orgCode": "org_acme",
        "isGranted": True,
    }
    assert seen["refused"]["isGranted"] is False
    # env -> org -> user: seats may be overridden only by an org, theme by the user too.
    assert (seen["seats"], seen["theme"]) == (9, "blue")
    assert seen["entitlements"] == {"orgCode": "org_acme", "plans": [], "entitlements": []}
    assert seen["has_role"] is True and seen["has_flag"] is True
    assert seen["missing"] == "API request failed with status 404"


def test_js_utils_sees_what_the_user_holds_in_another_org(server: ServerThread) -> None:
    seen = run_js_utils(server, "org_other")
    assert seen["roles"] == []
    assert seen["permissions"] == {
        "orgCode": "org_other",
        "permissions": ["read:calendar", "write:reports"],
    }
    assert seen["granted"]["isGranted"] is False and seen["refused"]["isGranted"] is True
    assert (seen["seats"], seen["theme"]) == (5, "blue")
    assert seen["has_role"] is False

"""Kinde's own JavaScript client against mockauth over HTTPS: ``@kinde/management-api-js``
(installed by .ci/run with npm into .ci/node) run by Node for users, organizations, roles
and feature flags."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockauth.http.server import ServerThread

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / ".ci" / "node" / "node_modules" / "@kinde" / "management-api-js"
SCRIPT = Path(__file__).parent / "node" / "management_api.cjs"
INSTALL = "npm install --prefix .ci/node @kinde/management-api-js@0.18.0"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread(tls=True) as running:
        yield running


def test_the_js_client_manages_users_orgs_roles_and_flags(server: ServerThread) -> None:
    node = shutil.which("node")
    if node is None or not PACKAGE.is_dir():
        pytest.fail(f"needs Node and @kinde/management-api-js: run `{INSTALL}` (as .ci/run does)")
    assert server.ca_file is not None
    app = server.tenant.config.apps[0]
    env = {
        **os.environ,
        "KINDE_MGMT_JS": str(PACKAGE),
        "NODE_EXTRA_CA_CERTS": str(server.ca_file),
        "MOCKAUTH_URL": server.url,
        "MOCKAUTH_CLIENT_ID": app.client_id,
        "MOCKAUTH_CLIENT_SECRET": app.client_secret or "",
    }
    done = subprocess.run(
        [node, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["users"] == ["jane@example.com"]
    assert seen["created"] is True and seen["fetched"] == "grace@example.com"
    assert seen["permissions_added"] == 1 and seen["role_permissions"] == ["sail"]
    assert seen["role"] == "Admirals"
    assert len(seen["users_added"]) == 1
    assert seen["member_roles"] == [["admiral"]] and seen["user_roles"] == ["admiral"]
    assert seen["env_flag"] == {"type": "int", "value": "5"}
    assert seen["org_flag"] == {"type": "int", "value": "7"}
    assert seen["missing"]["status"] == 404
    assert seen["missing"]["body"]["errors"]["code"] == "ROLE_NOT_FOUND"
    assert seen["left"] == 1
    # The client keeps its token while it is for <issuer>/api and unexpired: one token.
    tokens = [e for e in server.tenant.journal.entries(path="/oauth2/token")]
    assert len(tokens) == 1

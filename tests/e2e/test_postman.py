"""`mockauth postman`'s collection, run by newman against a live server: every request and
every Postman test passes, over HTTP and over HTTPS (newman trusting the local CA).

newman comes from npm, installed by .ci/run into .ci/node (gitignored); locally, run
`npm install --prefix .ci/node newman@6` once. Its absence fails these tests: they are the
proof that the exported collection works.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mockauth.cli import main
from mockauth.http.server import ServerThread
from mockauth.setup.postman import COLLECTION_FILE, ENVIRONMENT_FILE, MANAGEMENT_REQUESTS

NEWMAN = Path(__file__).resolve().parents[2] / ".ci" / "node" / "node_modules" / ".bin" / "newman"
INSTALL = "npm install --prefix .ci/node newman@6"


@pytest.fixture(scope="module")
def newman() -> str:
    if not NEWMAN.exists():
        pytest.fail(f"newman is not installed at {NEWMAN}: run `{INSTALL}` (as .ci/run does)")
    return str(NEWMAN)


@pytest.fixture(scope="module", params=[False, True], ids=["http", "https"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    keys = tmp_path_factory.mktemp("keys")
    with ServerThread(keys_dir=keys, tls=request.param) as running:
        yield running


def export(server: ServerThread, out: Path, *args: str) -> None:
    keys = server.tenant.keys.keys_dir
    assert keys is not None
    result = CliRunner().invoke(
        main,
        ["postman", "--url", server.url, "--keys-dir", str(keys), "--out", str(out), *args],
        env={"MOCKAUTH_URL": None, "MOCKAUTH_ADMIN_SECRET": None},
    )
    assert result.exit_code == 0, result.output


def run_newman(newman: str, server: ServerThread, out: Path) -> dict[str, Any]:
    report = out / "report.json"
    env = dict(os.environ)
    if server.ca_file is not None:
        env["NODE_EXTRA_CA_CERTS"] = str(server.ca_file)
    done = subprocess.run(
        [
            newman,
            "run",
            str(out / COLLECTION_FILE),
            "--environment",
            str(out / ENVIRONMENT_FILE),
            "--reporters",
            "cli,json",
            "--reporter-json-export",
            str(report),
            "--timeout-request",
            "10000",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    run: dict[str, Any] = json.loads(report.read_text())["run"]
    return run


@pytest.mark.parametrize(
    "args",
    [[], ["--scope", "read:calendar update:event"]],
    ids=["every-granted-scope", "some-scopes"],
)
def test_newman_passes_every_request_of_the_exported_collection(
    newman: str, server: ServerThread, tmp_path: Path, args: list[str]
) -> None:
    export(server, tmp_path, *args)
    run = run_newman(newman, server, tmp_path)
    assert run["failures"] == []
    stats = run["stats"]
    expected = 5 + (1 + len(MANAGEMENT_REQUESTS) if MANAGEMENT_REQUESTS else 0)
    assert stats["requests"] == {"total": expected, "pending": 0, "failed": 0}
    assert stats["assertions"]["failed"] == 0
    assert stats["assertions"]["total"] >= 2 * expected
    for execution in run["executions"]:
        assert execution["assertions"], execution["item"]["name"]  # each request is tested
        assert all("error" not in a for a in execution["assertions"])
    # The server saw the token request as Kinde's guide sends it: audience in the body.
    tokens = server.tenant.journal.entries(path="/oauth2/token")
    assert any(e.status == 200 and e.audiences for e in tokens)

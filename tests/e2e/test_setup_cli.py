"""Commands that ask a running server (a ServerThread here): `token` takes its issuer, `env`
prints what each SDK reads, `postman` writes the collection and environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner, Result

from mockauth.cli import main
from mockauth.http.server import ServerThread
from mockauth.setup.postman import COLLECTION_FILE, ENVIRONMENT_FILE
from mockauth.tenant.config import default_config
from mockauth.tokens.keys import KeyStore

CAL = "https://api.example.com"
CLEAN = dict.fromkeys(
    ["MOCKAUTH_URL", "MOCKAUTH_KEYS_DIR", "MOCKAUTH_ADMIN_SECRET", "MOCKAUTH_CONFIG"]
)
ISSUER = "https://acme.mockauth.test"  # a configured issuer: not the server's URL


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={**CLEAN, **(env or {})})


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="module")
def server(keys: Path) -> Iterator[ServerThread]:
    with ServerThread(default_config(), keys_dir=keys, issuer=ISSUER) as running:
        yield running


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(keys_dir=tmp_path_factory.mktemp("tls-keys"), tls=True) as running:
        yield running


# --- token ---


def test_token_takes_the_running_servers_issuer(server: ServerThread, keys: Path) -> None:
    result = run("token", "--keys-dir", str(keys), "--url", server.url, "--audience", CAL)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    token = result.stdout.strip()
    claims = jwt.decode(
        token,
        KeyStore(keys).public_key(jwt.get_unverified_header(token)["kid"]),  # type: ignore[arg-type]
        algorithms=["RS256"],
        audience=CAL,
        issuer=ISSUER,
    )
    assert claims["iss"] == ISSUER


def test_token_with_the_url_from_mockauth_port(server: ServerThread, keys: Path) -> None:
    port = server.url.rsplit(":", 1)[1]
    result = run("token", "--keys-dir", str(keys), "--audience", CAL, env={"MOCKAUTH_PORT": port})
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert claims["iss"] == ISSUER


def test_token_warns_when_the_server_signs_with_other_keys(
    server: ServerThread, tmp_path: Path
) -> None:
    result = run("token", "--keys-dir", str(tmp_path), "--url", server.url, "--audience", CAL)
    assert result.exit_code == 0, result.output
    assert f"the server at {server.url} does not publish the key" in result.stderr
    assert "pass the --keys-dir it runs on" in result.stderr


def test_token_over_tls_trusts_the_keys_dirs_ca(tls_server: ServerThread) -> None:
    keys = tls_server.tenant.keys.keys_dir
    assert keys is not None
    result = run("token", "--keys-dir", str(keys), "--url", tls_server.url, "--audience", CAL)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert claims["iss"] == tls_server.url


# --- env ---


def test_env_prints_the_nextjs_variables_of_the_running_server(server: ServerThread) -> None:
    result = run("env", "--sdk", "nextjs", "--url", server.url)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    web = next(a for a in default_config().apps if a.type == "regular")
    assert result.stdout.splitlines() == [
        f"KINDE_CLIENT_ID={web.client_id}",
        f"KINDE_CLIENT_SECRET={web.client_secret}",
        f"KINDE_ISSUER_URL={ISSUER}",
        "KINDE_SITE_URL=http://localhost:3000",
        "KINDE_POST_LOGOUT_REDIRECT_URL=http://localhost:3000",
        "KINDE_POST_LOGIN_REDIRECT_URL=http://localhost:3000",
    ]


def test_env_sees_apps_added_at_run_time(server: ServerThread) -> None:
    app = {"name": "Late", "type": "spa", "client_id": "c" * 32, "redirect_uris": ["http://x.test"]}
    server.tenant.put_app(app)
    try:
        result = run("env", "--sdk", "vite", "--url", server.url, "--client-id", "c" * 32)
        assert result.exit_code == 0, result.output
        assert f"VITE_KINDE_CLIENT_ID={'c' * 32}" in result.stdout
        assert "callback http://localhost:5173 is not in app" in result.stderr
    finally:
        server.tenant.remove_app("c" * 32)


def test_env_json_with_an_audience(server: ServerThread) -> None:
    args = ["--sdk", "python", "--audience", CAL, "--format", "json", "--url", server.url]
    result = run("env", *args)
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert (found["KINDE_HOST"], found["KINDE_AUDIENCE"]) == (ISSUER, CAL)


def test_env_m2m_over_http_warns_that_management_clients_need_https(
    server: ServerThread,
) -> None:
    result = run("env", "--sdk", "m2m", "--url", server.url)
    assert result.exit_code == 0, result.output
    assert "only speak https: start the server with `mockauth serve --tls`" in result.stderr


def test_env_over_tls_adds_the_ca_variables(tls_server: ServerThread) -> None:
    keys = tls_server.tenant.keys.keys_dir
    assert keys is not None
    result = run("env", "--sdk", "m2m", "--url", tls_server.url, "--keys-dir", str(keys))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    found = dict(line.split("=", 1) for line in result.stdout.splitlines())
    bundle = str((keys / "tls" / "bundle.pem").resolve())
    assert found["KINDE_DOMAIN"] == tls_server.url
    for name in ("NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        assert found[name] == bundle


def test_env_without_a_server_exits_1(tmp_path: Path) -> None:
    result = run("env", "--sdk", "nextjs", "--url", "http://127.0.0.1:1")
    assert result.exit_code == 1
    assert "cannot reach the mockauth server at http://127.0.0.1:1" in result.stderr


# --- postman ---


def test_postman_writes_the_collection_and_environment(
    server: ServerThread, tmp_path: Path
) -> None:
    result = run("postman", "--url", server.url, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    environment = json.loads((tmp_path / ENVIRONMENT_FILE).read_text())
    values = {v["key"]: v["value"] for v in environment["values"]}
    m2m = default_config().apps[0]
    assert values["KINDE_DOMAIN"] == ISSUER
    assert (values["M2M_CLIENT_ID"], values["M2M_CLIENT_SECRET"]) == (
        m2m.client_id,
        m2m.client_secret,
    )
    assert values["M2M_AUDIENCE"] == CAL  # its own API, not the Management API
    assert json.loads((tmp_path / COLLECTION_FILE).read_text())["item"]
    again = run("postman", "--url", server.url, "--out", str(tmp_path))
    assert again.exit_code == 2
    assert "exists; not overwritten (pass --force)" in again.stderr
    forced = run("postman", "--url", server.url, "--out", str(tmp_path), "--force")
    assert forced.exit_code == 0, forced.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--audience", "https://other.test"], "is not granted the audience"),
        (["--scope", "read:calendar fly"], "is not granted fly on https://api.example.com"),
        (["--client-id", "4c3f8a5e0b7d4e21a9f6c2d8e1b05f37"], "is a regular app"),
    ],
)
def test_postman_refuses_what_the_app_may_not_ask(
    server: ServerThread, tmp_path: Path, args: list[str], message: str
) -> None:
    result = run("postman", "--url", server.url, "--out", str(tmp_path), *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / COLLECTION_FILE).exists()

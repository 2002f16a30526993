"""The mockauth command (through click's CliRunner): token, jwks, decode, config errors, help."""

from __future__ import annotations

import base64
import json
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from click.testing import CliRunner, Result

from mockauth.cli import main
from mockauth.http import server
from mockauth.tenant.config import DEFAULT_CONFIG_TOML, default_config
from mockauth.tenant.tenant import Tenant
from mockauth.tokens.keys import KeyStore

ISSUER = "http://127.0.0.1:8400"  # the CLI's default: the default server URL
CAL = "https://api.example.com"
MGMT = f"{ISSUER}/api"
JWK_MEMBERS = {"kty", "alg", "use", "kid", "n", "e"}
ENV_NAMES = [
    "MOCKAUTH_CONFIG",
    "MOCKAUTH_KEYS_DIR",
    "MOCKAUTH_ISSUER",
    "MOCKAUTH_HOST",
    "MOCKAUTH_PORT",
    "MOCKAUTH_WORKERS",
    "MOCKAUTH_LOG_LEVEL",
    "MOCKAUTH_ADMIN_SECRET",
    "MOCKAUTH_LOGIN_PAGE",
    "MOCKAUTH_TLS",
    "MOCKAUTH_URL",
]
APP_A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
APP_B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
TWO_APPS = f"""
[[apis]]
audience = "{CAL}"
scopes = ["read:calendar", "update:event"]

[[apps]]
name = "A"
client_id = "{APP_A}"
client_secret = "{"A1" * 20}"
[apps.apis]
"{CAL}" = ["read:calendar"]

[[apps]]
name = "B"
client_id = "{APP_B}"
client_secret = "{"B2" * 20}"
[apps.apis]
"{CAL}" = ["update:event"]
"""
BAD_CONFIG = f"""
[[apis]]
audience = "{CAL}"
scopes = ["read:calendar"]

[[apps]]
name = "A"
client_id = "{APP_A}"
client_secret = "too-short"
"""


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    clean: dict[str, str | None] = dict.fromkeys(ENV_NAMES)
    clean.update(env or {})
    return CliRunner().invoke(main, list(args), env=clean, input=stdin)


def mint(keys: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return run("token", "--keys-dir", str(keys), *args, env=env)


def verify(token: str, keys: Path, audience: str = CAL, issuer: str = ISSUER) -> dict[str, Any]:
    store = KeyStore(keys)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "kid": store.active_kid, "typ": "JWT"}
    public = store.public_key(header["kid"])
    assert public is not None
    claims: dict[str, Any] = jwt.decode(
        token, key=public, algorithms=["RS256"], audience=audience, issuer=issuer
    )
    return claims


def fake_token(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    def seg(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{seg(header or {'alg': 'RS256', 'typ': 'JWT'})}.{seg(claims)}.c2ln"


# --- help ---


@pytest.mark.parametrize("command", [[], ["serve"], ["token"], ["jwks"], ["decode"]])
def test_help_on_each_command_exits_0(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout


def test_top_level_help_lists_every_command() -> None:
    out = run("--help").stdout
    for name in ("serve", "token", "jwks", "decode"):
        assert name in out


@pytest.mark.parametrize(
    ("command", "variable"),
    [
        ("serve", "MOCKAUTH_CONFIG"),
        ("serve", "MOCKAUTH_HOST"),
        ("serve", "MOCKAUTH_PORT"),
        ("serve", "MOCKAUTH_KEYS_DIR"),
        ("serve", "MOCKAUTH_ISSUER"),
        ("serve", "MOCKAUTH_WORKERS"),
    ],
)
def test_serve_help_names_each_environment_variable(command: str, variable: str) -> None:
    assert variable in run(command, "--help").stdout


@pytest.mark.parametrize(
    ("command", "default"),
    [
        ("serve", "(default: the config's issuer, else the server's own URL)"),
        (
            "token",
            "(default: the issuer of the server at --url, as its discovery document says; "
            "with no server there, the config's issuer, else --url)",
        ),
    ],
)
def test_issuer_help_says_each_commands_default(command: str, default: str) -> None:
    # `token` runs no server: it asks the one at --url.
    help_text = " ".join(run(command, "--help").stdout.split())  # unwrap click's lines
    assert default in help_text


# --- config errors exit 2 with the file, key and value ---


@pytest.mark.parametrize("command", [["serve"], ["token", "--audience", CAL]])
def test_bad_config_exits_2_naming_file_key_and_value(tmp_path: Path, command: list[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD_CONFIG)
    keys = ["--keys-dir", str(tmp_path / "keys")]
    result = run(*command, "--config", str(bad), *keys)
    assert result.exit_code == 2, result.output
    assert f"{bad}: apps[0].client_secret = 'too-short': " in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["serve"], ["token", "--audience", CAL]])
def test_bad_config_from_the_environment_exits_2(tmp_path: Path, command: list[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[apps]\n")
    result = run(*command, env={"MOCKAUTH_CONFIG": str(bad), "MOCKAUTH_KEYS_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert str(bad) in result.stderr
    assert "not valid TOML" in result.stderr


@pytest.mark.parametrize("command", [["serve"], ["token", "--audience", CAL]])
def test_missing_config_file_exits_2(tmp_path: Path, command: list[str]) -> None:
    absent = tmp_path / "absent.toml"
    result = run(*command, "--config", str(absent), "--keys-dir", str(tmp_path))
    assert result.exit_code == 2
    assert str(absent) in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--port", "70000"], id="port-out-of-range"),
        pytest.param(["--port", "http"], id="port-not-a-number"),
        pytest.param(["--workers", "0"], id="no-workers"),
        pytest.param(["--issuer", "http://127.0.0.1:8400/"], id="issuer-trailing-slash"),
        pytest.param(["--issuer", "127.0.0.1:8400"], id="issuer-without-scheme"),
        pytest.param(["--log-level", "loud"], id="unknown-log-level"),
        pytest.param(["--issuer", "http://a/b"], id="issuer-with-path"),
        pytest.param(["--issuer", "http://127.0.0.1:99999"], id="issuer-port-out-of-range"),
        pytest.param(["--host", ""], id="empty-host"),
        pytest.param(["--keys-dir", " "], id="blank-keys-dir"),
    ],
)
def test_serve_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    keys = tmp_path / "keys"
    result = run("serve", "--keys-dir", str(keys), *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not keys.exists()  # refused before anything is created


def test_a_bad_issuer_flag_is_named_as_the_flag_not_the_config(tmp_path: Path) -> None:
    config = tmp_path / "iss.toml"
    config.write_text('issuer = "https://acme.kinde.com"\n')
    result = run("serve", "--config", str(config), "--issuer", "http://a?x")
    assert result.exit_code == 2
    assert "--issuer" in result.stderr
    assert "'http://a?x'" in result.stderr
    assert str(config) not in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "shown"),
    [
        (["--host", "0.0.0.0"], {}, None),  # generated: printed, the only way to learn it
        (["--admin-secret", "given-by-me"], {}, "(as given)"),
        ([], {"MOCKAUTH_ADMIN_SECRET": "given-by-me"}, "(as given)"),
    ],
)
def test_serve_prints_only_a_generated_admin_secret(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: list[str],
    env: dict[str, str],
    shown: str | None,
) -> None:
    secrets: list[str | None] = []

    def fake_serve(options: server.ServeOptions, *, on_ready: Any) -> None:
        secret = server.admin_secret_for(options.host, options.admin_secret)
        secrets.append(secret)
        on_ready(Tenant(issuer=ISSUER, admin_secret=secret), ISSUER)

    monkeypatch.setattr(server, "serve", fake_serve)
    sigterm = signal.getsignal(signal.SIGTERM)
    result = run("serve", "--keys-dir", str(tmp_path), *args, env=env)
    assert result.exit_code == 0, result.output
    assert signal.getsignal(signal.SIGTERM) is sigterm  # serve's SIGTERM handler is undone
    (secret,) = secrets
    assert secret is not None
    line = f"  admin secret (Authorization: Bearer): {shown or secret}"
    assert line in result.stdout.splitlines()
    assert shown is None or secret not in result.stdout


# --- token ---


def test_token_for_a_user_signs_them_in(tmp_path: Path) -> None:
    result = mint(tmp_path, "--user", "jane@example.com", "--audience", CAL, "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert {"access_token", "id_token", "refresh_token"} <= set(body)
    claims = verify(body["access_token"], tmp_path)
    config = default_config()
    assert claims["sub"] == config.users[0].id
    assert claims["azp"] == next(a for a in config.apps if a.type == "regular").client_id
    assert claims["permissions"] == list(config.users[0].permissions)
    spa = next(a for a in config.apps if a.type == "spa")
    result = mint(tmp_path, "--user", config.users[0].id, "--client-id", spa.client_id)
    assert result.exit_code == 0, result.output
    assert jwt.decode(result.stdout.strip(), options={"verify_signature": False})["aud"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nobody@example.com"], "access_denied: No configured user"),
        (
            ["--user", "jane@example.com", "--client-id", "db7910a2cb5ef186a47f64aa64eb7783"],
            "M2M app",
        ),
        (["--user", "jane@example.com", "--audience", "https://x.example"], "unauthorized_client"),
        ([], "--audience is required"),
        (["--user", ""], "--user: give a user's email"),
    ],
)
def test_token_refusals_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = mint(tmp_path, *args)
    assert result.exit_code == 2
    assert message in result.stderr and result.stdout == ""


def test_token_mints_for_the_default_app(tmp_path: Path) -> None:
    result = mint(tmp_path, "--audience", CAL)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.count(".") == 2
    claims = verify(token, tmp_path)
    app = default_config().apps[0]
    assert app.type == "m2m"
    assert claims["azp"] == app.client_id
    assert claims["aud"] == [CAL]
    assert claims["scp"] == ["read:calendar", "update:event", "delete:event"]
    assert claims["gty"] == ["client_credentials"]
    assert claims["v"] == "2"
    assert claims["exp"] - claims["iat"] == 86_400
    assert "sub" not in claims


def test_token_reuses_the_key_store(tmp_path: Path) -> None:
    first = mint(tmp_path, "--audience", CAL).stdout.strip()
    second = mint(tmp_path, "--audience", CAL).stdout.strip()
    kid = jwt.get_unverified_header(first)["kid"]
    assert jwt.get_unverified_header(second)["kid"] == kid
    assert len(list(tmp_path.glob("*.pem"))) == 1
    verify(first, tmp_path)


def test_token_keys_dir_from_the_environment(tmp_path: Path) -> None:
    result = run("token", "--audience", CAL, env={"MOCKAUTH_KEYS_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    verify(result.stdout.strip(), tmp_path)


@pytest.mark.parametrize(
    "audience_args",
    [
        pytest.param(["--audience", CAL, "--audience", MGMT], id="repeated"),
        pytest.param(["--audience", f"{CAL} {MGMT}"], id="space-separated"),
    ],
)
def test_token_with_several_audiences(tmp_path: Path, audience_args: list[str]) -> None:
    result = mint(tmp_path, *audience_args)
    assert result.exit_code == 0, result.output
    claims = verify(result.stdout.strip(), tmp_path, audience=MGMT)
    assert claims["aud"] == [CAL, MGMT]
    assert "read:users" in claims["scp"]
    assert "read:calendar" in claims["scp"]


def test_token_with_scope(tmp_path: Path) -> None:
    result = mint(tmp_path, "--audience", CAL, "--scope", "update:event read:calendar")
    assert result.exit_code == 0, result.output
    claims = verify(result.stdout.strip(), tmp_path)
    assert claims["scp"] == ["update:event", "read:calendar"]
    assert claims["scope"] == "update:event read:calendar"


def test_token_with_an_empty_scope_gets_every_granted_scope(tmp_path: Path) -> None:
    result = mint(tmp_path, "--audience", CAL, "--scope", "")
    assert result.exit_code == 0, result.output
    assert verify(result.stdout.strip(), tmp_path)["scp"] == [
        "read:calendar",
        "update:event",
        "delete:event",
    ]


def test_token_json_prints_the_whole_response(tmp_path: Path) -> None:
    result = mint(tmp_path, "--audience", CAL, "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86_399
    verify(body["access_token"], tmp_path)


def test_token_issuer_option_sets_iss_and_the_management_audience(tmp_path: Path) -> None:
    issuer = "https://acme.kinde.com"
    result = mint(tmp_path, "--issuer", issuer, "--audience", f"{issuer}/api")
    assert result.exit_code == 0, result.output
    claims = verify(result.stdout.strip(), tmp_path, audience=f"{issuer}/api", issuer=issuer)
    assert claims["iss"] == issuer


@pytest.mark.parametrize("via", ["flag", "env"])
def test_token_issuer_option_wins_over_the_configs(tmp_path: Path, via: str) -> None:
    config = tmp_path / "iss.toml"
    config.write_text('issuer = "https://acme.kinde.com"\n' + DEFAULT_CONFIG_TOML)
    issuer = "http://127.0.0.1:9999"
    args = ["--config", str(config), "--audience", CAL]
    if via == "flag":
        result = mint(tmp_path, *args, "--issuer", issuer)
    else:
        result = mint(tmp_path, *args, env={"MOCKAUTH_ISSUER": issuer})
    assert result.exit_code == 0, result.output
    assert verify(result.stdout.strip(), tmp_path, issuer=issuer)["iss"] == issuer


def test_token_default_issuer_is_the_one_serve_has_in_this_environment(tmp_path: Path) -> None:
    result = mint(tmp_path, "--audience", CAL, env={"MOCKAUTH_PORT": "9100"})
    assert result.exit_code == 0, result.output
    issuer = "http://127.0.0.1:9100"
    assert verify(result.stdout.strip(), tmp_path, issuer=issuer)["iss"] == issuer


def test_token_client_id_picks_the_app(tmp_path: Path) -> None:
    config = tmp_path / "two.toml"
    config.write_text(TWO_APPS)
    result = mint(tmp_path, "--config", str(config), "--client-id", APP_B, "--audience", CAL)
    assert result.exit_code == 0, result.output
    claims = verify(result.stdout.strip(), tmp_path)
    assert claims["azp"] == APP_B
    assert claims["scp"] == ["update:event"]


def test_token_needs_client_id_when_several_m2m_apps(tmp_path: Path) -> None:
    config = tmp_path / "two.toml"
    config.write_text(TWO_APPS)
    result = mint(tmp_path, "--config", str(config), "--audience", CAL)
    assert result.exit_code == 2
    assert "--client-id" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--audience", "https://nope.example.com"], "unauthorized_client", id="aud"),
        pytest.param(["--audience", CAL, "--scope", "read:users"], "invalid_scope", id="scope"),
        pytest.param(["--audience", " "], "invalid_request", id="blank-audience"),
        pytest.param(
            ["--audience", CAL, "--client-id", "c" * 32], "no M2M app", id="unknown-client-id"
        ),
        pytest.param(
            ["--audience", CAL, "--issuer", "http://127.0.0.1:8400/"],
            "must not end with '/'",
            id="issuer-trailing-slash",
        ),
        pytest.param(
            ["--audience", CAL, "--issuer", "https://user:pw@acme.kinde.com"],
            "--issuer",
            id="issuer-with-userinfo",
        ),
        pytest.param(["--audience", CAL, "--keys-dir", ""], "--keys-dir", id="empty-keys-dir"),
        pytest.param([], "--audience", id="no-audience"),
    ],
)
def test_token_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = mint(tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def closed_port() -> int:
    """A port nothing listens on (just released by the kernel)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_token_without_a_server_says_which_issuer_it_used(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = mint(tmp_path, "--audience", CAL, "--url", url)
    assert result.exit_code == 0, result.output
    assert verify(result.stdout.strip(), tmp_path, issuer=url)["iss"] == url
    assert f"no mockauth server answered at {url}, so the token's issuer is {url}" in (
        result.stderr
    )


def test_token_without_a_server_takes_the_configs_issuer(tmp_path: Path) -> None:
    config = tmp_path / "iss.toml"
    config.write_text('issuer = "https://acme.kinde.com"\n' + DEFAULT_CONFIG_TOML)
    url = f"http://127.0.0.1:{closed_port()}"
    result = mint(tmp_path, "--config", str(config), "--audience", CAL, "--url", url)
    assert result.exit_code == 0, result.output
    verify(result.stdout.strip(), tmp_path, issuer="https://acme.kinde.com")
    assert "so the token's issuer is https://acme.kinde.com" in result.stderr


def test_an_explicit_issuer_asks_no_server(tmp_path: Path) -> None:
    result = mint(tmp_path, "--audience", CAL, "--issuer", ISSUER, "--url", "http://127.0.0.1:1")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_token_and_jwks_read_keys_from_a_read_only_dir(
    tmp_path: Path, read_only: Callable[[Path], None]
) -> None:
    assert mint(tmp_path, "--audience", CAL, "--issuer", ISSUER).exit_code == 0
    kid = KeyStore(tmp_path).active_kid
    read_only(tmp_path)
    minted = mint(tmp_path, "--audience", CAL, "--issuer", ISSUER)
    assert minted.exit_code == 0, minted.output
    assert jwt.get_unverified_header(minted.stdout.strip())["kid"] == kid
    printed = run("jwks", "--keys-dir", str(tmp_path))
    assert printed.exit_code == 0, printed.output
    assert [k["kid"] for k in json.loads(printed.stdout)["keys"]] == [kid]


def test_the_default_keys_dir_is_the_per_user_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = run(
        "token", "--audience", CAL, "--issuer", ISSUER, env={"XDG_STATE_HOME": str(tmp_path / "s")}
    )
    assert result.exit_code == 0, result.output
    assert list(work.iterdir()) == []
    state = tmp_path / "s" / "mockauth"
    verify(result.stdout.strip(), state)
    assert (state / ".gitignore").read_text().splitlines()[-1] == "*"


# --- errors name the MOCKAUTH_* variable a value came from ---


@pytest.mark.parametrize(
    ("command", "env", "fragment"),
    [
        ("serve", {"MOCKAUTH_PORT": "abc"}, "Invalid value for MOCKAUTH_PORT (for '--port')"),
        (
            "serve",
            {"MOCKAUTH_WORKERS": "0"},
            "Invalid value for MOCKAUTH_WORKERS (for '--workers')",
        ),
        ("serve", {"MOCKAUTH_TLS": "maybe"}, "Invalid value for MOCKAUTH_TLS (for '--tls')"),
        ("serve", {"MOCKAUTH_KEYS_DIR": " "}, "MOCKAUTH_KEYS_DIR (for '--keys-dir'): must not be"),
        ("serve", {"MOCKAUTH_ISSUER": "http://a.test/"}, "MOCKAUTH_ISSUER (for '--issuer')"),
        ("serve", {"MOCKAUTH_LOG_LEVEL": "loud"}, "MOCKAUTH_LOG_LEVEL (for '--log-level')"),
        ("serve", {"MOCKAUTH_ADMIN_SECRET": " x"}, "mockauth: MOCKAUTH_ADMIN_SECRET: must be"),
        ("token", {"MOCKAUTH_PORT": "abc"}, "MOCKAUTH_PORT = 'abc' is not a port number"),
        ("token", {"MOCKAUTH_PORT": "0"}, "MOCKAUTH_PORT = '0' is any free port"),
        ("token", {"MOCKAUTH_URL": "ftp://x"}, "MOCKAUTH_URL (for '--url'): 'ftp://x' is not"),
    ],
)
def test_errors_from_environment_variables_name_the_variable(
    tmp_path: Path, command: str, env: dict[str, str], fragment: str
) -> None:
    # A config that is not there: should the variable pass, serve still stops (at the config).
    args = ["--config", str(tmp_path / "missing.toml")] if command == "serve" else []
    env = {"MOCKAUTH_KEYS_DIR": str(tmp_path)} | env
    result = run(command, *args, env=env)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--port", "abc"], "Invalid value for '--port'"),
        (["--admin-secret", " x"], "mockauth: --admin-secret: must be"),
    ],
)
def test_errors_from_flags_name_the_flag(tmp_path: Path, args: list[str], fragment: str) -> None:
    result = run("serve", "--keys-dir", str(tmp_path), "--config", str(tmp_path / "no.toml"), *args)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr
    assert "MOCKAUTH_" not in result.stderr


# --- jwks ---


def test_jwks_prints_the_public_key_set(tmp_path: Path) -> None:
    KeyStore(tmp_path)  # as the server leaves it
    result = run("jwks", "--keys-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc == KeyStore(tmp_path).jwks()
    (jwk,) = doc["keys"]
    assert set(jwk) == JWK_MEMBERS
    assert "PRIVATE" not in result.stdout


def test_jwks_holds_the_kid_that_token_signs_with(tmp_path: Path) -> None:
    token = mint(tmp_path, "--audience", CAL).stdout.strip()
    doc = json.loads(run("jwks", "--keys-dir", str(tmp_path)).stdout)
    assert [k["kid"] for k in doc["keys"]] == [jwt.get_unverified_header(token)["kid"]]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("typo", "no keys dir at {}; start the server once or pass --keys-dir"),
        ("", "no keys in {}"),
    ],
)
def test_jwks_refuses_a_keys_dir_without_keys_and_creates_nothing(
    tmp_path: Path, where: str, message: str
) -> None:
    # A print-only command: a mistyped --keys-dir must not get a new key made and shown.
    keys = tmp_path / where if where else tmp_path
    result = run("jwks", "--keys-dir", str(keys))
    assert result.exit_code == 2
    assert f"mockauth: {message.format(keys)}" in result.stderr
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("keyset", ["{broken", '{"active": "", "published": []}'])
@pytest.mark.parametrize("command", [["jwks"], ["token", "--audience", CAL]])
def test_an_unusable_keys_dir_exits_2(tmp_path: Path, command: list[str], keyset: str) -> None:
    (tmp_path / "keyset.json").write_text(keyset)
    result = run(*command, "--keys-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "keyset.json" in result.stderr
    assert "Traceback" not in result.output


# --- decode ---


def test_decode_shows_header_claims_and_expiry(tmp_path: Path) -> None:
    token = mint(tmp_path, "--audience", CAL).stdout.strip()
    result = run("decode", token)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("header: {")
    assert '"alg": "RS256"' in out
    assert '"typ": "JWT"' in out
    assert "claims: {" in out
    assert f'"azp": "{default_config().apps[0].client_id}"' in out
    assert '"v": "2"' in out
    assert "expires " in out
    assert " UTC: in " in out


def test_decode_reads_stdin() -> None:
    token = fake_token({"sub": "kp_1", "exp": int(time.time()) + 3 * 86_400 + 7_200 + 30})
    result = run("decode", "-", stdin=token + "\n")
    assert result.exit_code == 0, result.output
    assert '"sub": "kp_1"' in result.stdout
    assert "in 3 days 2 hours" in result.stdout


def test_decode_says_when_a_token_expired() -> None:
    result = run("decode", fake_token({"exp": 1_000_000_000}))
    assert result.exit_code == 0, result.output
    assert "expired 2001-09-09 01:46:40 UTC:" in result.stdout
    assert result.stdout.rstrip().endswith("ago")


def test_decode_without_exp_prints_no_expiry() -> None:
    result = run("decode", fake_token({"sub": "x"}))
    assert result.exit_code == 0
    assert "expire" not in result.stdout


@pytest.mark.parametrize("exp", [1e300, -1e300, "Infinity", "NaN", -99999999999, 1e13])
def test_decode_survives_absurd_expiry(exp: object) -> None:
    token = fake_token({"exp": 0})
    header, _, sig = token.split(".")
    payload = base64.urlsafe_b64encode(f'{{"exp": {exp}}}'.encode()).rstrip(b"=").decode()
    result = run("decode", f"{header}.{payload}.{sig}")
    assert result.exit_code == 0, result.output
    assert "not a representable time" in result.stdout


def test_decode_ignores_an_exp_that_is_not_a_number() -> None:
    result = run("decode", fake_token({"exp": True}))
    assert result.exit_code == 0, result.output
    assert "expire" not in result.stdout


def _deep(depth: int) -> str:
    return base64.urlsafe_b64encode(b"[" * depth + b"]" * depth).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param(f"e30.{_deep(100_000)}.c2ln", id="payload-nested-too-deeply"),
        pytest.param("abc", id="one-segment"),
        pytest.param("a.b", id="two-segments"),
        pytest.param("a.b.c.d", id="four-segments"),
        pytest.param("!!!.@@@.###", id="not-base64"),
        pytest.param("e30.bm90IGpzb24.c2ln", id="payload-not-json"),
        pytest.param("W10.e30.c2ln", id="header-is-a-list"),
        pytest.param("e30.MQ.c2ln", id="payload-is-a-number"),
        pytest.param("e30./w.c2ln", id="payload-not-utf8"),
        pytest.param("éé.éé.éé", id="non-ascii"),
    ],
)
def test_decode_bad_tokens_exit_2(token: str) -> None:
    result = run("decode", token)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("mockauth: ")
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("config", "line"),
    [
        ("", "  no M2M app in the config: add an [[apps]] table to get tokens"),
        (
            f"""
[[apis]]
audience = "{CAL}"
[[apps]]
name = "Empty"
client_id = "{APP_A}"
client_secret = "{"A1" * 20}"
[apps.apis]
"{CAL}" = []
""",
            f"    audience:      {CAL}  scopes: (none)",
        ),
    ],
    ids=["no-apps", "no-scopes"],
)
def test_the_start_up_block_says_when_there_is_nothing_to_show(
    capsys: pytest.CaptureFixture[str], config: str, line: str
) -> None:
    from mockauth.serve_cli import _announce
    from mockauth.tenant.config import parse_config

    tenant = Tenant(parse_config(config.encode(), source="t.toml"), issuer=ISSUER, keys=KeyStore())
    _announce(tenant, ISSUER)
    assert line in capsys.readouterr().out.splitlines()


def test_serve_takes_the_log_level_in_any_case(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    levels: list[str] = []
    monkeypatch.setattr(server, "serve", lambda options, **_: levels.append(options.log_level))
    result = run("serve", "--keys-dir", str(tmp_path), "--log-level", "INFO")
    assert result.exit_code == 0, result.output
    assert levels == ["info"]


def test_the_start_up_block_points_at_where_the_server_answers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mockauth.serve_cli import _announce
    from mockauth.tenant.tenant import Tenant
    from mockauth.tokens.keys import KeyStore

    tenant = Tenant(issuer="https://acme.kinde.com", keys=KeyStore())
    _announce(tenant, "http://127.0.0.1:9999")
    out = capsys.readouterr().out
    assert "issuer:    https://acme.kinde.com" in out
    assert "jwks:      http://127.0.0.1:9999/.well-known/jwks" in out
    assert "token:     http://127.0.0.1:9999/oauth2/token" in out
    assert "acme.kinde.com/oauth2" not in out

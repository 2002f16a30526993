"""The mockauth command: parse, call, print. Exit 0 on success, 2 on usage or config errors."""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import click

from mockauth import paths
from mockauth.admin import cli as cli_admin
from mockauth.admin.client import AdminClientError
from mockauth.cliparams import env_option, keys_dir_option, named, not_blank, url_option
from mockauth.errors import MockAuthError, OAuthError
from mockauth.http import server
from mockauth.http.connections import MAX_CONNECTIONS
from mockauth.http.limits import HEAD_TIMEOUT, IDLE_TIMEOUT, MAX_TIMEOUT, Limits
from mockauth.http.tls import tls_files
from mockauth.issuance import login_app, login_tokens, m2m_token
from mockauth.oauth.params import requested_audiences, requested_scope
from mockauth.setup import cli as cli_setup
from mockauth.setup.remote import client_for
from mockauth.tenant.config import ServerConfig, default_config, issuer_problem, load_config
from mockauth.tenant.memory import memory_store
from mockauth.tenant.mgmt_scopes import MANAGEMENT_SCOPES
from mockauth.tenant.tenant import Tenant
from mockauth.tokens.keys import KEYSET_FILE, KeyStore

Command = Callable[..., Any]


def _fail(message: str) -> NoReturn:
    click.echo(f"mockauth: {message}", err=True)
    sys.exit(2)


def _load(config_path: str | None) -> ServerConfig:
    try:
        return load_config(config_path) if config_path else default_config()
    except MockAuthError as exc:
        _fail(str(exc))


def _issuer(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    problem = issuer_problem(value) if value is not None else None
    if problem:
        raise click.BadParameter(f"{value!r} {problem}")
    return value


def _seconds(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise click.BadParameter(f"{value!r} is not a number of seconds > 0 and <= {MAX_TIMEOUT}")
    return value


config_option = env_option(
    "--config",
    "config_path",
    envvar="MOCKAUTH_CONFIG",
    type=click.Path(dir_okay=False),
    help="TOML config file (default: the embedded default config). [env: MOCKAUTH_CONFIG]",
)
keys_option = keys_dir_option


def issuer_option(default: str) -> Callable[[Command], Command]:
    """--issuer; ``default`` says where the issuer comes from when it is not given."""
    return env_option(
        "--issuer",
        envvar="MOCKAUTH_ISSUER",
        callback=_issuer,
        help=f"Issuer URL, no trailing slash (default: {default}). [env: MOCKAUTH_ISSUER]",
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mockauth")
def main() -> None:
    """mockauth: a local mock of the Kinde authorisation server."""


@main.command()
@config_option
@env_option(
    "--host",
    envvar="MOCKAUTH_HOST",
    default=server.DEFAULT_HOST,
    show_default=True,
    callback=not_blank,
    help="Address to bind. [env: MOCKAUTH_HOST]",
)
@env_option(
    "--port",
    envvar="MOCKAUTH_PORT",
    type=click.IntRange(0, 65535),
    default=server.DEFAULT_PORT,
    show_default=True,
    help="Port to bind; 0 picks a free one. [env: MOCKAUTH_PORT]",
)
@keys_option
@issuer_option("the config's issuer, else the server's own URL")
@env_option(
    "--workers",
    envvar="MOCKAUTH_WORKERS",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes. [env: MOCKAUTH_WORKERS]",
)
@env_option(
    "--log-level",
    envvar="MOCKAUTH_LOG_LEVEL",
    default="warning",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"], case_sensitive=False),
    help="uvicorn log level. [env: MOCKAUTH_LOG_LEVEL]",
)
@env_option(
    "--admin-secret",
    envvar="MOCKAUTH_ADMIN_SECRET",
    help="Bearer secret the admin API requires (default: none on loopback, else generated "
    "and printed). [env: MOCKAUTH_ADMIN_SECRET]",
)
@env_option(
    "--tls/--no-tls",
    envvar="MOCKAUTH_TLS",
    default=False,
    show_default=True,
    help="Serve HTTPS with a certificate from a local CA kept in the keys dir; clients trust "
    "<keys dir>/tls/bundle.pem (the CAs trusted here, and that CA). [env: MOCKAUTH_TLS]",
)
@env_option(
    "--login-page/--no-login-page",
    envvar="MOCKAUTH_LOGIN_PAGE",
    default=None,
    help="Show a page at the authorization endpoint to pick who signs in, or not (default: "
    "the config's login_page, else no page: the first user, or login_hint's, at once). "
    "[env: MOCKAUTH_LOGIN_PAGE]",
)
@env_option(
    "--head-timeout",
    envvar="MOCKAUTH_HEAD_TIMEOUT",
    type=float,
    default=HEAD_TIMEOUT,
    show_default=True,
    callback=_seconds,
    help="Seconds a client has to send a request's head, from its first byte (and for a TLS "
    "handshake); then 408 and close. [env: MOCKAUTH_HEAD_TIMEOUT]",
)
@env_option(
    "--idle-timeout",
    envvar="MOCKAUTH_IDLE_TIMEOUT",
    type=float,
    default=IDLE_TIMEOUT,
    show_default=True,
    callback=_seconds,
    help="Seconds a connection may stay silent while the server waits for its client: before "
    "and between requests, within a body, or with answers unread; then it is closed. "
    "[env: MOCKAUTH_IDLE_TIMEOUT]",
)
@env_option(
    "--max-connections",
    envvar="MOCKAUTH_MAX_CONNECTIONS",
    type=click.IntRange(min=1),
    default=None,
    help=f"Open connections per server process; more get 503 and are closed (default: "
    f"{MAX_CONNECTIONS}, or half the open-file limit if lower). [env: MOCKAUTH_MAX_CONNECTIONS]",
)
def serve(
    config_path: str | None,
    host: str,
    port: int,
    keys_dir: str,
    issuer: str | None,
    workers: int,
    log_level: str,
    admin_secret: str | None,
    tls: bool,
    login_page: bool | None,
    head_timeout: float,
    idle_timeout: float,
    max_connections: int | None,
) -> None:
    """Run the mock Kinde server (Ctrl-C to stop)."""
    if admin_secret is not None and (not admin_secret or admin_secret != admin_secret.strip()):
        where = named(click.get_current_context(), "admin_secret")
        _fail(f"{where}: must be non-empty, without leading or trailing spaces")
    _load(config_path)  # fail fast, before binding, with the file/key/value message
    options = server.ServeOptions(
        config_path=config_path,
        host=host,
        port=port,
        keys_dir=keys_dir,
        issuer=issuer,
        workers=workers,
        log_level=log_level,
        admin_secret=admin_secret,
        tls=tls,
        login_page=login_page,
        limits=Limits(
            head_timeout=head_timeout,
            idle_timeout=idle_timeout,
            **({} if max_connections is None else {"max_connections": max_connections}),
        ),
    )
    # Only a secret the server generated is printed: a given one is known to whoever gave
    # it, and start-up output ends up in logs and CI transcripts.
    announce = functools.partial(_announce, secret_given=admin_secret is not None)
    try:
        with _sigterm_stops():
            server.serve(options, on_ready=announce)
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    except MockAuthError as exc:
        _fail(str(exc))


@contextlib.contextmanager
def _sigterm_stops() -> Iterator[None]:
    """SIGTERM stops the server as Ctrl-C does: exit 0.

    uvicorn shuts down gracefully on SIGTERM, then raises the signal again under the handler
    it found: the default one kills the process, and `docker stop`, systemd or a CI step see
    exit 143. With workers, uvicorn's supervisor handles SIGTERM itself and returns.
    """
    if threading.current_thread() is not threading.main_thread():  # signals: main thread only
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _exit_cleanly(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(0)


def _announce(tenant: Tenant, url: str, *, secret_given: bool = False) -> None:
    lines = [
        f"mockauth serving on {url}",
        f"  issuer:    {tenant.issuer}",
        # Where this server answers; the issuer may name another host (a proxy, a tenant).
        f"  discovery: {url}{paths.DISCOVERY}",
        f"  jwks:      {url}{paths.JWKS}",
        f"  token:     {url}{paths.TOKEN}",
        f"  keys dir:  {_absolute(tenant.keys.keys_dir)}",
        f"  admin API: {url}{paths.ADMIN_OPENAPI}",
    ]
    if url.startswith("https:") and tenant.keys.keys_dir is not None:
        files = tls_files(tenant.keys.keys_dir)
        bundle = files.bundle.resolve()
        lines += [
            f"  CA cert:   {files.ca_cert.resolve()}",
            f"  CA bundle: {bundle} (the CAs trusted here, and this one)",
            f"    trust it: SSL_CERT_FILE={bundle} REQUESTS_CA_BUNDLE={bundle}"
            f" NODE_EXTRA_CA_CERTS={bundle}",
        ]
    if tenant.admin_secret:
        shown = "(as given)" if secret_given else tenant.admin_secret
        lines.append(f"  admin secret (Authorization: Bearer): {shown}")
    lines += [
        f"  Kinde Management API: {url}/api/v1 (Bearer: an M2M token for {tenant.issuer}/api)",
        f"  Kinde Account API:    {url}/account_api/v1 (Bearer: a user's access token)",
    ]
    m2m = [app for app in tenant.config.apps if app.type == "m2m"]
    if not m2m:
        lines.append("  no M2M app in the config: add an [[apps]] table to get tokens")
    for app in m2m:
        lines += [
            f"  M2M app {app.name!r}:",
            f"    client_id:     {app.client_id}",
            f"    client_secret: {app.client_secret}",
        ]
        lines += [
            f"    audience:      {aud}  scopes: {_scopes_shown(tenant, aud, s)}"
            for aud, s in app.apis.items()
        ]
    lines += _login_lines(tenant, url)
    click.echo("\n".join(lines), nl=True)
    sys.stdout.flush()


def _scopes_shown(tenant: Tenant, audience: str, scopes: tuple[str, ...]) -> str:
    if audience == tenant.issuer + "/api" and set(MANAGEMENT_SCOPES) <= set(scopes):
        return f"all {len(scopes)} Management API scopes ({tenant.issuer}/api/v1/...)"
    return " ".join(scopes) or "(none)"


def _login_lines(tenant: Tenant, url: str) -> list[str]:
    """What a web app, SPA or device app needs to sign a user in here."""
    apps = [app for app in tenant.config.apps if app.type != "m2m"]
    if not apps:
        return []
    how = (
        "shows a page to pick the user"
        if tenant.config.login_page
        else "signs in the first user, or login_hint's"
    )
    lines = [f"  authorize: {url}{paths.AUTHORIZE} ({how})"]
    for app in apps:
        lines += [
            f"  {app.type} app {app.name!r}:",
            f"    client_id:     {app.client_id}",
        ]
        if app.client_secret:
            lines.append(f"    client_secret: {app.client_secret}")
        if app.type == "device":
            lines.append(
                f"    device code:   POST {url}{paths.DEVICE_AUTH}, then {url}{paths.DEVICE}"
            )
            continue
        lines.append(
            f"    callbacks:     {' '.join(app.redirect_uris) or '(none: add redirect_uris)'}"
        )
    users = tenant.config.users
    if users:
        shown = ", ".join(u.email for u in users[:5]) + (" ..." if len(users) > 5 else "")
        lines.append(f"  users: {shown}")
    else:
        lines.append("  no users in the config: add a [[users]] table to sign in")
    return lines


@main.command()
@config_option
@keys_option
@issuer_option(
    "the issuer of the server at --url, as its discovery document says; with no server "
    "there, the config's issuer, else --url"
)
@url_option
@click.option(
    "--client-id",
    help="App to mint for (default: the only M2M app; with --user, the first web app or SPA).",
)
@click.option(
    "--audience",
    "audiences",
    multiple=True,
    help="Audience; repeat or space-separate for several (required for M2M tokens).",
)
@click.option(
    "--scope",
    help="Space-separated scopes (default: all granted; --user: openid profile email offline).",
)
@click.option(
    "--user",
    help="Sign this user (email or kp_ id) in and mint their access token instead of an M2M one.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole token response as JSON.")
def token(
    config_path: str | None,
    keys_dir: str,
    issuer: str | None,
    url: str,
    client_id: str | None,
    audiences: tuple[str, ...],
    scope: str | None,
    user: str | None,
    as_json: bool,
) -> None:
    """Mint an M2M access token (or with --user, a user's) from the config and the keys
    dir's keys, in process; its issuer is the running server's (--url)."""
    config = _load(config_path)
    known = _ask_server(url, keys_dir) if not issuer else None
    chosen = issuer or (known[0] if known else None) or config.issuer or url
    if known is None and not issuer:
        click.echo(
            f"mockauth: no mockauth server answered at {url}, so the token's issuer is "
            f"{chosen} (start the server, or pass --url or --issuer)",
            err=True,
        )
    config = replace(config, issuer=chosen)
    try:
        # Minting keeps nothing: an in-memory store, the keys dir's keys and seal key.
        tenant = Tenant(config, issuer=chosen, keys=KeyStore(keys_dir), store=memory_store())
    except MockAuthError as exc:
        _fail(str(exc))
    if known is not None and tenant.keys.active_kid not in known[1]:
        click.echo(
            f"mockauth: warning: the server at {url} does not publish the key this token is "
            f"signed with ({tenant.keys.active_kid}): pass the --keys-dir it runs on (its "
            "start-up block shows it)",
            err=True,
        )
    if user is not None:
        if not user.strip():
            _fail("--user: give a user's email or kp_ id")
        body = _user_token(tenant, user, client_id, audiences, scope)
        click.echo(json.dumps(body, indent=2) if as_json else body["access_token"])
        return
    if not audiences:
        _fail("--audience is required for an M2M token (or pass --user for a user's)")
    m2m = [a for a in tenant.config.apps if a.type == "m2m"]
    if client_id is None and len(m2m) != 1:
        _fail(f"--client-id is required: the config has {len(m2m)} M2M apps")
    app = tenant.app(client_id) if client_id else m2m[0]
    if app is None or app.type != "m2m":
        _fail(f"--client-id = {client_id!r}: no M2M app with that client id in the config")
    try:
        body = m2m_token(tenant, app, requested_audiences(list(audiences)), requested_scope(scope))
    except OAuthError as exc:
        _fail(f"{exc.error}: {exc.description}")
    click.echo(json.dumps(body, indent=2) if as_json else body["access_token"])


def _user_token(
    tenant: Tenant,
    user: str,
    client_id: str | None,
    audiences: tuple[str, ...],
    scope: str | None,
) -> dict[str, Any]:
    """The token response of a login through the authorization endpoint's own checks."""
    wanted = [a for value in audiences for a in value.split()]
    try:
        return login_tokens(
            tenant,
            login_app(tenant, client_id),
            user=user,
            audiences=wanted,
            scopes=(scope if scope is not None else "openid profile email offline").split(),
        )
    except OAuthError as exc:
        _fail(f"{exc.error}: {exc.description}")
    except (LookupError, ValueError) as exc:
        _fail(str(exc))


def _ask_server(url: str, keys_dir: str) -> tuple[str, set[str]] | None:
    """The issuer and published kids of the mockauth server at ``url``; None if none answers."""
    try:
        client = client_for(url, keys_dir=keys_dir)
        issuer = str(client.discovery()["issuer"])
        kids = {str(key.get("kid")) for key in client.jwks().get("keys", [])}
    except (AdminClientError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return issuer, kids


def _absolute(path: Path | None) -> str:
    return str(path.resolve()) if path is not None else "(in memory)"


@main.command()
@keys_option
def jwks(keys_dir: str) -> None:
    """Print the public JWKS of the key store."""
    # Printing must not create: a mistyped --keys-dir would print a fresh key's JWKS that
    # nothing signs with, and leave a new keys dir behind.
    where = Path(keys_dir)
    if not where.is_dir():
        _fail(f"no keys dir at {keys_dir}; start the server once or pass --keys-dir")
    if not (where / KEYSET_FILE).exists() and not any(where.glob("*.pem")):
        _fail(f"no keys in {keys_dir}; start the server once or pass --keys-dir")
    try:
        click.echo(json.dumps(KeyStore(keys_dir).jwks(), indent=2))
    except MockAuthError as exc:
        _fail(str(exc))


@main.command()
@click.argument("token", required=False)
@click.pass_context
def decode(ctx: click.Context, token: str | None) -> None:
    """Show a token's header and claims (no signature check). TOKEN '-', or none with a pipe
    on standard input, reads the token from it."""
    if token is None and sys.stdin.isatty():  # nobody is going to type a token: say how
        click.echo(ctx.get_usage(), err=True)
        _fail("give a TOKEN, '-' to read one from standard input, or pipe one in")
    if token is None or token == "-":
        token = sys.stdin.read()
    token = token.strip()
    parts = token.split(".")
    if len(parts) != 3:
        _fail(f"not a JWS compact token: {len(parts)} segments, expected 3")
    header, claims = (
        _segment(p, name) for p, name in zip(parts[:2], ("header", "payload"), strict=True)
    )
    click.echo("header: " + json.dumps(header, indent=2))
    click.echo("claims: " + json.dumps(claims, indent=2))
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        click.echo(_expiry_words(exp, time.time()))


def _segment(part: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError) as exc:
        _fail(f"the {name} segment is not base64url JSON ({exc})")
    except RecursionError:
        _fail(f"the {name} segment is not base64url JSON (nested too deeply)")
    if not isinstance(value, dict):
        _fail(f"the {name} segment is not a JSON object")
    return value


# 9999-12-31T23:59:59Z: past it (or before 1970) a date means nothing to a reader.
_LAST_TIME = 253_402_300_799


def _expiry_words(exp: float, now: float) -> str:
    if not 0 <= exp <= _LAST_TIME:  # also nan
        return f"exp = {exp!r} is not a representable time"
    delta = int(exp - now)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(exp))
    if delta > 0:
        return f"expires {stamp}: in {_duration(delta)}"
    return f"expired {stamp}: {_duration(-delta)} ago"


def _duration(seconds: int) -> str:
    parts = []
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    return " ".join(parts[:2]) or "0 seconds"


for _command in cli_admin.COMMANDS:  # fault, keys, clock, journal, reset: a running server
    main.add_command(_command)
for _command in cli_setup.COMMANDS:  # init, config, env, postman
    main.add_command(_command)

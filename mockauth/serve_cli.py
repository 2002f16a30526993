"""`mockauth serve`: run the mock Kinde server, and the start-up block that says where it
answers, which apps it has and how to sign in."""

from __future__ import annotations

import contextlib
import functools
import math
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import NoReturn

import click

from mockauth import paths
from mockauth.cliparams import (
    config_option,
    env_option,
    fail,
    issuer_option,
    keys_dir_option,
    load_or_fail,
    named,
    not_blank,
)
from mockauth.errors import MockAuthError
from mockauth.http import net, server
from mockauth.http.connections import MAX_CONNECTIONS
from mockauth.http.limits import HEAD_TIMEOUT, IDLE_TIMEOUT, MAX_TIMEOUT, Limits
from mockauth.http.tls import tls_files
from mockauth.tenant.mgmt_scopes import MANAGEMENT_SCOPES
from mockauth.tenant.tenant import Tenant


def _seconds(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise click.BadParameter(f"{value!r} is not a number of seconds > 0 and <= {MAX_TIMEOUT}")
    return value


@click.command()
@config_option
@env_option(
    "--host",
    envvar="MOCKAUTH_HOST",
    default=net.DEFAULT_HOST,
    show_default=True,
    callback=not_blank,
    help="Address to bind. [env: MOCKAUTH_HOST]",
)
@env_option(
    "--port",
    envvar="MOCKAUTH_PORT",
    type=click.IntRange(0, 65535),
    default=net.DEFAULT_PORT,
    show_default=True,
    help="Port to bind; 0 picks a free one. [env: MOCKAUTH_PORT]",
)
@keys_dir_option
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
        fail(f"{where}: must be non-empty, without leading or trailing spaces")
    load_or_fail(config_path)  # fail fast, before binding, with the file/key/value message
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
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    except MockAuthError as exc:
        fail(str(exc))


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


def _absolute(path: Path | None) -> str:
    return str(path.resolve()) if path is not None else "(in memory)"


COMMANDS = (serve,)

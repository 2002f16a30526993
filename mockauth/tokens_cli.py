"""The token commands, all in process: token (mint one with the keys dir's keys, its issuer
the running server's), jwks (print the keys dir's public keys), decode (show a token's header
and claims)."""

from __future__ import annotations

import base64
import binascii
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from mockauth.admin.client import AdminClientError
from mockauth.cliparams import (
    config_option,
    fail,
    issuer_option,
    keys_dir_option,
    load_or_fail,
    url_option,
)
from mockauth.errors import MockAuthError, OAuthError
from mockauth.issuance import login_app, login_tokens, m2m_token
from mockauth.oauth.params import requested_audiences, requested_scope
from mockauth.setup.remote import client_for
from mockauth.tenant.memory import memory_store
from mockauth.tenant.tenant import Tenant
from mockauth.tokens.keys import KEYSET_FILE, KeyStore


@click.command()
@config_option
@keys_dir_option
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
    config = load_or_fail(config_path)
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
        fail(str(exc))
    if known is not None and tenant.keys.active_kid not in known[1]:
        click.echo(
            f"mockauth: warning: the server at {url} does not publish the key this token is "
            f"signed with ({tenant.keys.active_kid}): pass the --keys-dir it runs on (its "
            "start-up block shows it)",
            err=True,
        )
    if user is not None:
        if not user.strip():
            fail("--user: give a user's email or kp_ id")
        body = _user_token(tenant, user, client_id, audiences, scope)
        click.echo(json.dumps(body, indent=2) if as_json else body["access_token"])
        return
    if not audiences:
        fail("--audience is required for an M2M token (or pass --user for a user's)")
    m2m = [a for a in tenant.config.apps if a.type == "m2m"]
    if client_id is None and len(m2m) != 1:
        fail(f"--client-id is required: the config has {len(m2m)} M2M apps")
    app = tenant.app(client_id) if client_id else m2m[0]
    if app is None or app.type != "m2m":
        fail(f"--client-id = {client_id!r}: no M2M app with that client id in the config")
    try:
        body = m2m_token(tenant, app, requested_audiences(list(audiences)), requested_scope(scope))
    except OAuthError as exc:
        fail(f"{exc.error}: {exc.description}")
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
        fail(f"{exc.error}: {exc.description}")
    except (LookupError, ValueError) as exc:
        fail(str(exc))


def _ask_server(url: str, keys_dir: str) -> tuple[str, set[str]] | None:
    """The issuer and published kids of the mockauth server at ``url``; None if none answers."""
    try:
        client = client_for(url, keys_dir=keys_dir)
        issuer = str(client.discovery()["issuer"])
        kids = {str(key.get("kid")) for key in client.jwks().get("keys", [])}
    except (AdminClientError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return issuer, kids


@click.command()
@keys_dir_option
def jwks(keys_dir: str) -> None:
    """Print the public JWKS of the key store."""
    # Printing must not create: a mistyped --keys-dir would print a fresh key's JWKS that
    # nothing signs with, and leave a new keys dir behind.
    where = Path(keys_dir)
    if not where.is_dir():
        fail(f"no keys dir at {keys_dir}; start the server once or pass --keys-dir")
    if not (where / KEYSET_FILE).exists() and not any(where.glob("*.pem")):
        fail(f"no keys in {keys_dir}; start the server once or pass --keys-dir")
    try:
        click.echo(json.dumps(KeyStore(keys_dir).jwks(), indent=2))
    except MockAuthError as exc:
        fail(str(exc))


@click.command()
@click.argument("token", required=False)
@click.pass_context
def decode(ctx: click.Context, token: str | None) -> None:
    """Show a token's header and claims (no signature check). TOKEN '-', or none with a pipe
    on standard input, reads the token from it."""
    if token is None and sys.stdin.isatty():  # nobody is going to type a token: say how
        click.echo(ctx.get_usage(), err=True)
        fail("give a TOKEN, '-' to read one from standard input, or pipe one in")
    if token is None or token == "-":
        token = sys.stdin.read()
    token = token.strip()
    parts = token.split(".")
    if len(parts) != 3:
        fail(f"not a JWS compact token: {len(parts)} segments, expected 3")
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
        fail(f"the {name} segment is not base64url JSON ({exc})")
    except RecursionError:
        fail(f"the {name} segment is not base64url JSON (nested too deeply)")
    if not isinstance(value, dict):
        fail(f"the {name} segment is not a JSON object")
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


COMMANDS = (token, jwks, decode)

"""Click options shared by the commands (the CLI layer, beside cli.py): an error about a value
that came from a MOCKAUTH_* environment variable names that variable, not only the flag it
stands for; --config, --keys-dir, --issuer, --url and --admin-secret as every command spells
them; and how a command gives up (``fail``: the message, exit 2)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import urlsplit

import click
from click.core import ParameterSource

from mockauth.errors import MockAuthError
from mockauth.http.net import DEFAULT_HOST, DEFAULT_PORT, base_url, url_from_env
from mockauth.statedir import DEFAULT_HELP, default_state_dir
from mockauth.tenant.config import ServerConfig, default_config, issuer_problem, load_config

Command = Callable[..., Any]


def fail(message: str) -> NoReturn:
    click.echo(f"mockauth: {message}", err=True)
    sys.exit(2)


def load_or_fail(config_path: str | None) -> ServerConfig:
    """The config at ``config_path`` (None: the embedded default); exit 2 naming what is wrong."""
    try:
        return load_config(config_path) if config_path else default_config()
    except MockAuthError as exc:
        fail(str(exc))


class EnvOption(click.Option):
    """An option whose usage errors say when its value came from its environment variable:
    ``Invalid value for MOCKAUTH_PORT (for '--port'): 'abc' is not a valid integer range``."""

    def get_error_hint(self, ctx: click.Context | None) -> str:
        hint = super().get_error_hint(ctx)
        variable = from_env(ctx, self) if ctx is not None else None
        return f"{variable} (for {hint})" if variable else hint


def from_env(ctx: click.Context, param: click.Parameter) -> str | None:
    """The environment variable ``param``'s value came from, or None."""
    if param.name is None or ctx.get_parameter_source(param.name) != ParameterSource.ENVIRONMENT:
        return None
    envvar = getattr(param, "envvar", None)
    return envvar if isinstance(envvar, str) else None


def named(ctx: click.Context, name: str) -> str:
    """How to name the parameter ``name`` in a message: its variable when the value came from
    the environment (``MOCKAUTH_ADMIN_SECRET``), else its flag (``--admin-secret``)."""
    for param in ctx.command.params:
        if param.name == name:
            return from_env(ctx, param) or param.opts[0]
    return name


def env_option(*decls: str, **attrs: Any) -> Callable[[Any], Any]:
    """``click.option`` with :class:`EnvOption`."""
    return click.option(*decls, cls=EnvOption, **attrs)


def not_blank(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter("must not be empty")
    return value


config_option = env_option(
    "--config",
    "config_path",
    envvar="MOCKAUTH_CONFIG",
    type=click.Path(dir_okay=False),
    help="TOML config file (default: the embedded default config). [env: MOCKAUTH_CONFIG]",
)
keys_dir_option = env_option(
    "--keys-dir",
    envvar="MOCKAUTH_KEYS_DIR",
    default=lambda: str(default_state_dir()),
    show_default=DEFAULT_HELP,
    callback=not_blank,
    help="The state dir: signing keys, seal key, store, TLS CA. [env: MOCKAUTH_KEYS_DIR]",
)


def _default_url() -> str:
    try:
        return url_from_env()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _http_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{value!r} is not an http(s) URL")
    return value.rstrip("/")


url_option = env_option(
    "--url",
    envvar="MOCKAUTH_URL",
    default=_default_url,
    callback=_http_url,
    show_default=f"{base_url(DEFAULT_HOST, DEFAULT_PORT)}, or as MOCKAUTH_HOST, MOCKAUTH_PORT "
    "and MOCKAUTH_TLS say",
    help="Base URL of the running mockauth server. [env: MOCKAUTH_URL]",
)
admin_secret_option = env_option(
    "--admin-secret",
    envvar="MOCKAUTH_ADMIN_SECRET",
    help="Bearer secret of the admin API (needed when the server listens beyond loopback, "
    "or was started with one). [env: MOCKAUTH_ADMIN_SECRET]",
)


def _issuer(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    problem = issuer_problem(value) if value is not None else None
    if problem:
        raise click.BadParameter(f"{value!r} {problem}")
    return value


def issuer_option(default: str) -> Callable[[Command], Command]:
    """--issuer; ``default`` says where the issuer comes from when it is not given."""
    return env_option(
        "--issuer",
        envvar="MOCKAUTH_ISSUER",
        callback=_issuer,
        help=f"Issuer URL, no trailing slash (default: {default}). [env: MOCKAUTH_ISSUER]",
    )

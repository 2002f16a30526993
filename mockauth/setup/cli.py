"""Set-up commands: init, config (a config file), env, postman (values for clients of a
running server). Parse, call setup/*, print; exit 2 on usage errors and refusals, 1 when the
server cannot be reached (as the admin commands)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from mockauth.admin.options import answers
from mockauth.cliparams import (
    admin_secret_option,
    config_option,
    fail,
    keys_dir_option,
    load_or_fail,
    url_option,
)
from mockauth.setup import postman as pm
from mockauth.setup.remote import RunningServer, ca_bundle, client_for, describe
from mockauth.setup.sdkenv import FORMATS, SDKS, Target, choose_app, render, sdk_variables, warnings
from mockauth.setup.starter import STARTER_NAME, config_toml, write_starter


def _warn(message: str) -> None:
    click.echo(f"mockauth: warning: {message}", err=True)


@click.command()
@click.argument("path", default=STARTER_NAME, type=click.Path(dir_okay=True))
def init(path: str) -> None:
    """Write a commented starter config file to PATH (default: ./mockauth.toml; a directory:
    mockauth.toml in it). It never overwrites a file."""
    try:
        written = write_starter(path)
    except FileExistsError:
        fail(f"{path} exists; not overwritten (remove it, or name another file)")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")
    click.echo(f"wrote {written}: run `mockauth serve --config {written}`")


@click.command("config")
@config_option
def config_command(config_path: str | None) -> None:
    """Print the effective config as TOML (the embedded default, or --config's), secrets
    shown as the start-up block shows them. Save it to start a config file from."""
    click.echo(config_toml(load_or_fail(config_path)), nl=False)


def _server(url: str, secret: str | None, keys_dir: str) -> RunningServer:
    try:
        client = client_for(url, secret=secret, keys_dir=keys_dir)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--url'") from None
    with answers(client):
        return describe(client)
    raise AssertionError("unreachable")  # answers() exits on every error


@click.command()
@click.option(
    "--sdk",
    type=click.Choice(list(SDKS)),
    required=True,
    help="The Kinde SDK whose variables to print.",
)
@url_option
@admin_secret_option
@keys_dir_option
@click.option("--client-id", help="The app (default: the first of the kind the SDK signs in as).")
@click.option("--audience", help="An API audience for the SDK to ask for (its *_AUDIENCE).")
@click.option(
    "--site-url",
    help="Where your app runs (default: the SDK's usual local URL, e.g. http://localhost:3000).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="dotenv",
    show_default=True,
    help="dotenv (NAME=value: .env files, $GITHUB_ENV), shell (export ...), json.",
)
def env(
    sdk: str,
    url: str,
    admin_secret: str | None,
    keys_dir: str,
    client_id: str | None,
    audience: str | None,
    site_url: str | None,
    fmt: str,
) -> None:
    """Print the environment variables a Kinde SDK reads, for one app of a running server.

    \b
    mockauth env --sdk nextjs > .env.local
    mockauth env --sdk python --format shell
    mockauth env --sdk m2m --url https://127.0.0.1:8400     (over TLS: the CA variables too)
    """
    chosen = SDKS[sdk]
    server = _server(url, admin_secret, keys_dir)
    try:
        app = choose_app(chosen, server.apps, client_id)
    except LookupError as exc:
        fail(str(exc))
    site = (site_url or chosen.site).rstrip("/")
    target = Target(issuer=server.issuer, app=app, site=site, audience=audience)
    tls = server.url.startswith("https:")
    bundle = ca_bundle(keys_dir) if tls else None
    if bundle is not None and not bundle.is_file():
        _warn(f"no CA bundle at {bundle}: pass the --keys-dir the server runs on")
    if chosen.name == "m2m" and not tls:
        _warn(
            "Kinde's management clients (@kinde/management-api-js, the Python SDK's "
            "ManagementClient) only speak https: start the server with `mockauth serve --tls`"
        )
    if tls and not chosen.ca:
        _warn(f"a browser trusts no variable: import {bundle and bundle.parent / 'ca.crt'}")
    for problem in warnings(chosen, target):
        _warn(problem)
    click.echo(render(sdk_variables(chosen, target, ca_bundle=bundle), fmt), nl=False)


@click.command()
@url_option
@admin_secret_option
@keys_dir_option
@click.option("--client-id", help="The M2M app (default: the first M2M app).")
@click.option(
    "--audience",
    help="The API to get a token for (default: the app's first API that is not the "
    "Management API).",
)
@click.option("--scope", default="", help="Space-separated scopes (default: every one granted).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Where to write the two files.",
)
@click.option("--force", is_flag=True, help="Overwrite the files if they exist.")
def postman(
    url: str,
    admin_secret: str | None,
    keys_dir: str,
    client_id: str | None,
    audience: str | None,
    scope: str,
    out_dir: str,
    force: bool,
) -> None:
    """Write a Postman collection and environment for Kinde's M2M token guide, against a
    running server; run them with `newman run COLLECTION -e ENVIRONMENT` or import both."""
    server = _server(url, admin_secret, keys_dir)
    try:
        app = choose_app(SDKS["m2m"], server.apps, client_id)
    except LookupError as exc:
        fail(str(exc))
    granted: dict[str, list[str]] = app.get("apis", {})
    audience = audience or _own_api(granted, server.issuer)
    if audience not in granted:
        fail(f"app {app['client_id']} is not granted the audience {audience!r}")
    unknown = set(scope.split()) - set(granted[audience])
    if unknown:
        fail(f"app {app['client_id']} is not granted {' '.join(sorted(unknown))} on {audience}")
    setup = pm.M2MSetup(server.issuer, app["client_id"], app["client_secret"], audience, scope)
    files = {
        pm.COLLECTION_FILE: pm.collection(),
        pm.ENVIRONMENT_FILE: pm.environment(setup),
    }
    for name, document in files.items():
        click.echo(f"wrote {_write(Path(out_dir) / name, document, force=force)}")


def _own_api(granted: dict[str, list[str]], issuer: str) -> str:
    own = [aud for aud in granted if aud != issuer + "/api"]
    if not (own or granted):
        fail("the M2M app is granted no API: add one to its [apps.apis]")
    return (own or list(granted))[0]


def _write(path: Path, document: Any, *, force: bool) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w" if force else "x", encoding="utf-8") as fh:
            json.dump(document, fh, indent=2)
            fh.write("\n")
    except FileExistsError:
        fail(f"{path} exists; not overwritten (pass --force)")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")
    return path.resolve()


COMMANDS = [init, config_command, env, postman]

"""`mockauth env`: the environment variables each Kinde SDK reads, for one app of a server.

Names come from each SDK's source or its official starter kit (README "Kinde SDKs" lists
them); only the React and TypeScript SDKs read none themselves, so theirs are the starters'.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Variables = list[tuple[str, str]]
FORMATS = ("dotenv", "shell", "json")
# Trust variables by runtime: Node reads NODE_EXTRA_CA_CERTS (once, at start; added to its
# CAs); requests reads REQUESTS_CA_BUNDLE and httpx/urllib SSL_CERT_FILE (both replace the
# trusted CAs: hence the bundle, which holds this machine's CAs and the mock's).
NODE_CA = ("NODE_EXTRA_CA_CERTS",)
PYTHON_CA = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


@dataclass(frozen=True)
class Target:
    """What the variables describe: the server's issuer and one app's config table."""

    issuer: str
    app: Mapping[str, Any]
    site: str  # where the app itself runs, e.g. http://localhost:3000
    audience: str | None = None


@dataclass(frozen=True)
class Sdk:
    """One SDK: which kind of app it signs in as, where its app runs by default, which
    variables it reads and the callback and logout URLs it will send."""

    name: str
    app_type: str
    site: str
    variables: Callable[[Target], Variables]
    ca: tuple[str, ...]
    audience_name: str | None
    callback: Callable[[str], str] | None = None  # site -> the redirect_uri it sends
    logout: Callable[[str], str] | None = None  # site -> where logout returns to
    source: str = ""


def _nextjs(t: Target) -> Variables:
    return [
        ("KINDE_CLIENT_ID", t.app["client_id"]),
        ("KINDE_CLIENT_SECRET", t.app.get("client_secret") or ""),
        ("KINDE_ISSUER_URL", t.issuer),
        ("KINDE_SITE_URL", t.site),
        ("KINDE_POST_LOGOUT_REDIRECT_URL", t.site),
        ("KINDE_POST_LOGIN_REDIRECT_URL", t.site),
    ]


def _python(t: Target) -> Variables:
    return [
        ("KINDE_HOST", t.issuer),
        ("KINDE_CLIENT_ID", t.app["client_id"]),
        ("KINDE_CLIENT_SECRET", t.app.get("client_secret") or ""),
        ("KINDE_REDIRECT_URI", t.site + "/callback"),
    ]


def _vite(t: Target) -> Variables:
    return [
        ("VITE_KINDE_CLIENT_ID", t.app["client_id"]),
        ("VITE_KINDE_DOMAIN", t.issuer),
        ("VITE_KINDE_REDIRECT_URL", t.site),
        ("VITE_KINDE_LOGOUT_URL", t.site),
        ("VITE_ENABLE_AUTH", "true"),  # the starter renders without Kinde unless "true"
    ]


def _typescript(t: Target) -> Variables:
    return [
        ("KINDE_DOMAIN", t.issuer),
        ("KINDE_CLIENT_ID", t.app["client_id"]),
        ("KINDE_CLIENT_SECRET", t.app.get("client_secret") or ""),
        ("KINDE_REDIRECT_URI", t.site + "/callback"),
        ("KINDE_LOGOUT_REDIRECT_URI", t.site),
    ]


def _m2m(t: Target) -> Variables:
    return [
        ("KINDE_DOMAIN", t.issuer),
        ("KINDE_MANAGEMENT_CLIENT_ID", t.app["client_id"]),
        ("KINDE_MANAGEMENT_CLIENT_SECRET", t.app.get("client_secret") or ""),
    ]


SDKS: Mapping[str, Sdk] = {
    sdk.name: sdk
    for sdk in (
        Sdk(
            "nextjs",
            "regular",
            "http://localhost:3000",
            _nextjs,
            NODE_CA,
            "KINDE_AUDIENCE",
            callback=lambda site: site + "/api/auth/kinde_callback",
            logout=lambda site: site,
            source="@kinde-oss/kinde-auth-nextjs 2.13 src/config/index.ts",
        ),
        Sdk(
            "python",
            "regular",
            "http://localhost:8000",
            _python,
            PYTHON_CA,
            "KINDE_AUDIENCE",
            callback=lambda site: site + "/callback",
            # Its logout returns to KINDE_REDIRECT_URI unless the app passes another URL.
            logout=lambda site: site + "/callback",
            source="kinde-python-sdk 2.4 kinde_sdk/auth/oauth.py",
        ),
        Sdk(
            "react",
            "spa",
            "http://localhost:3000",  # the React starter's Vite config serves on 3000
            _vite,
            (),
            "VITE_KINDE_AUDIENCE",
            callback=lambda site: site,
            logout=lambda site: site,
            source="kinde-starter-kits/react-starter-kit .env_sample, src/config/auth.ts",
        ),
        Sdk(
            "vite",
            "spa",
            "http://localhost:5173",  # Vite's own default port
            _vite,
            (),
            "VITE_KINDE_AUDIENCE",
            callback=lambda site: site,
            logout=lambda site: site,
            source="as react, on Vite's default port",
        ),
        Sdk(
            "typescript",
            "regular",
            "http://localhost:3000",
            _typescript,
            NODE_CA,
            "KINDE_AUDIENCE",
            callback=lambda site: site + "/callback",
            logout=lambda site: site,
            source="kinde-starter-kits/kinde-nodejs-starter-kit .env_sample (the SDK reads none)",
        ),
        Sdk(
            "m2m",
            "m2m",
            "",
            _m2m,
            NODE_CA + PYTHON_CA,
            "KINDE_AUDIENCE",
            source="@kinde/management-api-js 0.18 README (Configuration)",
        ),
    )
}


def sdk_variables(sdk: Sdk, target: Target, *, ca_bundle: Path | None = None) -> Variables:
    """The variables ``sdk`` reads for ``target``; with a CA bundle (a server over TLS) the
    trust variables of its runtime too."""
    found = sdk.variables(target)
    if target.audience and sdk.audience_name:
        found.append((sdk.audience_name, target.audience))
    if ca_bundle is not None:
        found += [(name, str(ca_bundle)) for name in sdk.ca]
    return found


def choose_app(
    sdk: Sdk, apps: Sequence[Mapping[str, Any]], client_id: str | None
) -> Mapping[str, Any]:
    """The app ``client_id`` names, else the first app of the SDK's type; LookupError
    saying what there is when none fits."""
    if client_id is not None:
        for app in apps:
            if app["client_id"] == client_id:
                if app["type"] != sdk.app_type:
                    raise LookupError(
                        f"app {client_id} is a {app['type']} app; --sdk {sdk.name} signs in "
                        f"as a {sdk.app_type} app"
                    )
                return app
        raise LookupError(f"the server has no app with the client_id {client_id!r}")
    for app in apps:
        if app["type"] == sdk.app_type:
            return app
    raise LookupError(
        f"the server has no {sdk.app_type} app for --sdk {sdk.name}: add an [[apps]] table "
        f'with type = "{sdk.app_type}"'
    )


def warnings(sdk: Sdk, target: Target) -> list[str]:
    """What would fail later: an audience the app is not granted, a callback or logout URL
    the app does not allow."""
    found = []
    granted = target.app.get("apis", {})
    if target.audience and target.audience not in granted:
        found.append(
            f"app {target.app['client_id']} is not granted the audience {target.audience}: "
            "its token requests will get unauthorized_client"
        )
    for what, url_of, allowed in (
        ("callback", sdk.callback, "redirect_uris"),
        ("logout redirect", sdk.logout, "logout_uris"),
    ):
        url = url_of(target.site) if url_of else None
        if (
            url
            and url not in target.app.get(allowed, [])
            and url + "/" not in target.app.get(allowed, [])
        ):
            found.append(
                f"the {sdk.name} SDK's {what} {url} is not in app {target.app['client_id']}'s "
                f"{allowed}: add it to the app (config or admin API), or pass --site-url"
            )
    return found


_PLAIN = re.compile(r"[A-Za-z0-9_./:@%+,=-]*\Z")


def render(variables: Variables, fmt: str) -> str:
    """``dotenv`` (NAME=value, quoted only when needed), ``shell`` (export NAME='value') or
    ``json`` (one object)."""
    if fmt == "json":
        return json.dumps(dict(variables), indent=2) + "\n"
    if fmt == "shell":
        return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables)
    if fmt == "dotenv":
        return "".join(f"{name}={_dotenv(value)}\n" for name, value in variables)
    raise ValueError(f"unknown format {fmt!r}")


def _dotenv(value: str) -> str:
    if _PLAIN.match(value):
        return value
    if "'" not in value and "\n" not in value:
        return f"'{value}'"  # single quotes: no expansion in dotenv readers
    for char, escape in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("$", "\\$")):
        value = value.replace(char, escape)
    return f'"{value}"'

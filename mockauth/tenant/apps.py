"""The tenant's apps: client applications, what each is granted on each API, and the token
lifetimes they get; read from ``[[apps]]`` and ``[lifetimes]`` tables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from mockauth.errors import _MISSING
from mockauth.tenant.apis import Api
from mockauth.tenant.catalog import Catalog, parse_values
from mockauth.tenant.people import ORG_CODE, ORIGIN, redirect_uri_problem
from mockauth.tenant.validate import AUDIENCE, SCOPE, TEXT, Bounds, Reader, Text, whole

CLIENT_ID = Text("^[0-9a-f]{32}$", "must be 32 lowercase hex characters")
# The TypeScript SDK refuses any other secret before sending it.
CLIENT_SECRET = Text("^[A-Za-z0-9]{40,60}$", "must be 40 to 60 ASCII letters and digits")
CLIENT_ID_RE = CLIENT_ID.regex
CLIENT_SECRET_RE = CLIENT_SECRET.regex
APP_TYPES = ("m2m", "regular", "spa", "device")
# What an app may opt in to on its tokens (Kinde's per-app token settings).
INCLUDE_CLAIMS = (
    "application_properties",
    "feature_flags",
    "organization_properties",
    "organizations",
    "user_properties",
)
# App types that keep no secret (a browser or a device holds nothing safe) ...
PUBLIC_APP_TYPES = ("spa", "device")
# ... and those no browser comes back to (no callback URLs).
NO_CALLBACK_APP_TYPES = ("m2m", "device")
APP_KEYS = frozenset(
    {
        "name",
        "type",
        "client_id",
        "client_secret",
        "org_code",
        "claims",
        "apis",
        "lifetimes",
        "redirect_uris",
        "logout_uris",
        "allowed_origins",
        "properties",
        "include_claims",
        "login_uri",
        "homepage_uri",
    }
)
TEN_YEARS = 10 * 365 * 86_400
LIFETIMES: dict[str, Bounds] = {
    "access_token": Bounds(1, TEN_YEARS, integer=True),
    "id_token": Bounds(1, TEN_YEARS, integer=True),
    "refresh_token": Bounds(1, TEN_YEARS, integer=True),
    "refresh_grace": Bounds(0, 3600, integer=True),
}
# Claims the token factory owns; config may not override them.
RESERVED_CLAIMS = frozenset(
    {"aud", "azp", "exp", "gty", "iat", "iss", "jti", "nbf", "scope", "scp", "sub", "v", "org_code"}
)


@dataclass(frozen=True, kw_only=True)
class Lifetimes:
    """Token lifetimes in seconds; ``refresh_grace``: how long a refresh token still
    refreshes after it was rotated out (Kinde allows "a small overlap"; 0: at once)."""

    access_token: int = 86_400
    id_token: int = 3_600
    refresh_token: int = 1_296_000
    refresh_grace: int = 30


@dataclass(frozen=True, kw_only=True)
class App:
    """A client application and what it is granted on each API."""

    name: str
    client_id: str
    type: str = "m2m"
    client_secret: str | None = None
    org_code: str | None = None
    claims: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    apis: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    lifetimes: Lifetimes | None = None
    # Kinde's "Allowed callback URLs" and "Allowed logout redirect URLs" (user login).
    redirect_uris: tuple[str, ...] = ()
    logout_uris: tuple[str, ...] = ()
    # Pages of other origins that may call the token endpoint and the APIs from a browser.
    allowed_origins: tuple[str, ...] = ()
    # Property values (context app), claims opted in to (INCLUDE_CLAIMS), app URLs.
    properties: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    include_claims: tuple[str, ...] = ()
    login_uri: str | None = None
    homepage_uri: str | None = None

    @property
    def origins(self) -> frozenset[str]:
        """The origins whose pages may call this app's endpoints from a browser (CORS): its
        callbacks', its logout URLs' and ``allowed_origins``."""
        uris = (*self.redirect_uris, *self.logout_uris, *self.allowed_origins)
        return frozenset(o for o in map(origin_of, uris) if o)


def origin_of(uri: str) -> str | None:
    """The origin of an http(s) URL as a browser sends it (``http://localhost:3000``)."""
    parts = urlsplit(uri)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    default = {"http": 80, "https": 443}[parts.scheme.lower()]
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    suffix = "" if port in (None, default) else f":{port}"
    return f"{parts.scheme.lower()}://{host}{suffix}"


def app_table(app: App) -> dict[str, Any]:
    """An app as its config table (JSON-ready): what parses back to the same app."""
    out: dict[str, Any] = {"name": app.name, "type": app.type, "client_id": app.client_id}
    if app.client_secret is not None:
        out["client_secret"] = app.client_secret
    if app.org_code is not None:
        out["org_code"] = app.org_code
    out["claims"] = dict(app.claims)
    out["apis"] = {aud: list(scopes) for aud, scopes in app.apis.items()}
    if app.redirect_uris:
        out["redirect_uris"] = list(app.redirect_uris)
    if app.logout_uris:
        out["logout_uris"] = list(app.logout_uris)
    if app.allowed_origins:
        out["allowed_origins"] = list(app.allowed_origins)
    if app.lifetimes is not None:
        out["lifetimes"] = lifetimes_table(app.lifetimes)
    for name, value in (
        ("properties", dict(app.properties)),
        ("include_claims", list(app.include_claims)),
        ("login_uri", app.login_uri),
        ("homepage_uri", app.homepage_uri),
    ):
        if value:
            out[name] = value
    return out


def lifetimes_table(lifetimes: Lifetimes) -> dict[str, int]:
    return {
        "access_token": lifetimes.access_token,
        "id_token": lifetimes.id_token,
        "refresh_token": lifetimes.refresh_token,
        "refresh_grace": lifetimes.refresh_grace,
    }


def parse_app(
    value: object,
    *,
    source: str,
    apis: tuple[Api, ...],
    key: str = "app",
    catalog: Catalog | None = None,
) -> App:
    """Validate one ``[[apps]]`` table (or its JSON form) against the defined ``apis``."""
    return read_app(Reader(source), value, key, {a.audience: a for a in apis}, catalog)


def read_lifetimes(v: Reader, value: object, key: str, base: Lifetimes) -> Lifetimes:
    """A ``lifetimes`` table read by ``v``: ``base`` with the lifetimes it sets."""
    data = v.table(value, key, LIFETIMES)
    out: dict[str, int] = {}
    for name, bounds in LIFETIMES.items():
        if name not in data:
            continue
        seconds = whole(data[name])
        if seconds is None:
            raise v.fail(f"{key}.{name}", data[name], "must be an integer")
        if not bounds.low <= seconds <= bounds.high:
            reason = f"must be between {bounds.low} and {bounds.high} seconds"
            raise v.fail(f"{key}.{name}", seconds, reason)
        out[name] = seconds
    return replace(base, **out)


def read_app(
    v: Reader, value: object, key: str, apis: dict[str, Api], catalog: Catalog | None = None
) -> App:
    """One ``[[apps]]`` table read by ``v``, granted only what ``apis`` (by audience) define."""
    data = v.table(value, key, APP_KEYS)
    name = v.matches(f"{key}.name", v.typed(data, "name", f"{key}.name", str), TEXT)
    app_type = v.typed(data, "type", f"{key}.type", str, "m2m")
    if app_type not in APP_TYPES:
        raise v.fail(f"{key}.type", app_type, f"must be one of {', '.join(APP_TYPES)}")
    client_id = v.typed(data, "client_id", f"{key}.client_id", str)
    v.matches(f"{key}.client_id", client_id, CLIENT_ID)
    secret = v.text(data, "client_secret", f"{key}.client_secret", CLIENT_SECRET)
    if secret is None and app_type not in PUBLIC_APP_TYPES:
        raise v.fail(f"{key}.client_secret", _MISSING, f"required for {app_type} apps")
    org_code = v.text(data, "org_code", f"{key}.org_code", ORG_CODE)
    claims = v.claims(data, key, RESERVED_CLAIMS)
    grants = _grants(v, data.get("apis", {}), f"{key}.apis", apis)
    lifetimes = None
    if "lifetimes" in data:
        lifetimes = read_lifetimes(v, data["lifetimes"], f"{key}.lifetimes", Lifetimes())
    redirect_uris = _uris(v, data, "redirect_uris", key)
    if redirect_uris and app_type in NO_CALLBACK_APP_TYPES:
        reason = f"{app_type} apps have no callback (no browser comes back to them)"
        raise v.fail(f"{key}.redirect_uris", list(redirect_uris), reason)
    _, properties = parse_values(v, data, key, catalog or Catalog(), "app")
    include = v.strings(
        data.get("include_claims", []),
        f"{key}.include_claims",
        lambda c: c in INCLUDE_CLAIMS,
        "one of " + ", ".join(INCLUDE_CLAIMS),
    )
    return App(
        properties=MappingProxyType(properties),
        include_claims=include,
        login_uri=_url(v, data, "login_uri", key),
        homepage_uri=_url(v, data, "homepage_uri", key),
        name=name,
        type=app_type,
        client_id=client_id,
        client_secret=secret,
        org_code=org_code,
        claims=MappingProxyType(claims),
        apis=MappingProxyType(grants),
        lifetimes=lifetimes,
        redirect_uris=redirect_uris,
        logout_uris=_uris(v, data, "logout_uris", key),
        allowed_origins=_origins(v, data, key),
    )


def _origins(v: Reader, data: dict[str, Any], key: str) -> tuple[str, ...]:
    return v.strings(data.get("allowed_origins", []), f"{key}.allowed_origins", ORIGIN)


def _url(v: Reader, data: dict[str, Any], name: str, key: str) -> str | None:
    uri: str | None = v.typed(data, name, f"{key}.{name}", str, None)
    problem = None if uri is None else redirect_uri_problem(uri)
    if problem:
        raise v.fail(f"{key}.{name}", uri, problem)
    return uri


def _uris(v: Reader, data: dict[str, Any], name: str, key: str) -> tuple[str, ...]:
    where = f"{key}.{name}"
    uris = v.strings(data.get(name, []), where, lambda u: True, "a URI")
    for i, uri in enumerate(uris):
        problem = redirect_uri_problem(uri)
        if problem:
            raise v.fail(f"{where}[{i}]", uri, problem)
    return uris


def _grants(v: Reader, value: object, key: str, apis: dict[str, Api]) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise v.fail(key, value, "must be a table of audience = [scopes]")
    out: dict[str, tuple[str, ...]] = {}
    for audience, scopes in value.items():
        where = f"{key}.'{audience}'"
        v.matches(f"{where} (the audience)", audience, AUDIENCE)
        api = apis.get(audience)
        if api is None:
            raise v.conflict(where, scopes, f"audience {audience!r} is not defined in [[apis]]")
        if scopes == "*":  # every scope the API defines
            out[audience] = api.scopes
            continue
        granted = v.strings(scopes, where, SCOPE)
        for i, scope in enumerate(granted):
            if scope not in api.scopes:
                raise v.conflict(
                    f"{where}[{i}]", scope, f"scope is not defined by API {audience!r}"
                )
        out[audience] = granted
    return out

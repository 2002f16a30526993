"""Frozen tenant configuration: APIs, apps, lifetimes; loaded from TOML and validated once."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from mockauth.errors import _MISSING, FILE_KEY, ConfigError
from mockauth.faults.rules import FaultRule, parse_rules
from mockauth.tenant.catalog import Catalog, parse_catalog, parse_values
from mockauth.tenant.defaults import DEFAULT_CONFIG_TOML as DEFAULT_CONFIG_TOML
from mockauth.tenant.environment import Environment, parse_environment
from mockauth.tenant.mgmt_scopes import MANAGEMENT_SCOPES, is_management_audience
from mockauth.tenant.people import (
    ORG_CODE,
    ORIGIN,
    Org,
    User,
    parse_org,
    parse_orgs,
    parse_user,
    parse_users,
    redirect_uri_problem,
)
from mockauth.tenant.validate import (
    AUDIENCE,
    SCOPE,
    TEXT,
    Bounds,
    Reader,
    Text,
    whole,
)

ISSUER_PLACEHOLDER = "{issuer}"
CLIENT_ID = Text("^[0-9a-f]{32}$", "must be 32 lowercase hex characters")
# The TypeScript SDK refuses any other secret before sending it.
CLIENT_SECRET = Text("^[A-Za-z0-9]{40,60}$", "must be 40 to 60 ASCII letters and digits")
CLIENT_ID_RE = CLIENT_ID.regex
CLIENT_SECRET_RE = CLIENT_SECRET.regex
SCOPE_RE = SCOPE.regex
DESCRIPTION = Text(TEXT.pattern, "must be text of at most 1000 characters", 1000)
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
API_KEYS = frozenset({"name", "audience", "scopes", "scope_descriptions"})
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
class Api:
    """A protected API: an audience and the scopes it defines."""

    audience: str
    scopes: tuple[str, ...] = ()
    name: str = ""
    scope_descriptions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def id(self) -> str:
        """Kinde's API id (32 hex), stable per audience."""
        return hashlib.sha256(f"api:{self.audience}".encode()).hexdigest()[:32]


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


@dataclass(frozen=True, kw_only=True)
class Business:
    """The business (Kinde's account) as the Management API describes it."""

    name: str = "mockauth"
    email: str = ""
    phone: str = ""
    industry: str = ""
    timezone: str = ""
    privacy_url: str = ""
    terms_url: str = ""
    has_clickwrap: bool = False
    has_kinde_branding: bool = True


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """Everything the tenant serves; ``issuer=None`` means the server's own base URL."""

    issuer: str | None = None
    lifetimes: Lifetimes = field(default_factory=Lifetimes)
    apis: tuple[Api, ...] = ()
    apps: tuple[App, ...] = ()
    faults: tuple[FaultRule, ...] = ()
    users: tuple[User, ...] = ()
    orgs: tuple[Org, ...] = ()
    # Permissions, roles, feature flags, properties and property categories.
    catalog: Catalog = field(default_factory=Catalog)
    business: Business = field(default_factory=Business)
    environment: Environment = field(default_factory=Environment)  # passkey policy, logos
    # The authorization endpoint shows a page to pick the user (unless login_hint names one).
    login_page: bool = False
    # Seconds a rotated-out key stays published; None: until retired explicitly.
    key_overlap: float | None = None
    source: str = "<default>"

    def with_issuer(self, issuer: str) -> ServerConfig:
        """Return a copy with ``{issuer}`` in audiences replaced by ``issuer``."""

        def sub(aud: str) -> str:
            return aud.replace(ISSUER_PLACEHOLDER, issuer)

        apis = tuple(replace(a, audience=sub(a.audience)) for a in self.apis)
        first: dict[str, int] = {}
        for i, api in enumerate(apis):
            j = first.setdefault(api.audience, i)
            if j != i:  # one of them was written {issuer}/...: its grants would be lost
                raise ConfigError(
                    self.source,
                    f"apis[{i}].audience",
                    self.apis[i].audience,
                    f"is the audience of apis[{j}] too once {{issuer}} is {issuer}",
                )
        apps = tuple(
            replace(app, apis=MappingProxyType({sub(k): v for k, v in app.apis.items()}))
            for app in self.apps
        )
        return replace(self, issuer=issuer, apis=apis, apps=apps)

    def app(self, client_id: str) -> App | None:
        """The app with this client id, if any."""
        for app in self.apps:
            if app.client_id == client_id:
                return app
        return None

    def lifetimes_for(self, app: App) -> Lifetimes:
        return app.lifetimes or self.lifetimes


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


def api_table(api: Api) -> dict[str, Any]:
    """An API as its config table."""
    out: dict[str, Any] = {"name": api.name, "audience": api.audience, "scopes": list(api.scopes)}
    if api.scope_descriptions:
        out["scope_descriptions"] = dict(api.scope_descriptions)
    return out


def business_table(business: Business) -> dict[str, Any]:
    return {name: getattr(business, name) for name in _BUSINESS_KEYS + _BUSINESS_FLAGS}


_BUSINESS_KEYS = ("name", "email", "phone", "industry", "timezone", "privacy_url", "terms_url")
_BUSINESS_FLAGS = ("has_clickwrap", "has_kinde_branding")


def lifetimes_table(lifetimes: Lifetimes) -> dict[str, int]:
    return {
        "access_token": lifetimes.access_token,
        "id_token": lifetimes.id_token,
        "refresh_token": lifetimes.refresh_token,
        "refresh_grace": lifetimes.refresh_grace,
    }


# An origin's authority: a bracketed IPv6 address or a host name (letters, digits, '.', '-',
# and '_' as in container names), then an optional port.
_AUTHORITY_RE = re.compile(
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)(:\d+)?"
)


def issuer_problem(issuer: str) -> str | None:
    """Why ``issuer`` cannot be an issuer, or None.

    Kinde issuers are bare origins (``https://acme.kinde.com``) and clients compare ``iss``
    byte for byte, so no trailing slash and no path (mockauth serves at the root).
    """
    origin = "must be an http:// or https:// origin (scheme://host[:port]) with no path"
    scheme, sep, authority = issuer.partition("://")
    if scheme not in ("http", "https") or not sep:
        return origin
    if authority.endswith("/") and _AUTHORITY_RE.fullmatch(authority[:-1]):
        return "must not end with '/' (clients compare iss byte for byte)"
    match = _AUTHORITY_RE.fullmatch(authority)
    if match is None:
        return origin
    host, port = match.group(1), match.group(2)
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return origin
    if port is not None and not 0 < int(port[1:]) < 65536:
        return origin
    return None


def load_config(path: str | Path) -> ServerConfig:
    """Read and validate a TOML config file; raise ConfigError naming file, key and value."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(source, FILE_KEY, source, f"cannot read: {exc.strerror}") from exc
    return parse_config(raw, source=source)


def default_config() -> ServerConfig:
    """The embedded default config: two APIs, an M2M app, a web app, a SPA, a device app,
    an organisation and a user."""
    return parse_config(DEFAULT_CONFIG_TOML.encode(), source="<default>")


def parse_api(value: object, *, source: str, key: str = "api", issuer: str | None = None) -> Api:
    """Validate one ``[[apis]]`` table (or its JSON form), as the config file would; the
    Management API (``issuer``/api) defines every Management API scope."""
    return _ConfigReader(source).api(value, key, issuer)


def parse_app(
    value: object,
    *,
    source: str,
    apis: tuple[Api, ...],
    key: str = "app",
    catalog: Catalog | None = None,
) -> App:
    """Validate one ``[[apps]]`` table (or its JSON form) against the defined ``apis``."""
    return _ConfigReader(source).app(value, key, {a.audience: a for a in apis}, catalog)


def parse_user_table(
    value: object,
    *,
    source: str,
    orgs: tuple[Org, ...],
    key: str = "user",
    catalog: Catalog | None = None,
) -> User:
    """Validate one ``[[users]]`` table (or its JSON form) against the defined ``orgs``."""
    return parse_user(_ConfigReader(source), value, key, {o.code for o in orgs}, catalog)


def parse_org_table(
    value: object, *, source: str, key: str = "org", catalog: Catalog | None = None
) -> Org:
    """Validate one ``[[orgs]]`` table (or its JSON form)."""
    return parse_org(_ConfigReader(source), value, key, catalog)


def parse_business(value: object, *, source: str, key: str = "business") -> Business:
    """Validate the ``[business]`` table."""
    v = _ConfigReader(source)
    data = v.table(value, key, _BUSINESS_KEYS + _BUSINESS_FLAGS)
    out: dict[str, Any] = {
        name: v.typed(data, name, f"{key}.{name}", bool, getattr(Business(), name))
        for name in _BUSINESS_FLAGS
    }
    for name in _BUSINESS_KEYS:
        text = v.typed(data, name, f"{key}.{name}", str, getattr(Business(), name))
        if len(text) > 256:
            raise v.fail(f"{key}.{name}", text[:40] + "...", "must be at most 256 chars")
        out[name] = text
    return Business(**out)


def parse_config(raw: bytes, *, source: str) -> ServerConfig:
    """Validate TOML bytes into a ServerConfig."""
    try:
        text = raw.decode("utf-8-sig")  # a BOM some editors write is fine
    except UnicodeDecodeError as exc:
        raise ConfigError(source, FILE_KEY, source, "not UTF-8 text") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        reason = f"not valid TOML: {exc}{_quoted_line(text, str(exc))}"
        raise ConfigError(source, FILE_KEY, source, reason) from exc
    return _ConfigReader(source).config(data)


def _quoted_line(text: str, message: str) -> str:
    """The line a TOML error points at, so the message shows the key and value."""
    found = re.search(r"\(at line (\d+), column \d+\)", message)
    lines = text.splitlines()
    if found is None or not 0 < int(found.group(1)) <= len(lines):
        return ""
    line = lines[int(found.group(1)) - 1].strip()
    return f": {line[:80]!r}" if line else ""


class _ConfigReader(Reader):
    """Reads the config file's tables (and the same tables from the admin API or a marker)."""

    def config(self, data: dict[str, Any]) -> ServerConfig:
        self.table(
            data,
            "",
            {
                "issuer",
                "lifetimes",
                "apis",
                "apps",
                "faults",
                "keys",
                "users",
                "orgs",
                "login_page",
                "permissions",
                "roles",
                "feature_flags",
                "properties",
                "property_categories",
                "business",
                "environment",
            },
        )
        issuer = self.typed(data, "issuer", "issuer", str, None)
        problem = issuer_problem(issuer) if issuer is not None else None
        if problem:
            raise self.fail("issuer", issuer, problem)
        lifetimes = self.lifetimes(data.get("lifetimes", {}), "lifetimes", Lifetimes())
        catalog = parse_catalog(self, data)
        apis = tuple(
            self.api(a, f"apis[{i}]", issuer) for i, a in enumerate(self.array(data, "apis"))
        )
        self.unique([a.audience for a in apis], "apis", "audience")
        by_aud = {a.audience: a for a in apis}
        apps = tuple(
            self.app(a, f"apps[{i}]", by_aud, catalog)
            for i, a in enumerate(self.array(data, "apps"))
        )
        self.unique([a.client_id for a in apps], "apps", "client_id")
        faults = parse_rules(self.array(data, "faults"), source=self.source, key="faults")
        orgs = parse_orgs(self, self.array(data, "orgs"), catalog)
        users = parse_users(self, self.array(data, "users"), orgs, catalog)
        business = parse_business(data.get("business", {}), source=self.source)
        return ServerConfig(
            catalog=catalog,
            business=business,
            environment=parse_environment(self, data.get("environment", {})),
            users=users,
            orgs=orgs,
            login_page=self.typed(data, "login_page", "login_page", bool, False),
            issuer=issuer,
            lifetimes=lifetimes,
            apis=apis,
            apps=apps,
            faults=tuple(faults),
            key_overlap=self.key_overlap(data.get("keys", {})),
            source=self.source,
        )

    def key_overlap(self, value: object) -> float | None:
        data = self.table(value, "keys", {"overlap"})
        overlap = data.get("overlap")
        if overlap is None:
            return None
        if isinstance(overlap, bool) or not isinstance(overlap, int | float):
            raise self.fail("keys.overlap", overlap, "must be a number of seconds")
        if not 0 <= overlap <= 10 * 365 * 86_400:
            raise self.fail("keys.overlap", overlap, "must be between 0 and 315360000 seconds")
        return float(overlap)

    def lifetimes(self, value: object, key: str, base: Lifetimes) -> Lifetimes:
        data = self.table(value, key, LIFETIMES)
        out: dict[str, int] = {}
        for name, bounds in LIFETIMES.items():
            if name not in data:
                continue
            seconds = whole(data[name])
            if seconds is None:
                raise self.fail(f"{key}.{name}", data[name], "must be an integer")
            if not bounds.low <= seconds <= bounds.high:
                reason = f"must be between {bounds.low} and {bounds.high} seconds"
                raise self.fail(f"{key}.{name}", seconds, reason)
            out[name] = seconds
        return replace(base, **out)

    def api(self, value: object, key: str, issuer: str | None = None) -> Api:
        data = self.table(value, key, API_KEYS)
        audience = self.typed(data, "audience", f"{key}.audience", str)
        self.matches(f"{key}.audience", audience, AUDIENCE)
        scopes = self.strings(data.get("scopes", []), f"{key}.scopes", SCOPE)
        if is_management_audience(audience, issuer):  # Kinde's API: every scope it has
            scopes = (*scopes, *(s for s in MANAGEMENT_SCOPES if s not in scopes))
        name = self.text(data, "name", f"{key}.name", TEXT, default=audience)
        descriptions = self.typed(data, "scope_descriptions", f"{key}.scope_descriptions", dict, {})
        for scope, text in descriptions.items():
            where = f"{key}.scope_descriptions.{scope}"
            self.matches(where, text, DESCRIPTION)
            if scope not in scopes:
                raise self.conflict(where, text, "must name a scope of this API")
        return Api(
            audience=audience,
            scopes=scopes,
            name=name,
            scope_descriptions=MappingProxyType(dict(descriptions)),
        )

    def app(
        self, value: object, key: str, apis: dict[str, Api], catalog: Catalog | None = None
    ) -> App:
        data = self.table(value, key, APP_KEYS)
        name = self.matches(f"{key}.name", self.typed(data, "name", f"{key}.name", str), TEXT)
        app_type = self.typed(data, "type", f"{key}.type", str, "m2m")
        if app_type not in APP_TYPES:
            raise self.fail(f"{key}.type", app_type, f"must be one of {', '.join(APP_TYPES)}")
        client_id = self.typed(data, "client_id", f"{key}.client_id", str)
        self.matches(f"{key}.client_id", client_id, CLIENT_ID)
        secret = self.text(data, "client_secret", f"{key}.client_secret", CLIENT_SECRET)
        if secret is None and app_type not in PUBLIC_APP_TYPES:
            raise self.fail(f"{key}.client_secret", _MISSING, f"required for {app_type} apps")
        org_code = self.text(data, "org_code", f"{key}.org_code", ORG_CODE)
        claims = self.claims(data, key, RESERVED_CLAIMS)
        grants = self.grants(data.get("apis", {}), f"{key}.apis", apis)
        lifetimes = None
        if "lifetimes" in data:
            lifetimes = self.lifetimes(data["lifetimes"], f"{key}.lifetimes", Lifetimes())
        redirect_uris = self.uris(data, "redirect_uris", key)
        if redirect_uris and app_type in NO_CALLBACK_APP_TYPES:
            reason = f"{app_type} apps have no callback (no browser comes back to them)"
            raise self.fail(f"{key}.redirect_uris", list(redirect_uris), reason)
        _, properties = parse_values(self, data, key, catalog or Catalog(), "app")
        include = self.strings(
            data.get("include_claims", []),
            f"{key}.include_claims",
            lambda c: c in INCLUDE_CLAIMS,
            "one of " + ", ".join(INCLUDE_CLAIMS),
        )
        return App(
            properties=MappingProxyType(properties),
            include_claims=include,
            login_uri=self.url(data, "login_uri", key),
            homepage_uri=self.url(data, "homepage_uri", key),
            name=name,
            type=app_type,
            client_id=client_id,
            client_secret=secret,
            org_code=org_code,
            claims=MappingProxyType(claims),
            apis=MappingProxyType(grants),
            lifetimes=lifetimes,
            redirect_uris=redirect_uris,
            logout_uris=self.uris(data, "logout_uris", key),
            allowed_origins=self.origins(data, key),
        )

    def origins(self, data: dict[str, Any], key: str) -> tuple[str, ...]:
        return self.strings(data.get("allowed_origins", []), f"{key}.allowed_origins", ORIGIN)

    def url(self, data: dict[str, Any], name: str, key: str) -> str | None:
        uri: str | None = self.typed(data, name, f"{key}.{name}", str, None)
        problem = None if uri is None else redirect_uri_problem(uri)
        if problem:
            raise self.fail(f"{key}.{name}", uri, problem)
        return uri

    def uris(self, data: dict[str, Any], name: str, key: str) -> tuple[str, ...]:
        where = f"{key}.{name}"
        uris = self.strings(data.get(name, []), where, lambda u: True, "a URI")
        for i, uri in enumerate(uris):
            problem = redirect_uri_problem(uri)
            if problem:
                raise self.fail(f"{where}[{i}]", uri, problem)
        return uris

    def grants(self, value: object, key: str, apis: dict[str, Api]) -> dict[str, tuple[str, ...]]:
        if not isinstance(value, dict):
            raise self.fail(key, value, "must be a table of audience = [scopes]")
        out: dict[str, tuple[str, ...]] = {}
        for audience, scopes in value.items():
            where = f"{key}.'{audience}'"
            self.matches(f"{where} (the audience)", audience, AUDIENCE)
            api = apis.get(audience)
            if api is None:
                raise self.conflict(
                    where, scopes, f"audience {audience!r} is not defined in [[apis]]"
                )
            if scopes == "*":  # every scope the API defines
                out[audience] = api.scopes
                continue
            granted = self.strings(scopes, where, SCOPE)
            for i, scope in enumerate(granted):
                if scope not in api.scopes:
                    raise self.conflict(
                        f"{where}[{i}]", scope, f"scope is not defined by API {audience!r}"
                    )
            out[audience] = granted
        return out

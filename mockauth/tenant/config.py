"""The tenant's configuration as frozen data (ServerConfig): loaded from TOML, validated once.

Each kind has its own module that reads its tables (apis.py, apps.py, people.py, catalog.py,
faults/rules.py); this one reads the file and what belongs to the whole tenant (issuer, keys,
business).
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mockauth.errors import FILE_KEY, ConfigError
from mockauth.faults.rules import FaultRule, parse_rules
from mockauth.tenant.apis import Api, read_api
from mockauth.tenant.apps import App, Lifetimes, read_app, read_lifetimes
from mockauth.tenant.catalog import Catalog, parse_catalog
from mockauth.tenant.defaults import DEFAULT_CONFIG_TOML as DEFAULT_CONFIG_TOML
from mockauth.tenant.environment import Environment, parse_environment
from mockauth.tenant.people import Org, User, parse_orgs, parse_users
from mockauth.tenant.validate import Reader

ISSUER_PLACEHOLDER = "{issuer}"


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


def business_table(business: Business) -> dict[str, Any]:
    return {name: getattr(business, name) for name in _BUSINESS_KEYS + _BUSINESS_FLAGS}


_BUSINESS_KEYS = ("name", "email", "phone", "industry", "timezone", "privacy_url", "terms_url")
_BUSINESS_FLAGS = ("has_clickwrap", "has_kinde_branding")


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


def parse_business(value: object, *, source: str, key: str = "business") -> Business:
    """Validate the ``[business]`` table."""
    v = Reader(source)
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
    return _read_config(Reader(source), data)


def _quoted_line(text: str, message: str) -> str:
    """The line a TOML error points at, so the message shows the key and value."""
    found = re.search(r"\(at line (\d+), column \d+\)", message)
    lines = text.splitlines()
    if found is None or not 0 < int(found.group(1)) <= len(lines):
        return ""
    line = lines[int(found.group(1)) - 1].strip()
    return f": {line[:80]!r}" if line else ""


def _read_config(v: Reader, data: dict[str, Any]) -> ServerConfig:
    v.table(
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
    issuer = v.typed(data, "issuer", "issuer", str, None)
    problem = issuer_problem(issuer) if issuer is not None else None
    if problem:
        raise v.fail("issuer", issuer, problem)
    lifetimes = read_lifetimes(v, data.get("lifetimes", {}), "lifetimes", Lifetimes())
    catalog = parse_catalog(v, data)
    apis = tuple(read_api(v, a, f"apis[{i}]", issuer) for i, a in enumerate(v.array(data, "apis")))
    v.unique([a.audience for a in apis], "apis", "audience")
    by_aud = {a.audience: a for a in apis}
    apps = tuple(
        read_app(v, a, f"apps[{i}]", by_aud, catalog) for i, a in enumerate(v.array(data, "apps"))
    )
    v.unique([a.client_id for a in apps], "apps", "client_id")
    faults = parse_rules(v.array(data, "faults"), source=v.source, key="faults")
    orgs = parse_orgs(v, v.array(data, "orgs"), catalog)
    users = parse_users(v, v.array(data, "users"), orgs, catalog)
    business = parse_business(data.get("business", {}), source=v.source)
    return ServerConfig(
        catalog=catalog,
        business=business,
        environment=parse_environment(v, data.get("environment", {})),
        users=users,
        orgs=orgs,
        login_page=v.typed(data, "login_page", "login_page", bool, False),
        issuer=issuer,
        lifetimes=lifetimes,
        apis=apis,
        apps=apps,
        faults=tuple(faults),
        key_overlap=_key_overlap(v, data.get("keys", {})),
        source=v.source,
    )


def _key_overlap(v: Reader, value: object) -> float | None:
    data = v.table(value, "keys", {"overlap"})
    overlap = data.get("overlap")
    if overlap is None:
        return None
    if isinstance(overlap, bool) or not isinstance(overlap, int | float):
        raise v.fail("keys.overlap", overlap, "must be a number of seconds")
    if not 0 <= overlap <= 10 * 365 * 86_400:
        raise v.fail("keys.overlap", overlap, "must be between 0 and 315360000 seconds")
    return float(overlap)

"""The APIs a tenant protects: an audience and the scopes it defines, read from ``[[apis]]``."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mockauth.tenant.mgmt_scopes import MANAGEMENT_SCOPES, is_management_audience
from mockauth.tenant.validate import AUDIENCE, SCOPE, TEXT, Reader, Text

SCOPE_RE = SCOPE.regex
DESCRIPTION = Text(TEXT.pattern, "must be text of at most 1000 characters", 1000)
API_KEYS = frozenset({"name", "audience", "scopes", "scope_descriptions"})


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


def api_table(api: Api) -> dict[str, Any]:
    """An API as its config table."""
    out: dict[str, Any] = {"name": api.name, "audience": api.audience, "scopes": list(api.scopes)}
    if api.scope_descriptions:
        out["scope_descriptions"] = dict(api.scope_descriptions)
    return out


def parse_api(value: object, *, source: str, key: str = "api", issuer: str | None = None) -> Api:
    """Validate one ``[[apis]]`` table (or its JSON form), as the config file would; the
    Management API (``issuer``/api) defines every Management API scope."""
    return read_api(Reader(source), value, key, issuer)


def read_api(v: Reader, value: object, key: str, issuer: str | None = None) -> Api:
    """One ``[[apis]]`` table, read by ``v`` (errors name ``key``)."""
    data = v.table(value, key, API_KEYS)
    audience = v.typed(data, "audience", f"{key}.audience", str)
    v.matches(f"{key}.audience", audience, AUDIENCE)
    scopes = v.strings(data.get("scopes", []), f"{key}.scopes", SCOPE)
    if is_management_audience(audience, issuer):  # Kinde's API: every scope it has
        scopes = (*scopes, *(s for s in MANAGEMENT_SCOPES if s not in scopes))
    name = v.text(data, "name", f"{key}.name", TEXT, default=audience)
    descriptions = v.typed(data, "scope_descriptions", f"{key}.scope_descriptions", dict, {})
    for scope, text in descriptions.items():
        where = f"{key}.scope_descriptions.{scope}"
        v.matches(where, text, DESCRIPTION)
        if scope not in scopes:
            raise v.conflict(where, text, "must name a scope of this API")
    return Api(
        audience=audience,
        scopes=scopes,
        name=name,
        scope_descriptions=MappingProxyType(dict(descriptions)),
    )

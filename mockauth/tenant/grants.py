"""API scopes held beyond apps: by a role (``[[roles]] api_scopes``) and by a user in one
organisation (``[[users]] org_api_scopes``), each written ``{audience = [scopes]}``.

The tables say which API and scope by name; whether that API defines the scope is checked
when the Management API adds one, and a scope an API drops is dropped from these too.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from mockauth.tenant.validate import AUDIENCE, SCOPE, Reader

ApiScopes = Mapping[str, tuple[str, ...]]  # audience -> scope keys


def parse_api_scopes(v: Reader, value: object, key: str) -> ApiScopes:
    """``{audience = [scopes]}``; an audience with no scopes is left out."""
    if not isinstance(value, dict):
        raise v.fail(key, value, "must be a table of audience = [scopes]")
    out: dict[str, tuple[str, ...]] = {}
    for audience, scopes in value.items():
        where = f"{key}.'{audience}'"
        v.matches(f"{where} (the audience)", audience, AUDIENCE)
        found = v.strings(scopes, where, SCOPE)
        if found:
            out[audience] = found
    return MappingProxyType(out)


def api_scopes_table(scopes: ApiScopes) -> dict[str, list[str]]:
    return {audience: list(keys) for audience, keys in scopes.items()}


def with_scope(scopes: ApiScopes, audience: str, scope: str, *, held: bool) -> ApiScopes:
    """``scopes`` with ``scope`` of ``audience`` added (``held``) or taken away."""
    keys = [k for k in scopes.get(audience, ()) if k != scope]
    if held:
        keys.append(scope)
    out: dict[str, Any] = {a: s for a, s in scopes.items() if a != audience}
    if keys:
        out[audience] = tuple(keys)
    return MappingProxyType(out)


def without_scope(scopes: ApiScopes, audience: str, scope: str | None) -> ApiScopes:
    """``scopes`` without ``scope`` of ``audience`` (None: without any of its scopes)."""
    if scope is None:
        return MappingProxyType({a: s for a, s in scopes.items() if a != audience})
    return with_scope(scopes, audience, scope, held=False)

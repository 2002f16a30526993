"""What a user holds where they sign in: roles, permissions, feature flags and properties,
resolved from the catalog, the organisation and the user. Token claims and the Account API
read these, so the two always agree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mockauth.tenant.catalog import Catalog, FeatureFlag, Role
from mockauth.tenant.flagvalues import FlagValue
from mockauth.tenant.people import Org, User, role_claim


def role_keys(user: User, org_code: str | None) -> list[str]:
    """The user's role keys: those held everywhere, then the organisation's."""
    keys = list(user.roles)
    if org_code is not None:
        keys += [k for k in user.org_roles.get(org_code, ()) if k not in keys]
    return keys


def roles(catalog: Catalog, user: User, org_code: str | None) -> list[dict[str, str]]:
    """``[{id, key, name}]`` as Kinde's ``roles`` claim lists them."""
    out = []
    for key in role_keys(user, org_code):
        role = catalog.role(key)
        out.append(role_claim(key) if role is None else role_entry(role))
    return out


def role_entry(role: Role) -> dict[str, str]:
    return {"id": role.id, "key": role.key, "name": role.name}


def permission_keys(catalog: Catalog, user: User, org_code: str | None) -> list[str]:
    """Permissions held directly, in the organisation, and through the user's roles."""
    keys = list(user.permissions)
    if org_code is not None:
        keys += user.org_permissions.get(org_code, ())
    for key in role_keys(user, org_code):
        role = catalog.role(key)
        if role is not None:
            keys += role.permissions
    return list(dict.fromkeys(keys))


def resolve_flag(
    flag: FeatureFlag,
    org_overrides: Mapping[str, FlagValue] | None,
    user_overrides: Mapping[str, FlagValue] | None,
) -> FlagValue:
    """Environment value, then the organisation's override, then the user's, each only where
    the flag allows overrides at that level."""
    value = flag.env
    if flag.allow_override_level in ("org", "usr") and org_overrides and flag.key in org_overrides:
        value = org_overrides[flag.key]
    if flag.allow_override_level == "usr" and user_overrides and flag.key in user_overrides:
        value = user_overrides[flag.key]
    return value


def flag_values(catalog: Catalog, org: Org | None, user: User | None) -> dict[str, FlagValue]:
    """Every flag's value: environment, then organisation, then user overrides."""
    org_overrides = org.feature_flags if org is not None else None
    user_overrides = user.feature_flags if user is not None else None
    return {
        flag.key: resolve_flag(flag, org_overrides, user_overrides)
        for flag in catalog.feature_flags
    }


def flag_claims(catalog: Catalog, org: Org | None, user: User | None) -> dict[str, Any]:
    """Kinde's ``feature_flags`` claim: ``{key: {"t": type, "v": value}}``."""
    values = flag_values(catalog, org, user)
    return {flag.key: {"t": flag.type, "v": values[flag.key]} for flag in catalog.feature_flags}


def property_claims(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Kinde's ``*_properties`` claims: ``{key: {"v": value}}``."""
    return {key: {"v": value} for key, value in values.items()}

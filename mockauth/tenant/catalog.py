"""What a tenant defines for its users: permissions, roles, feature flags, properties and
property categories (the ``[[permissions]]``, ``[[roles]]``, ``[[feature_flags]]``,
``[[properties]]`` and ``[[property_categories]]`` tables), and how a flag's value resolves.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mockauth.tenant.flagvalues import FLAG_TYPES, FlagValue, flag_value
from mockauth.tenant.grants import ApiScopes, api_scopes_table, parse_api_scopes
from mockauth.tenant.validate import Reader

KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}\Z")  # a role, permission, flag or property key
OVERRIDE_LEVELS = ("env", "org", "usr")
PROPERTY_TYPES = ("single_line_text", "multi_line_text")
CONTEXTS = ("usr", "org", "app")
MAX_TEXT = 1000
ROLE_KEYS = frozenset(
    {"id", "key", "name", "description", "permissions", "is_default_role"}
    | {"api_scopes", "applications"}
)


def stable_id(kind: str, key: str) -> str:
    """A uuid-shaped id that stays the same for the same kind and key (config tables
    written without ids). Roles use the bare key, as their token claim always has."""
    digest = hashlib.sha256((key if kind == "role" else f"{kind}:{key}").encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def prefixed_id(prefix: str, key: str) -> str:
    """Kinde's prefixed ids (``prop_`` + 32 hex), stable per key."""
    return prefix + hashlib.sha256(f"{prefix}{key}".encode()).hexdigest()[:32]


@dataclass(frozen=True, kw_only=True)
class Permission:
    id: str
    key: str
    name: str = ""
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class Role:
    id: str
    key: str
    name: str = ""
    description: str = ""
    permissions: tuple[str, ...] = ()  # permission keys
    is_default_role: bool = False
    # API scopes its holders get, and the apps (client ids) it lets them use (stored:
    # mockauth adds no scope to user tokens and restricts no app by role).
    api_scopes: ApiScopes = field(default_factory=lambda: MappingProxyType({}))
    applications: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class FeatureFlag:
    """A flag: its type (b, s, i), default, the level down to which it may be overridden,
    and the environment's own value (an override of the default), if any."""

    id: str
    key: str
    type: str
    default: FlagValue
    name: str = ""
    description: str = ""
    allow_override_level: str = "usr"
    env_value: FlagValue | None = None

    @property
    def env(self) -> FlagValue:
        return self.default if self.env_value is None else self.env_value


@dataclass(frozen=True, kw_only=True)
class Property:
    id: str
    key: str
    name: str = ""
    description: str = ""
    type: str = "single_line_text"
    context: str = "usr"
    is_private: bool = False
    category_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Category:
    id: str
    name: str
    context: str = "usr"


@dataclass(frozen=True, kw_only=True)
class Catalog:
    """Every definition, looked up by key (or id for categories)."""

    permissions: tuple[Permission, ...] = ()
    roles: tuple[Role, ...] = ()
    feature_flags: tuple[FeatureFlag, ...] = ()
    properties: tuple[Property, ...] = ()
    categories: tuple[Category, ...] = ()

    def permission(self, key: str) -> Permission | None:
        return next((p for p in self.permissions if p.key == key), None)

    def role(self, key: str) -> Role | None:
        return next((r for r in self.roles if r.key == key), None)

    def flag(self, key: str) -> FeatureFlag | None:
        return next((f for f in self.feature_flags if f.key == key), None)

    def property(self, key: str) -> Property | None:
        return next((p for p in self.properties if p.key == key), None)

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)


# --- tables --------------------------------------------------------------------------------


def permission_table(p: Permission) -> dict[str, Any]:
    return {"id": p.id, "key": p.key, "name": p.name, "description": p.description}


def role_table(r: Role) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.id,
        "key": r.key,
        "name": r.name,
        "description": r.description,
        "permissions": list(r.permissions),
        "is_default_role": r.is_default_role,
    }
    if r.api_scopes:
        out["api_scopes"] = api_scopes_table(r.api_scopes)
    if r.applications:
        out["applications"] = list(r.applications)
    return out


def flag_table(f: FeatureFlag) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f.id,
        "key": f.key,
        "name": f.name,
        "description": f.description,
        "type": f.type,
        "default": f.default,
        "allow_override_level": f.allow_override_level,
    }
    if f.env_value is not None:
        out["value"] = f.env_value
    return out


def property_table(p: Property) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id,
        "key": p.key,
        "name": p.name,
        "description": p.description,
        "type": p.type,
        "context": p.context,
        "is_private": p.is_private,
    }
    if p.category_id is not None:
        out["category_id"] = p.category_id
    return out


def category_table(c: Category) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "context": c.context}


# --- parsing (the config file's tables, the store's JSON, Management API writes) -----------


def _key(v: Reader, data: Mapping[str, Any], where: str) -> str:
    key: str = v.typed(data, "key", f"{where}.key", str)
    if not KEY_RE.match(key):
        raise v.fail(f"{where}.key", key, "must be 1 to 200 printable ASCII characters, no spaces")
    return key


def _text(v: Reader, data: Mapping[str, Any], name: str, where: str, default: str = "") -> str:
    value: str = v.typed(data, name, f"{where}.{name}", str, default)
    if len(value) > MAX_TEXT:
        raise v.fail(f"{where}.{name}", value[:40] + "...", f"must be at most {MAX_TEXT} chars")
    return value


def _id(v: Reader, data: Mapping[str, Any], where: str, default: str) -> str:
    ident: str = v.typed(data, "id", f"{where}.id", str, default)
    if not KEY_RE.match(ident):
        raise v.fail(f"{where}.id", ident, "must be 1 to 200 printable ASCII characters")
    return ident


def parse_permission(v: Reader, value: object, where: str) -> Permission:
    data = v.table(value, where, {"id", "key", "name", "description"})
    key = _key(v, data, where)
    return Permission(
        id=_id(v, data, where, stable_id("permission", key)),
        key=key,
        name=_text(v, data, "name", where, key),
        description=_text(v, data, "description", where),
    )


def parse_role(v: Reader, value: object, where: str, permissions: set[str]) -> Role:
    data = v.table(value, where, ROLE_KEYS)
    key = _key(v, data, where)
    granted = v.strings(
        data.get("permissions", []),
        f"{where}.permissions",
        lambda p: p in permissions,
        "a key in [[permissions]]",
    )
    return Role(
        id=_id(v, data, where, stable_id("role", key)),
        key=key,
        name=_text(v, data, "name", where, key),
        description=_text(v, data, "description", where),
        permissions=granted,
        is_default_role=v.typed(data, "is_default_role", f"{where}.is_default_role", bool, False),
        api_scopes=parse_api_scopes(v, data.get("api_scopes", {}), f"{where}.api_scopes"),
        applications=v.strings(
            data.get("applications", []),
            f"{where}.applications",
            lambda c: KEY_RE.match(c) is not None,
            "an app's client_id",
        ),
    )


def parse_flag(v: Reader, value: object, where: str) -> FeatureFlag:
    allowed = {"id", "key", "name", "description", "type", "default", "allow_override_level"}
    data = v.table(value, where, allowed | {"value"})
    key = _key(v, data, where)
    flag_type = v.choice(data, "type", f"{where}.type", FLAG_TYPES, required=True)
    default = typed_flag_value(v, data, "default", where, flag_type, required=True)
    level = v.choice(data, "allow_override_level", f"{where}.allow_override_level", OVERRIDE_LEVELS)
    return FeatureFlag(
        id=_id(v, data, where, stable_id("flag", key)),
        key=key,
        type=flag_type,
        default=default,  # type: ignore[arg-type]
        name=_text(v, data, "name", where, key),
        description=_text(v, data, "description", where),
        allow_override_level=level or "usr",
        env_value=typed_flag_value(v, data, "value", where, flag_type),
    )


def typed_flag_value(
    v: Reader,
    data: Mapping[str, Any],
    name: str,
    where: str,
    flag_type: str,
    *,
    required: bool = False,
) -> FlagValue | None:
    """``data[name]`` as a value of ``flag_type`` (None when absent and not required)."""
    if name not in data and not required:
        return None
    raw = v.typed(data, name, f"{where}.{name}", object)
    value = flag_value(flag_type, raw)
    if value is None or (isinstance(value, str) and len(value) > MAX_TEXT):
        kind = {"b": "true or false", "s": "a string", "i": "an integer"}[flag_type]
        raise v.fail(f"{where}.{name}", raw, f"must be {kind} (the flag's type is {flag_type!r})")
    return value


def parse_category(v: Reader, value: object, where: str) -> Category:
    data = v.table(value, where, {"id", "name", "context"})
    name = _text(v, data, "name", where, "")
    if not name:
        raise v.fail(f"{where}.name", name, "must be a non-empty string")
    context = v.choice(data, "context", f"{where}.context", CONTEXTS) or "usr"
    return Category(id=_id(v, data, where, prefixed_id("cat_", name)), name=name, context=context)


def parse_property(v: Reader, value: object, where: str, categories: set[str]) -> Property:
    allowed = {"id", "key", "name", "description", "type", "context", "is_private", "category_id"}
    data = v.table(value, where, allowed)
    key = _key(v, data, where)
    category = v.typed(data, "category_id", f"{where}.category_id", str, None)
    if category is not None and category not in categories:
        raise v.fail(f"{where}.category_id", category, "is not the id of a property category")
    return Property(
        id=_id(v, data, where, prefixed_id("prop_", key)),
        key=key,
        name=_text(v, data, "name", where, key),
        description=_text(v, data, "description", where),
        type=v.choice(data, "type", f"{where}.type", PROPERTY_TYPES) or "single_line_text",
        context=v.choice(data, "context", f"{where}.context", CONTEXTS) or "usr",
        is_private=v.typed(data, "is_private", f"{where}.is_private", bool, False),
        category_id=category,
    )


def parse_catalog(v: Reader, data: Mapping[str, Any]) -> Catalog:
    """The five definition arrays of a config (each may be absent)."""
    permissions = tuple(
        parse_permission(v, p, f"permissions[{i}]")
        for i, p in enumerate(v.array(data, "permissions"))
    )
    v.unique([p.key for p in permissions], "permissions", "key")
    v.unique([p.id for p in permissions], "permissions", "id")
    keys = {p.key for p in permissions}
    roles = tuple(
        parse_role(v, r, f"roles[{i}]", keys) for i, r in enumerate(v.array(data, "roles"))
    )
    v.unique([r.key for r in roles], "roles", "key")
    v.unique([r.id for r in roles], "roles", "id")
    flags = tuple(
        parse_flag(v, f, f"feature_flags[{i}]")
        for i, f in enumerate(v.array(data, "feature_flags"))
    )
    v.unique([f.key for f in flags], "feature_flags", "key")
    categories = tuple(
        parse_category(v, c, f"property_categories[{i}]")
        for i, c in enumerate(v.array(data, "property_categories"))
    )
    v.unique([c.id for c in categories], "property_categories", "id")
    ids = {c.id for c in categories}
    properties = tuple(
        parse_property(v, p, f"properties[{i}]", ids)
        for i, p in enumerate(v.array(data, "properties"))
    )
    v.unique([p.key for p in properties], "properties", "key")
    v.unique([p.id for p in properties], "properties", "id")
    return Catalog(
        permissions=permissions,
        roles=roles,
        feature_flags=flags,
        properties=properties,
        categories=categories,
    )


def catalog_tables(catalog: Catalog) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """The catalog as store entities: kind -> [(key, table)]."""
    return {
        "permissions": [(p.key, permission_table(p)) for p in catalog.permissions],
        "roles": [(r.key, role_table(r)) for r in catalog.roles],
        "feature_flags": [(f.key, flag_table(f)) for f in catalog.feature_flags],
        "property_categories": [(c.id, category_table(c)) for c in catalog.categories],
        "properties": [(p.key, property_table(p)) for p in catalog.properties],
    }


def parse_values(
    v: Reader, data: Mapping[str, Any], where: str, catalog: Catalog, context: str
) -> tuple[dict[str, FlagValue], dict[str, str]]:
    """An entity's ``feature_flags`` overrides and ``properties`` values (``context``: usr,
    org or app; apps have no flag overrides)."""
    flags: dict[str, FlagValue] = {}
    raw_flags = v.typed(data, "feature_flags", f"{where}.feature_flags", dict, {})
    for key, value in raw_flags.items():
        flag = catalog.flag(key)
        at = f"{where}.feature_flags.{key}"
        if not isinstance(value, (str, bool, int, float)):
            raise v.fail(at, value, "must be a string, a boolean or a number")
        if flag is None:
            raise v.conflict(at, value, "is not a flag in [[feature_flags]]")
        typed = flag_value(flag.type, value)
        if typed is None:  # depends on the flag: at odds with the tenant, not malformed
            raise v.conflict(at, value, f"must be a value of the flag's type {flag.type!r}")
        flags[key] = typed
    props: dict[str, str] = {}
    raw_props = v.typed(data, "properties", f"{where}.properties", dict, {})
    for key, value in raw_props.items():
        prop = catalog.property(key)
        at = f"{where}.properties.{key}"
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise v.fail(at, value, f"must be a string of at most {MAX_TEXT} characters")
        if prop is None or prop.context != context:
            raise v.conflict(at, value, f"is not a {context} property in [[properties]]")
        props[key] = value
    return flags, props

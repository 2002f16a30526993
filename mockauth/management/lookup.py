"""Finding what a request names (404 NOT_FOUND when nothing has that id), and writing one
entity back into a config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType
from typing import TypeVar

from mockauth.management.operations import not_found as not_found
from mockauth.tenant.apis import Api
from mockauth.tenant.apps import App
from mockauth.tenant.catalog import Catalog, FeatureFlag, Permission, Property, Role
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.grants import without_scope
from mockauth.tenant.people import Org, User, parse_user_table

T = TypeVar("T")


def _find(
    items: tuple[T, ...], match: Callable[[T], bool], what: str, ident: str, by: str = "id"
) -> T:
    found = next((i for i in items if match(i)), None)
    if found is None:
        raise not_found(what, ident, by=by)
    return found


def user(config: ServerConfig, user_id: str) -> User:
    return _find(config.users, lambda u: u.id == user_id, "user", user_id)


def org(config: ServerConfig, code: str) -> Org:
    return _find(config.orgs, lambda o: o.code == code, "organization", code, "code")


def member(config: ServerConfig, code: str, user_id: str) -> tuple[Org, User]:
    """An organisation and one of its members (404 when either is unknown, or not a member)."""
    found = org(config, code)
    person = user(config, user_id)
    if code not in person.orgs:
        raise not_found("organization user", user_id)
    return found, person


def role(config: ServerConfig, role_id: str) -> Role:
    return _find(config.catalog.roles, lambda r: r.id == role_id, "role", role_id)


def permission(config: ServerConfig, permission_id: str) -> Permission:
    return _find(
        config.catalog.permissions, lambda p: p.id == permission_id, "permission", permission_id
    )


def flag(config: ServerConfig, key: str) -> FeatureFlag:
    return _find(config.catalog.feature_flags, lambda f: f.key == key, "feature flag", key, "key")


def prop(config: ServerConfig, key: str, context: str) -> Property:
    return _find(
        config.catalog.properties,
        lambda p: p.key == key and p.context == context,
        "property",
        key,
        "key",
    )


def app(config: ServerConfig, client_id: str) -> App:
    return _find(config.apps, lambda a: a.client_id == client_id, "application", client_id)


def api(config: ServerConfig, api_id: str) -> Api:
    return _find(config.apis, lambda a: a.id == api_id, "api", api_id)


def parsed_user(config: ServerConfig, table: dict[str, object]) -> User:
    """A user's table as the config file checks it, against this config's orgs and catalog."""
    return parse_user_table(
        table, source="request", orgs=config.orgs, catalog=config.catalog, key="user"
    )


def put_user(config: ServerConfig, new: User) -> ServerConfig:
    return replace(config, users=tuple(new if u.id == new.id else u for u in config.users))


def put_org(config: ServerConfig, new: Org) -> ServerConfig:
    return replace(config, orgs=tuple(new if o.code == new.code else o for o in config.orgs))


def put_app(config: ServerConfig, new: App) -> ServerConfig:
    return replace(
        config, apps=tuple(new if a.client_id == new.client_id else a for a in config.apps)
    )


def put_role(config: ServerConfig, new: Role) -> ServerConfig:
    roles = tuple(new if r.id == new.id else r for r in config.catalog.roles)
    return put_catalog(config, roles=roles)


def put_catalog(config: ServerConfig, **changes: object) -> ServerConfig:
    catalog: Catalog = replace(config.catalog, **changes)  # type: ignore[arg-type]
    return replace(config, catalog=catalog)


def forget_api_scope(config: ServerConfig, audience: str, scope: str | None) -> ServerConfig:
    """Roles and organisation members no longer hold ``scope`` of the API ``audience`` (None:
    any of its scopes), as when the API drops it."""
    roles = tuple(
        replace(r, api_scopes=without_scope(r.api_scopes, audience, scope))
        for r in config.catalog.roles
    )
    users = []
    for person in config.users:
        held = {c: without_scope(s, audience, scope) for c, s in person.org_api_scopes.items()}
        kept = MappingProxyType({c: s for c, s in held.items() if s})
        users.append(replace(person, org_api_scopes=kept))
    return replace(put_catalog(config, roles=roles), users=tuple(users))

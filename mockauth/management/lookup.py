"""Finding what a request names (404 NOT_FOUND when nothing has that id), and writing one
entity back into a config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from mockauth.management.operations import not_found as not_found
from mockauth.tenant.apis import Api
from mockauth.tenant.apps import App
from mockauth.tenant.catalog import Catalog, FeatureFlag, Permission, Property, Role
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.people import Org, User

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


def put_user(config: ServerConfig, new: User) -> ServerConfig:
    return replace(config, users=tuple(new if u.id == new.id else u for u in config.users))


def put_org(config: ServerConfig, new: Org) -> ServerConfig:
    return replace(config, orgs=tuple(new if o.code == new.code else o for o in config.orgs))


def put_app(config: ServerConfig, new: App) -> ServerConfig:
    return replace(
        config, apps=tuple(new if a.client_id == new.client_id else a for a in config.apps)
    )


def put_catalog(config: ServerConfig, **changes: object) -> ServerConfig:
    catalog: Catalog = replace(config.catalog, **changes)  # type: ignore[arg-type]
    return replace(config, catalog=catalog)

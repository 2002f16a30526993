"""The tenant as the store holds it: its apps, APIs, organisations and users as rows of
their config tables (JSON) by kind (the business and the environment's settings as one row
each, so the Management API changes them in the same transaction), its scalar settings, and
back again."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from mockauth.tenant.apis import api_table, parse_api
from mockauth.tenant.apps import Lifetimes, app_table, lifetimes_table, parse_app
from mockauth.tenant.catalog import catalog_tables, parse_catalog
from mockauth.tenant.config import ServerConfig, business_table, parse_business
from mockauth.tenant.environment import environment_table, parse_environment
from mockauth.tenant.people import org_table, parse_org_table, parse_user_table, user_table
from mockauth.tenant.rows import Entities
from mockauth.tenant.validate import Reader

CATALOG_KINDS = ("permissions", "roles", "feature_flags", "property_categories", "properties")


def entities_of(config: ServerConfig) -> Entities:
    tables: dict[str, list[tuple[str, dict[str, Any]]]] = {
        **catalog_tables(config.catalog),
        "apis": [(a.audience, api_table(a)) for a in config.apis],
        "apps": [(a.client_id, app_table(a)) for a in config.apps],
        "orgs": [(o.code, org_table(o)) for o in config.orgs],
        "users": [(u.id, user_table(u)) for u in config.users],
        "business": [("business", business_table(config.business))],
        "environment": [("environment", environment_table(config.environment))],
    }
    return {
        kind: [(key, json.dumps(table)) for key, table in rows] for kind, rows in tables.items()
    }


def settings_of(config: ServerConfig) -> dict[str, Any]:
    return {
        "issuer": config.issuer,
        "lifetimes": lifetimes_table(config.lifetimes),
        "login_page": config.login_page,
        "key_overlap": config.key_overlap,
        "source": config.source,
    }


def config_from(
    entities: Entities, settings: dict[str, Any] | None, base: ServerConfig
) -> ServerConfig:
    """The tenant as the store holds it; ``settings`` None keeps ``base``'s."""
    source = "store"
    catalog = parse_catalog(
        Reader(source),
        {kind: [json.loads(d) for _, d in entities.get(kind, [])] for kind in CATALOG_KINDS},
    )
    apis = tuple(parse_api(json.loads(d), source=source) for _, d in entities.get("apis", []))
    apps = tuple(
        parse_app(json.loads(d), source=source, apis=apis, catalog=catalog)
        for _, d in entities.get("apps", [])
    )
    orgs = tuple(
        parse_org_table(json.loads(d), source=source, catalog=catalog)
        for _, d in entities.get("orgs", [])
    )
    users = tuple(
        parse_user_table(json.loads(d), source=source, orgs=orgs, catalog=catalog)
        for _, d in entities.get("users", [])
    )
    config = replace(base, catalog=catalog, apis=apis, apps=apps, orgs=orgs, users=users, faults=())
    for _, data in entities.get("business", []):
        config = replace(config, business=parse_business(json.loads(data), source=source))
    for _, data in entities.get("environment", []):
        environment = parse_environment(Reader(source), json.loads(data))
        config = replace(config, environment=environment)
    if settings:
        lifetimes = settings.get("lifetimes")
        config = replace(
            config,
            issuer=settings.get("issuer") or config.issuer,
            lifetimes=Lifetimes(**lifetimes) if lifetimes else config.lifetimes,
            login_page=bool(settings.get("login_page", config.login_page)),
            key_overlap=settings.get("key_overlap", config.key_overlap),
            source=settings.get("source", config.source),
        )
    return config

"""Applications: list, get, create, update, delete; callback and logout URLs, token
lifetimes and property values (their connections are in connections.py, the roles that may
use them in access_roles.py)."""

from __future__ import annotations

import secrets
import string
from dataclasses import replace
from typing import Any

from mockauth.management import inputs, lookup, values
from mockauth.management.errors import ManagementBadRequest
from mockauth.management.operations import Call, Reply, op, success
from mockauth.management.pagination import token_page
from mockauth.management.values import (
    one_value,
    property_text,
    set_property_values,
)
from mockauth.tenant.apps import App, app_table, parse_app
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.validate import Table

# Kinde's type names on the wire, and mockauth's.
WIRE_TYPES = {"regular": "reg", "m2m": "m2m", "spa": "spa", "device": "device"}
APP_TYPES = {wire: ours for ours, wire in WIRE_TYPES.items()}
_ALPHANUMERIC = string.ascii_letters + string.digits


def _parsed(config: ServerConfig, table: dict[str, Any]) -> App:
    return parse_app(table, source="request", apis=config.apis, catalog=config.catalog)


def _write(config: ServerConfig, client_id: str, **changes: Any) -> ServerConfig:
    old = lookup.app(config, client_id)
    return lookup.put_app(config, _parsed(config, {**app_table(old), **changes}))


@op("GET", "/applications", "read:applications", "getApplications")
def get_applications(call: Call) -> Reply:
    apps = list(call.config.apps)
    sort = call.q("sort")
    if sort is not None:
        if sort not in ("name_asc", "name_desc"):
            raise ManagementBadRequest("sort must be name_asc or name_desc.")
        apps.sort(key=lambda a: a.name.lower(), reverse=sort == "name_desc")
    page, token = token_page(apps, call.page_size(), call.q("next_token"))
    entries = [{"id": a.client_id, "name": a.name, "type": WIRE_TYPES[a.type]} for a in page]
    return success(applications=entries, next_token=token)


@op("GET", "/applications/{application_id}", "read:applications", "getApplication")
def get_application(call: Call) -> Reply:
    app = lookup.app(call.config, call.params["application_id"])
    application = {
        "id": app.client_id,
        "name": app.name,
        "type": WIRE_TYPES[app.type],
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "login_uri": app.login_uri,
        "homepage_uri": app.homepage_uri,
        "has_cancel_button": False,
    }
    return success(application=application)


@op("POST", "/applications", "create:applications", "createApplication")
def create_application(call: Call) -> Reply:
    body = call.table()
    body.only({"name", "type", "org_code"})
    kind = APP_TYPES[inputs.choice(body, "type", tuple(APP_TYPES), required=True)]
    table: dict[str, Any] = {
        "name": inputs.text(body, "name", required=True),
        "type": kind,
        "client_id": secrets.token_hex(16),
    }
    if kind in ("regular", "m2m"):
        table["client_secret"] = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(50))
    org_code = inputs.text(body, "org_code")

    def change(config: ServerConfig) -> tuple[ServerConfig, App]:
        if org_code:
            table["org_code"] = lookup.org(config, org_code).code
        app = _parsed(config, table)
        return replace(config, apps=(*config.apps, app)), app

    app = call.tenant.update(change)
    created = {"id": app.client_id, "client_id": app.client_id, "client_secret": app.client_secret}
    return success(201, application=created)


_UPDATE_BOOLS = {
    "is_allow_faceless_auth",
    "is_ask_for_name",
    "has_marketing_consent",
    "has_sign_in_link_on_sign_up_page",
    "has_register_link_on_sign_in_page",
    "has_sign_in_with_sso_button",
    "use_gravatar_fallback",
    "is_access_control_enabled",
}


@op("PATCH", "/applications/{application_id}", "update:applications", "updateApplication")
def update_application(call: Call) -> Reply:
    body = call.table(optional=True)
    body.only(
        {"name", "language_key", "logout_uris", "redirect_uris", "login_uri", "homepage_uri"}
        | _UPDATE_BOOLS
    )
    changes: dict[str, Any] = {}
    for name in ("name", "login_uri", "homepage_uri"):
        value = inputs.text(body, name, limit=2048)
        if value is not None:
            changes[name] = value
    for name in ("logout_uris", "redirect_uris"):
        uris = inputs.strings(body, name, limit=2048)
        if uris is not None:
            changes[name] = uris
    inputs.text(body, "language_key")
    for name in _UPDATE_BOOLS:
        inputs.boolean(body, name)

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        return _write(config, call.params["application_id"], **changes), None

    call.tenant.update(change)
    return success()


@op("DELETE", "/applications/{application_id}", "delete:applications", "deleteApplication")
def delete_application(call: Call) -> Reply:
    client_id = call.params["application_id"]

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        lookup.app(config, client_id)
        roles = tuple(  # roles no longer grant access to it
            replace(r, applications=tuple(c for c in r.applications if c != client_id))
            for r in config.catalog.roles
        )
        config = lookup.put_catalog(config, roles=roles)
        return replace(config, apps=tuple(a for a in config.apps if a.client_id != client_id)), None

    call.tenant.update(change)
    return success()


@op(
    "PATCH",
    "/applications/{application_id}/tokens",
    "update:application_tokens",
    "updateApplicationTokens",
)
def update_application_tokens(call: Call) -> Reply:
    body = call.table()
    names = {"access_token_lifetime": "access_token", "refresh_token_lifetime": "refresh_token"}
    names["id_token_lifetime"] = "id_token"
    body.only({*names, "authenticated_session_lifetime", "is_hasura_mapping_enabled"})
    lifetimes: dict[str, int] = {}
    for wire, ours in names.items():
        value = body.integer(wire, low=1, high=10 * 365 * 86_400)
        if value is not None:
            lifetimes[ours] = value
    body.integer("authenticated_session_lifetime", low=1, high=10 * 365 * 86_400)
    inputs.boolean(body, "is_hasura_mapping_enabled")

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        app = lookup.app(config, call.params["application_id"])
        new = replace(config.lifetimes_for(app), **lifetimes)
        return lookup.put_app(config, replace(app, lifetimes=new)), None

    call.tenant.update(change)
    return success()


get_application_property_values = op(
    "GET",
    "/applications/{application_id}/properties",
    "read:application_properties",
    "getApplicationPropertyValues",
)(values.get_property_values)


@op(
    "PUT",
    "/applications/{application_id}/properties/{property_key}",
    "update:application_properties",
    "updateApplicationsProperty",
)
def update_applications_property(call: Call) -> Reply:
    body = call.table()
    body.only({"value"})
    if "value" not in body.data:
        raise body.fail("value", None, "required: a string or boolean")
    value = property_text(body.data["value"], "value")
    return set_property_values(call, one_value(call.params["property_key"], value))


# --- callback and logout URLs --------------------------------------------------------------


def _urls(body: Table) -> list[str]:
    body.only({"urls"})
    urls = inputs.strings(body, "urls", limit=2048)
    if urls is None:
        raise body.fail("urls", None, "required: an array of URLs")
    return urls


def _url_ops(field: str, noun: str, read: str, write: str) -> list[Any]:
    """The four operations on one of an app's URL lists (GET, POST adds, PUT replaces,
    DELETE ?urls=a,b removes)."""
    path = "/applications/{app_id}/" + (
        "auth_redirect_urls" if field == "redirect_uris" else "auth_logout_urls"
    )
    answer_key = "redirect_urls" if field == "redirect_uris" else "logout_urls"
    scopes = {
        m: f"{verb}:{write}"
        for m, verb in (("POST", "create"), ("PUT", "update"), ("DELETE", "delete"))
    }

    def current(call: Call) -> list[str]:
        return list(getattr(lookup.app(call.config, call.params["app_id"]), field))

    def written(call: Call, urls: list[str]) -> Reply:
        def change(config: ServerConfig) -> tuple[ServerConfig, None]:
            return _write(config, call.params["app_id"], **{field: urls}), None

        call.tenant.update(change)
        return success()

    def get(call: Call) -> Reply:
        urls = current(call)
        if field == "redirect_uris":  # Kinde's RedirectCallbackUrls has no code or message
            return 200, {answer_key: urls}
        return success(**{answer_key: urls})

    def add(call: Call) -> Reply:
        urls = _urls(call.table())
        return written(call, list(dict.fromkeys(current(call) + urls)))

    def put(call: Call) -> Reply:
        return written(call, _urls(call.table()))

    def delete(call: Call) -> Reply:
        gone = [u for u in call.required("urls").split(",") if u]
        return written(call, [u for u in current(call) if u not in gone])

    return [
        op("GET", path, f"read:{read}", f"get{noun}URLs")(get),
        op("POST", path, scopes["POST"], f"add{noun}URLs")(add),
        op("PUT", path, scopes["PUT"], f"replace{noun}URLs")(put),
        op("DELETE", path, scopes["DELETE"], f"delete{noun}URLs")(delete),
    ]


OPERATIONS = [
    get_applications,
    get_application,
    create_application,
    update_application,
    delete_application,
    update_application_tokens,
    get_application_property_values,
    update_applications_property,
    *_url_ops(
        "redirect_uris", "Callback", "applications_redirect_uris", "applications_redirect_uris"
    ),
    *_url_ops("logout_uris", "Logout", "application_logout_uris", "application_logout_uris"),
]

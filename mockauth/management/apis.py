"""APIs: list, get, create, delete; their scopes, and which applications they authorise
with which scopes (what M2M tokens for the API may then carry)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from mockauth.management import inputs, lookup
from mockauth.management.errors import ManagementBadRequest, ManagementConflict
from mockauth.management.operations import Call, Reply, op, success
from mockauth.management.pagination import token_page
from mockauth.tenant.apis import SCOPE_RE, Api, parse_api
from mockauth.tenant.apps import App
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.mgmt_scopes import MANAGEMENT_AUDIENCE_PATH

APP_LABELS = {
    "m2m": "Machine to machine (M2M)",
    "regular": "Back-end web",
    "spa": "Front-end and mobile",
    "device": "Device and IoT",
}


def scope_id(api: Api, scope: str) -> str:
    return hashlib.sha256(f"scope:{api.audience}:{scope}".encode()).hexdigest()[:32]


def _is_management(call: Call, api: Api) -> bool:
    return api.audience == call.tenant.issuer + MANAGEMENT_AUDIENCE_PATH


def _scopes(api: Api, *, described: bool = False) -> list[dict[str, Any]]:
    out = []
    for scope in api.scopes:
        entry = {"id": scope_id(api, scope), "key": scope}
        if described:
            entry["description"] = api.scope_descriptions.get(scope, "")
        out.append(entry)
    return out


def _summary(call: Call, api: Api, with_scopes: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": api.id,
        "name": api.name,
        "audience": api.audience,
        "is_management_api": _is_management(call, api),
    }
    if with_scopes:
        entry["scopes"] = _scopes(api)
    return entry


@op("GET", "/apis", "read:apis", "getAPIs")
def get_apis(call: Call) -> Reply:
    with_scopes = "scopes" in (call.q("expand") or "")
    apis = [_summary(call, a, with_scopes) for a in call.config.apis]
    page, token = token_page(apis, 500, call.q("next_token"))
    return success(apis=page, next_token=token)


@op("GET", "/apis/{api_id}", "read:apis", "getAPI")
def get_api(call: Call) -> Reply:
    api = lookup.api(call.config, call.params["api_id"])
    entry = _summary(call, api, True)
    entry["applications"] = [
        {"id": a.client_id, "name": a.name, "type": APP_LABELS[a.type], "is_active": True}
        for a in call.config.apps
        if api.audience in a.apis
    ]
    return success(api=entry)


@op("POST", "/apis", "create:apis", "addAPIs")
def add_apis(call: Call) -> Reply:
    body = call.table()
    body.only({"name", "audience"})
    name = inputs.text(body, "name", required=True)
    audience = inputs.text(body, "audience", limit=2048, required=True)
    api = parse_api({"name": name, "audience": audience}, source="request", key="api")

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        if any(a.audience == api.audience for a in config.apis):
            raise ManagementConflict(
                f"An API has the audience {api.audience[:200]!r}.", code="API_ALREADY_EXISTS"
            )
        return replace(config, apis=(*config.apis, api)), None

    call.tenant.update(change)
    return success(api={"id": api.id})


def _changeable(call: Call, config: ServerConfig) -> Api:
    api = lookup.api(config, call.params["api_id"])
    if _is_management(call, api):
        raise ManagementBadRequest(
            "Kinde's Management API cannot be changed.", code="MANAGEMENT_API_READ_ONLY"
        )
    return api


def _grants(config: ServerConfig, audience: str, edit: Any) -> ServerConfig:
    """Apps' grants on ``audience`` changed by ``edit(app, scopes or None) -> scopes or None``
    (None: not authorised)."""
    apps = []
    for app in config.apps:
        grants = dict(app.apis)
        after = edit(app, grants.get(audience))
        if after is None:
            grants.pop(audience, None)
        else:
            grants[audience] = tuple(after)
        apps.append(replace(app, apis=MappingProxyType(grants)))
    return replace(config, apps=tuple(apps))


def _put_api(config: ServerConfig, new: Api) -> ServerConfig:
    return replace(
        config, apis=tuple(new if a.audience == new.audience else a for a in config.apis)
    )


@op("DELETE", "/apis/{api_id}", "delete:apis", "deleteAPI")
def delete_api(call: Call) -> Reply:
    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        api = _changeable(call, config)
        config = _grants(config, api.audience, lambda app, scopes: None)
        config = lookup.forget_api_scope(config, api.audience, None)
        return replace(config, apis=tuple(a for a in config.apis if a.id != api.id)), None

    call.tenant.update(change)
    return 200, {"code": "API_DELETED", "message": "API successfully deleted"}


@op("GET", "/apis/{api_id}/scopes", "read:api_scopes", "getAPIScopes")
def get_api_scopes(call: Call) -> Reply:
    api = lookup.api(call.config, call.params["api_id"])
    return success(scopes=_scopes(api, described=True))


def find_scope(api: Api, ident: str) -> str:
    found = next((s for s in api.scopes if scope_id(api, s) == ident), None)
    if found is None:
        raise lookup.not_found("scope", ident)
    return found


@op("GET", "/apis/{api_id}/scopes/{scope_id}", "read:api_scopes", "getAPIScope")
def get_api_scope(call: Call) -> Reply:
    api = lookup.api(call.config, call.params["api_id"])
    scope = find_scope(api, call.params["scope_id"])
    entry = {"id": scope_id(api, scope), "key": scope}
    entry["description"] = api.scope_descriptions.get(scope, "")
    return success(scope=entry)


@op("POST", "/apis/{api_id}/scopes", "create:api_scopes", "addAPIScope")
def add_api_scope(call: Call) -> Reply:
    body = call.table()
    body.only({"key", "description"})
    key = inputs.text(body, "key", limit=200, required=True) or ""
    if not SCOPE_RE.match(key):
        raise body.fail("key", key, "must be a scope token (no spaces, quotes or backslashes)")
    description = inputs.text(body, "description", limit=1000)

    def change(config: ServerConfig) -> tuple[ServerConfig, str]:
        api = _changeable(call, config)
        if key in api.scopes:
            raise ManagementConflict(f"The API has the scope {key!r}.", code="SCOPE_ALREADY_EXISTS")
        descriptions = dict(api.scope_descriptions)
        if description:
            descriptions[key] = description
        new = replace(
            api, scopes=(*api.scopes, key), scope_descriptions=MappingProxyType(descriptions)
        )
        return _put_api(config, new), scope_id(api, key)

    ident = call.tenant.update(change)
    return success(scope={"id": ident})


@op("PATCH", "/apis/{api_id}/scopes/{scope_id}", "update:api_scopes", "updateAPIScope")
def update_api_scope(call: Call) -> Reply:
    body = call.table()
    body.only({"description"})
    description = inputs.text(body, "description", limit=1000) or ""

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        api = _changeable(call, config)
        scope = find_scope(api, call.params["scope_id"])
        descriptions = {**api.scope_descriptions, scope: description}
        return _put_api(
            config, replace(api, scope_descriptions=MappingProxyType(descriptions))
        ), None

    call.tenant.update(change)
    return success()


@op("DELETE", "/apis/{api_id}/scopes/{scope_id}", "delete:apis_scopes", "deleteAPIScope")
def delete_api_scope(call: Call) -> Reply:
    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        api = _changeable(call, config)
        scope = find_scope(api, call.params["scope_id"])
        config = _grants(
            config,
            api.audience,
            lambda app, scopes: None if scopes is None else [s for s in scopes if s != scope],
        )
        config = lookup.forget_api_scope(config, api.audience, scope)
        descriptions = {k: v for k, v in api.scope_descriptions.items() if k != scope}
        new = replace(
            api,
            scopes=tuple(s for s in api.scopes if s != scope),
            scope_descriptions=MappingProxyType(descriptions),
        )
        return _put_api(config, new), None

    call.tenant.update(change)
    return success()


@op("PATCH", "/apis/{api_id}/applications", "update:apis", "updateAPIApplications")
def update_api_applications(call: Call) -> Reply:
    body = call.table()
    body.only({"applications"})

    def change(config: ServerConfig) -> tuple[ServerConfig, dict[str, list[str]]]:
        api = lookup.api(config, call.params["api_id"])
        out: dict[str, list[str]] = {"applications_connected": [], "applications_disconnected": []}
        for item in inputs.items(body, "applications"):
            item.only({"id", "operation"})
            app = lookup.app(config, inputs.text(item, "id", required=True) or "")
            remove = inputs.choice(item, "operation", ("delete",)) == "delete"
            out["applications_disconnected" if remove else "applications_connected"].append(
                app.client_id
            )
            config = _grants(
                config,
                api.audience,
                lambda a, scopes, app=app, remove=remove: (
                    scopes if a.client_id != app.client_id else None if remove else scopes or ()
                ),
            )
        return config, out

    result = call.tenant.update(change)
    return success(**result)


def _app_scope(call: Call, add: bool) -> Reply:
    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        api = lookup.api(config, call.params["api_id"])
        app: App = lookup.app(config, call.params["application_id"])
        scope = find_scope(api, call.params["scope_id"])

        def edit(a: App, scopes: tuple[str, ...] | None) -> Any:
            if a.client_id != app.client_id:
                return scopes
            held = list(scopes or ())
            if add:
                return [*held, scope] if scope not in held else held
            if scopes is None or scope not in held:
                raise lookup.not_found("application scope", call.params["scope_id"])
            return [s for s in held if s != scope]

        return _grants(config, api.audience, edit), None

    call.tenant.update(change)
    return success()


@op(
    "POST",
    "/apis/{api_id}/applications/{application_id}/scopes/{scope_id}",
    "create:api_application_scopes",
    "addAPIApplicationScope",
)
def add_api_application_scope(call: Call) -> Reply:
    return _app_scope(call, True)


@op(
    "DELETE",
    "/apis/{api_id}/applications/{application_id}/scopes/{scope_id}",
    "delete:apis_application_scopes",
    "deleteAPIApplicationScope",
)
def delete_api_application_scope(call: Call) -> Reply:
    return _app_scope(call, False)


OPERATIONS = [
    get_apis,
    get_api,
    add_apis,
    delete_api,
    get_api_scopes,
    get_api_scope,
    add_api_scope,
    update_api_scope,
    delete_api_scope,
    update_api_applications,
    add_api_application_scope,
    delete_api_application_scope,
]

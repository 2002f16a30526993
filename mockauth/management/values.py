"""Values a request sets: a feature flag's override (text as the Management API sends it)
and property values (strings, numbers or booleans, kept as text)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from mockauth.management import lookup
from mockauth.management.errors import ManagementBadRequest
from mockauth.management.operations import Call, Reply, success
from mockauth.tenant.apps import App
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.flagvalues import flag_value_from_text
from mockauth.tenant.people import Org, User
from mockauth.tenant.validate import Table


def override_value(flag_type: str, text: str) -> bool | str | int:
    value = flag_value_from_text(flag_type, text)
    if value is None or len(text) > 1000:
        kind = {"b": "true or false", "i": "an integer", "s": "a string"}[flag_type]
        raise ManagementBadRequest(f"value must be {kind} for this flag.", code="INVALID_VALUE")
    return value


def property_values(config: ServerConfig, context: str, values: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": p.id,
            "name": p.name,
            "description": p.description,
            "key": p.key,
            "value": values.get(p.key),
        }
        for p in config.catalog.properties
        if p.context == context
    ]


def property_text(value: object, where: str) -> str:
    """A property value as given (string, number or boolean), stored as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str) and len(str(value)) <= 1000:
        return str(value)
    raise ManagementBadRequest(
        f"{where} must be a string, integer or boolean of at most 1000 characters.",
        code="INVALID_VALUE",
    )


def checked_values(config: ServerConfig, body: Table, context: str) -> dict[str, str]:
    """``{"properties": {key: value}}``: each key a property of ``context``."""
    body.only({"properties"})
    raw = body.data.get("properties")
    if not isinstance(raw, dict):
        raise body.fail("properties", raw, "required: an object of property key to value")
    out = {}
    for key, value in raw.items():
        lookup.prop(config, key, context)
        out[key] = property_text(value, f"properties.{key}")
    return out


def _holder(call: Call, config: ServerConfig) -> tuple[str, User | Org | App]:
    """The user, organisation or app whose properties the path names, and their context."""
    params = call.params
    if "application_id" in params:
        return "app", lookup.app(config, params["application_id"])
    if "user_id" in params:
        return "usr", lookup.user(config, params["user_id"])
    return "org", lookup.org(config, params["org_code"])


def _put(config: ServerConfig, holder: User | Org | App) -> ServerConfig:
    if isinstance(holder, User):
        return lookup.put_user(config, holder)
    if isinstance(holder, Org):
        return lookup.put_org(config, holder)
    return lookup.put_app(config, holder)


def set_property_values(call: Call, values: Callable[[ServerConfig, str], dict[str, str]]) -> Reply:
    """Merge ``values`` (checked against the config of the write and the holder's context)
    into the properties of the user, organisation or app the path names, in one write."""

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        context, holder = _holder(call, config)
        merged = MappingProxyType({**holder.properties, **values(config, context)})
        return _put(config, replace(holder, properties=merged)), None

    call.tenant.update(change)
    return success()


def one_value(key: str, value: str) -> Callable[[ServerConfig, str], dict[str, str]]:
    """``{key: value}``, once ``key`` is a property of the holder's context (else 404)."""

    def checked(config: ServerConfig, context: str) -> dict[str, str]:
        lookup.prop(config, key, context)
        return {key: value}

    return checked


# One handler per operation kind: users, organisations and apps each declare the operation
# with their own path, scope and name (users.py, orgs.py, apps.py).


def get_property_values(call: Call) -> Reply:
    context, holder = _holder(call, call.config)
    return success(properties=property_values(call.config, context, holder.properties))


def update_property_values(call: Call) -> Reply:
    """``{"properties": {key: value}}``, merged."""
    body = call.table()
    return set_property_values(call, lambda config, context: checked_values(config, body, context))


def update_property_value(call: Call) -> Reply:
    """``{"value": ...}`` for the property the path names."""
    value = property_text(call.required("value"), "value")
    return set_property_values(call, one_value(call.params["property_key"], value))

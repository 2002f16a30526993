"""Values a request sets: a feature flag's override (text as the Management API sends it)
and property values (strings, numbers or booleans, kept as text)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType
from typing import Any, TypeVar

from mockauth.management import lookup
from mockauth.management.errors import ManagementBadRequest
from mockauth.management.operations import Call, Reply, success
from mockauth.tenant.apps import App
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.flagvalues import flag_value_from_text
from mockauth.tenant.people import Org, User
from mockauth.tenant.validate import Table

Holder = TypeVar("Holder", User, Org, App)


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


def set_property_values(
    call: Call,
    find: Callable[[ServerConfig], Holder],
    put: Callable[[ServerConfig, Holder], ServerConfig],
    values: Callable[[ServerConfig], dict[str, str]],
) -> Reply:
    """Merge ``values`` (checked against the config of the write) into the properties of the
    user, organisation or app ``find`` picks, in one tenant write."""

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        holder = find(config)
        merged = MappingProxyType({**holder.properties, **values(config)})
        return put(config, replace(holder, properties=merged)), None

    call.tenant.update(change)
    return success()


def one_value(key: str, value: str, context: str) -> Callable[[ServerConfig], dict[str, str]]:
    """``{key: value}``, once ``key`` is a property of ``context`` (else 404)."""

    def checked(config: ServerConfig) -> dict[str, str]:
        lookup.prop(config, key, context)
        return {key: value}

    return checked

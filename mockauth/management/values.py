"""Values a request sets: a feature flag's override (text as the Management API sends it)
and property values (strings, numbers or booleans, kept as text)."""

from __future__ import annotations

from typing import Any

from mockauth.management import lookup
from mockauth.management.errors import ManagementBadRequest
from mockauth.tenant.catalog import flag_value_from_text
from mockauth.tenant.config import ServerConfig
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

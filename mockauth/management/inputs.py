"""Typed reads of request bodies and query values, every failure a ConfigError naming the
field (the operation wrapper answers it as Kinde's 400)."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from mockauth.errors import _MISSING
from mockauth.tenant.validate import Table

LIMIT = 256


def text(t: Table, name: str, *, limit: int = LIMIT, required: bool = False) -> str | None:
    """A string (may be empty) of at most ``limit`` characters; None when absent or null."""
    value = t.data.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise t.fail(name, _MISSING, "required")
        return None
    if not isinstance(value, str):
        raise t.fail(name, value, "must be a string")
    if len(value) > limit:
        raise t.fail(name, value[:40] + "...", f"must be at most {limit} characters")
    if required and not value.strip():
        raise t.fail(name, value, "must not be empty")
    return value


def boolean(t: Table, name: str) -> bool | None:
    value = t.data.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise t.fail(name, value, "must be true or false")
    return value


def strings(t: Table, name: str, *, limit: int = 200, most: int = 500) -> list[str] | None:
    """An array of non-empty strings; None when absent."""
    value = t.data.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > most:
        raise t.fail(name, value, f"must be an array of at most {most} strings")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item or len(item) > limit:
            raise t.fail(f"{name}[{i}]", item, f"must be a string of 1 to {limit} characters")
    return list(dict.fromkeys(value))


def items(t: Table, name: str, *, most: int = 500) -> list[Table]:
    """An array of objects, each as a Table; empty when absent."""
    value = t.data.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > most:
        raise t.fail(name, value, f"must be an array of at most {most} objects")
    return [Table(t.reader, item, t.at(f"{name}[{i}]")) for i, item in enumerate(value)]


def sub(t: Table, name: str) -> Table:
    value = t.data.get(name)
    return Table(t.reader, {} if value is None else value, t.at(name))


def choice(t: Table, name: str, options: tuple[str, ...], *, required: bool = False) -> Any:
    value = t.data.get(name)
    if value is None and not required:
        return None
    if value not in options:
        raise t.fail(name, value, f"must be one of {', '.join(options)}")
    return value


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_user_id() -> str:
    return "kp_" + secrets.token_hex(16)


def new_org_code() -> str:
    return "org_" + secrets.token_hex(6)[:11]

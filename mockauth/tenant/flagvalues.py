"""A feature flag's values: its types (``b``, ``s``, ``i`` as tokens carry them; bool, str,
int as the Management API names them), a value of a type, and a value as text both ways."""

from __future__ import annotations

import re

# Flag types as tokens carry them (``t``) and as the Management API names them.
FLAG_TYPES = {"b": bool, "s": str, "i": int}
FLAG_TYPE_NAMES = {"b": "bool", "s": "str", "i": "int"}
FlagValue = bool | str | int


def flag_value(flag_type: str, value: object) -> FlagValue | None:
    """``value`` as a value of ``flag_type``, or None when it is not one (a bool is no int)."""
    if flag_type == "b":
        return value if isinstance(value, bool) else None
    if flag_type == "i":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return value if isinstance(value, str) else None


def flag_value_from_text(flag_type: str, text: str) -> FlagValue | None:
    """A value as the Management API sends it (a string: ``"true"``, ``"42"``), or None."""
    if flag_type == "s":
        return text
    if flag_type == "b":
        return {"true": True, "false": False}.get(text.strip().lower())
    stripped = text.strip()
    if re.fullmatch(r"-?\d{1,18}", stripped):
        return int(stripped)
    return None


def flag_text(value: FlagValue) -> str:
    """A value as the Management API answers it: always a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

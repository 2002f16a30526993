"""The one validation reader: untrusted tables (a TOML file, an admin API body, a pytest
marker's arguments, a Management API request) read into typed values, every failure a
ConfigError naming the source, the key path and the value.

The rules a value must follow are written once, as data (``Text`` for strings, ``Bounds``
for numbers, sets of allowed keys): the parsers check values with them, and the admin API's
OpenAPI document (admin/openapi.py) states the same objects as JSON Schema.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from mockauth.errors import _MISSING, ConfigConflictError, ConfigError

MAX_CLAIM_DEPTH = 32  # a claim nested hundreds deep would overflow the JSON encoder later

# Characters no text value may hold: the C0 and C1 controls and DEL ...
CONTROLS = "\\u0000-\\u001f\\u007f-\\u009f"
# ... and, where whitespace is refused too, every other character str.isspace() calls one.
SPACES = "\\u0020\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"


@dataclass(frozen=True)
class Text:
    """A rule for a string, written once: parsers check it, the OpenAPI document states it.

    ``pattern`` is anchored, ``^...$``, and written in the part of regular expression syntax
    that Python and ECMA-262 (JSON Schema's dialect) read alike: explicit character classes
    (no ``.``, ``\\s``, ``\\d``, ``\\w``) and ``\\uXXXX`` escapes. Its final ``$`` is read
    here as ``\\Z``, the end of the text, as JSON Schema reads it (Python's ``$`` would let a
    trailing newline through). ``reason`` completes "request body: key = value: ...".
    """

    pattern: str
    reason: str
    max_length: int | None = None

    def __post_init__(self) -> None:
        if not (self.pattern.startswith("^") and self.pattern.endswith("$")):
            raise ValueError(f"a Text pattern is anchored ^...$: {self.pattern!r}")

    @cached_property  # compiled on first use: dozens of rules would cost start-up ~15 ms
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern[:-1] + r"\Z")

    def ok(self, value: object) -> bool:
        """True when ``value`` is a string that follows the rule."""
        if not isinstance(value, str):
            return False
        if self.max_length is not None and len(value) > self.max_length:
            return False
        return self.regex.match(value) is not None


@dataclass(frozen=True)
class Bounds:
    """A number's range, written once: ``low`` to ``high`` (above ``low`` if ``open_low``);
    ``integer``: a JSON integer, never a float or a boolean."""

    low: float
    high: float
    integer: bool = False
    open_low: bool = False


# Text of any length without control characters (names, descriptions).
TEXT = Text(f"^[^{CONTROLS}]*$", "must be text without control characters")
# Rules several tables share (apps, APIs, users, organisations, roles).
SCOPE = Text("^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$", "must be a scope token")  # RFC 6749
AUDIENCE = Text(
    f"^[^{CONTROLS}{SPACES}]+$", "must be non-empty with no whitespace or control characters"
)
# A role or permission key.
PERMISSION = Text("^[\\x21-\\x7e]{1,200}$", "must be 1 to 200 printable ASCII characters")
# An email's limit (RFC 5321).
EMAIL = Text(f"^[^@{CONTROLS}{SPACES}]+@[^@{CONTROLS}{SPACES}]+$", "must be an email address", 254)


def key_path(prefix: str, name: str) -> str:
    """``name`` under ``prefix`` as errors show it: ``apps[0].client_id``."""
    return f"{prefix}.{name}" if prefix else name


class Reader:
    """Typed reads of one source; ``key`` arguments are the value's whole key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, value: object, reason: str) -> ConfigError:
        return ConfigError(self.source, key, value, reason)

    def conflict(self, key: str, value: object, reason: str) -> ConfigError:
        """A well-formed value that clashes with what is already defined (the admin API
        answers it 409; 400 is kept for values its OpenAPI document refuses)."""
        return ConfigConflictError(self.source, key, value, reason)

    def matches(self, key: str, value: object, rule: Text) -> str:
        """``value`` if it follows ``rule``; else a ConfigError with the rule's reason."""
        if isinstance(value, str) and rule.max_length is not None and len(value) > rule.max_length:
            shown = value[:40] + "..." if len(value) > 40 else value
            raise self.fail(key, shown, f"must be at most {rule.max_length} characters")
        if not isinstance(value, str):
            raise self.fail(key, value, "must be a string")
        if not rule.ok(value):
            raise self.fail(key, value, rule.reason)
        return value

    def table(self, value: object, key: str, allowed: Iterable[str]) -> dict[str, Any]:
        """A table (dict) with only ``allowed`` keys."""
        if not isinstance(value, dict):
            raise self.fail(key, value, "must be a table")
        self.only(value, key, allowed)
        return value

    def only(
        self, data: Mapping[str, Any], key: str, allowed: Iterable[str], reason: str = ""
    ) -> None:
        """Refuse the first key of ``data`` that is not ``allowed``."""
        names = set(allowed)
        for name in data:
            if name not in names:
                why = reason or f"unknown key (allowed: {', '.join(sorted(names))})"
                raise self.fail(key_path(key, str(name)), data[name], why)

    def typed(
        self, data: Mapping[str, Any], name: str, key: str, kind: type, default: Any = _MISSING
    ) -> Any:
        """``data[name]`` if it is a ``kind`` (a bool is no int), else ``default``; no
        default means the key is required."""
        value = data.get(name, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise self.fail(key, _MISSING, "required key is missing")
            return default
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(key, value, f"must be {_kind_name(kind)}")
        return value

    def text(
        self, data: Mapping[str, Any], name: str, key: str, rule: Text, *, default: Any = None
    ) -> Any:
        """A string following ``rule``, or ``default`` when absent."""
        value = data.get(name, _MISSING)
        if value is _MISSING:
            return default
        return self.matches(key, value, rule)

    def strings(
        self, value: object, key: str, check: Callable[[str], bool] | Text, what: str = ""
    ) -> tuple[str, ...]:
        """An array of distinct strings, each passing ``check`` (``what`` names it)."""
        if not isinstance(value, list):
            raise self.fail(key, value, "must be an array of strings")
        for i, item in enumerate(value):
            if isinstance(check, Text):
                self.matches(f"{key}[{i}]", item, check)
            elif not isinstance(item, str) or not check(item):
                raise self.fail(f"{key}[{i}]", item, f"must be {what}")
        if len(set(value)) != len(value):
            raise self.fail(key, value, "contains duplicates")
        return tuple(value)

    def choice(
        self,
        data: Mapping[str, Any],
        name: str,
        key: str,
        options: Iterable[str],
        *,
        required: bool = False,
    ) -> Any:
        """One of ``options``, or None when absent and not required."""
        value = data.get(name, _MISSING)
        if value is _MISSING and not required:
            return None
        names = list(options)
        if value not in names:
            raise self.fail(key, value, f"must be one of {', '.join(names)}")
        return value

    def integer(
        self,
        data: Mapping[str, Any],
        name: str,
        key: str,
        *,
        low: int,
        high: int,
        default: int | None = None,
    ) -> Any:
        """An integer in [low, high], or ``default`` when absent."""
        value = data.get(name, _MISSING)
        if value is _MISSING:
            return default
        number = whole(value)
        if number is None or not low <= number <= high:
            raise self.fail(key, value, f"must be an integer from {low} to {high}")
        return number

    def number(
        self,
        data: Mapping[str, Any],
        name: str,
        key: str,
        *,
        low: float,
        high: float,
        default: float | None = None,
        open_low: bool = False,
    ) -> Any:
        """A finite number in [low, high] (``open_low``: above low), or ``default``."""
        value = data.get(name, _MISSING)
        if value is _MISSING:
            return default
        number = self.number_value(key, value, low, high)
        if open_low and number <= low:
            raise self.fail(key, value, f"must be greater than {low:g}")
        return number

    def bounded(
        self, data: Mapping[str, Any], name: str, key: str, bounds: Bounds, default: Any = None
    ) -> Any:
        """A number within ``bounds`` (an integer if they say so), or ``default``."""
        if bounds.integer:
            low, high = int(bounds.low), int(bounds.high)
            return self.integer(data, name, key, low=low, high=high, default=default)
        return self.number(
            data,
            name,
            key,
            low=bounds.low,
            high=bounds.high,
            default=default,
            open_low=bounds.open_low,
        )

    def number_value(self, key: str, value: object, low: float, high: float) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not low <= value <= high
        ):
            raise self.fail(key, value, f"must be a number from {low:g} to {high:g}")
        return float(value)

    def array(self, data: Mapping[str, Any], name: str) -> list[Any]:
        """An array of tables (``[[name]]``), empty when absent."""
        value = data.get(name, [])
        if not isinstance(value, list):
            raise self.fail(name, value, "must be an array of tables ([[" + name + "]])")
        return value

    def unique(self, values: list[str], array: str, key: str) -> None:
        """Refuse the first repeat of ``key`` among the tables of ``array``."""
        seen: set[str] = set()
        for i, value in enumerate(values):
            if value in seen:
                raise self.fail(f"{array}[{i}].{key}", value, f"duplicate {key}")
            seen.add(value)

    def claims(self, data: Mapping[str, Any], key: str, reserved: frozenset[str]) -> dict[str, Any]:
        """Extra token claims: JSON values, none of the ``reserved`` names mockauth sets."""
        claims: dict[str, Any] = self.typed(data, "claims", f"{key}.claims", dict, {})
        for claim in claims:
            if claim in reserved:
                raise self.fail(
                    f"{key}.claims.{claim}",
                    claims[claim],
                    "is set by mockauth and cannot be overridden",
                )
        bad = non_json(claims, f"{key}.claims")
        if bad is not None:  # TOML dates/times and inf/nan cannot go into a JWT
            raise self.fail(
                bad[0], bad[1], "must be a JSON value (no dates, times, inf or nan; 32 levels)"
            )
        return dict(claims)


def whole(value: object) -> int | None:
    """``value`` as an int if it is an integer as JSON Schema reads one: ``3`` or ``3.0``
    (JSON has one kind of number), never ``true``; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def non_json(value: object, key: str, depth: int = 0) -> tuple[str, object] | None:
    """The key path and value of the first part of ``value`` JSON cannot carry, if any."""
    if depth > MAX_CLAIM_DEPTH:
        return (key, "(nested too deep)")
    if isinstance(value, dict):
        items: list[tuple[str, object]] = [(f"{key}.{k}", v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"{key}[{i}]", v) for i, v in enumerate(value)]
    elif isinstance(value, float):
        return None if math.isfinite(value) else (key, value)
    else:  # null, true and false are JSON too
        return None if value is None or isinstance(value, str | int) else (key, value)
    for where, item in items:
        bad = non_json(item, where, depth + 1)
        if bad is not None:
            return bad
    return None


def _kind_name(kind: type) -> str:
    names = {str: "a string", int: "an integer", dict: "a table", list: "an array"}
    return {**names, bool: "true or false"}.get(kind, kind.__name__)


class Table:
    """One table bound to its reader and key path: ``table.integer("times", ...)`` reads
    ``data["times"]`` and names ``<key>.times`` if it fails."""

    def __init__(self, reader: Reader, data: object, key: str = "", *, what: str = "table") -> None:
        if not isinstance(data, Mapping):
            raise reader.fail(key or f"({what})", data, "must be a table (a JSON object)")
        self.reader = reader
        self.data: Mapping[str, Any] = data
        self.key = key

    def at(self, name: str) -> str:
        return key_path(self.key, name)

    def fail(self, name: str, value: object, reason: str) -> ConfigError:
        return self.reader.fail(self.at(name), value, reason)

    def only(self, allowed: Iterable[str], reason: str = "") -> None:
        self.reader.only(self.data, self.key, allowed, reason)

    def conflict(self, name: str, value: object, reason: str) -> ConfigError:
        return self.reader.conflict(self.at(name), value, reason)

    def string(self, name: str, rule: Text, *, default: Any = None) -> Any:
        return self.reader.text(self.data, name, self.at(name), rule, default=default)

    def bounded(self, name: str, bounds: Bounds, default: Any = None) -> Any:
        return self.reader.bounded(self.data, name, self.at(name), bounds, default)

    def choice(self, name: str, options: Iterable[str], *, required: bool = False) -> Any:
        return self.reader.choice(self.data, name, self.at(name), options, required=required)

    def integer(self, name: str, *, low: int, high: int, default: int | None = None) -> Any:
        return self.reader.integer(
            self.data, name, self.at(name), low=low, high=high, default=default
        )

    def number(
        self,
        name: str,
        *,
        low: float,
        high: float,
        default: float | None = None,
        open_low: bool = False,
    ) -> Any:
        return self.reader.number(
            self.data, name, self.at(name), low=low, high=high, default=default, open_low=open_low
        )

    def number_value(self, name: str, value: object, low: float, high: float) -> float:
        return self.reader.number_value(self.at(name), value, low, high)

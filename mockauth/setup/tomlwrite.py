"""Write config tables as TOML (the standard library reads TOML but does not write it).

Enough TOML for a config: top-level keys, tables (``[lifetimes]``), arrays of tables
(``[[apps]]``) whose table-valued keys become sub-tables (``[apps.apis]``), and inline tables
and arrays below that. ``tomllib.loads(dumps(doc)) == doc`` for every document made of
strings, booleans, integers, finite floats, lists and string-keyed dicts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def dumps(doc: Mapping[str, Any]) -> str:
    """``doc`` as a TOML document: plain keys first, then tables, then arrays of tables."""
    lines = [f"{key(k)} = {value(v)}" for k, v in doc.items() if not _is_table(v, top=True)]
    for name, item in doc.items():
        if isinstance(item, Mapping):
            lines += ["", f"[{key(name)}]", *_body(item, [name], arrays=False)]
        elif _is_table(item, top=True):
            for table in item:
                lines += ["", f"[[{key(name)}]]", *_body(table, [name], arrays=True)]
    return "\n".join(lines).lstrip("\n") + "\n"


def _is_table(item: object, *, top: bool) -> bool:
    if isinstance(item, Mapping):
        return top
    return (
        top and isinstance(item, list) and bool(item) and all(isinstance(x, Mapping) for x in item)
    )


def _body(table: Mapping[str, Any], path: list[str], *, arrays: bool) -> list[str]:
    """A table's keys; in an array of tables, its non-empty dict values as sub-tables."""
    subtables = {k: v for k, v in table.items() if arrays and isinstance(v, Mapping) and v}
    lines = [f"{key(k)} = {value(v)}" for k, v in table.items() if k not in subtables]
    for name, sub in subtables.items():
        dotted = ".".join(key(p) for p in [*path, name])
        lines += ["", f"[{dotted}]", *(f"{key(k)} = {value(v)}" for k, v in sub.items())]
    return lines


def key(name: str) -> str:
    """A key, bare when TOML allows it, else quoted."""
    return name if _BARE_KEY.match(name) else string(name)


def value(item: object) -> str:
    """One TOML value (inline tables and arrays for nested data)."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        if not math.isfinite(item):
            raise ValueError(f"{item!r} has no place in a config file")
        return repr(item)
    if isinstance(item, str):
        return string(item)
    if isinstance(item, Mapping):
        inner = ", ".join(f"{key(k)} = {value(v)}" for k, v in item.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(item, list | tuple):
        return "[" + ", ".join(value(v) for v in item) + "]"
    raise TypeError(f"cannot write {type(item).__name__} as TOML")


def string(text: str) -> str:
    """A TOML basic string: control characters escaped, everything else as it is."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'

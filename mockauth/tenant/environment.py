"""The environment's settings the Management API changes (``[environment]``): its passkey
policy and its logos; organisations take the same two (``[[orgs]] passkey_policy`` and
``logos``).

A logo is kept as the name of the file uploaded, by type (light or dark): mockauth shows no
logo anywhere, so it keeps no image.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mockauth.tenant.validate import TEXT, Reader, Text

PASSKEY_POLICIES = ("off", "optional", "mandatory")
LOGO_TYPES = ("light", "dark")
LOGO_NAME = Text(TEXT.pattern, TEXT.reason, 256)
ENVIRONMENT_KEYS = frozenset({"passkey_policy", "logos"})


@dataclass(frozen=True, kw_only=True)
class Environment:
    passkey_policy: str = "off"
    logos: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def environment_table(environment: Environment) -> dict[str, Any]:
    out: dict[str, Any] = {"passkey_policy": environment.passkey_policy}
    if environment.logos:
        out["logos"] = dict(environment.logos)
    return out


def parse_environment(v: Reader, value: object, key: str = "environment") -> Environment:
    data = v.table(value, key, ENVIRONMENT_KEYS)
    return Environment(
        passkey_policy=parse_policy(v, data, key) or "off", logos=parse_logos(v, data, key)
    )


def parse_policy(v: Reader, data: Mapping[str, Any], key: str) -> str | None:
    policy: str | None = v.choice(data, "passkey_policy", f"{key}.passkey_policy", PASSKEY_POLICIES)
    return policy


def parse_logos(v: Reader, data: Mapping[str, Any], key: str) -> Mapping[str, str]:
    """``logos = {light = "file name", dark = "file name"}`` (either may be absent)."""
    where = f"{key}.logos"
    table = v.typed(data, "logos", where, dict, {})
    v.only(table, where, LOGO_TYPES)
    return MappingProxyType(
        {kind: v.matches(f"{where}.{kind}", name, LOGO_NAME) for kind, name in table.items()}
    )

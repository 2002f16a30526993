"""JSON Schema of the admin API's request bodies, built from the rules the server checks with.

Nothing here is written twice: every allowed key, pattern, length and range comes from the
constants the parsers use (``Text`` and ``Bounds`` objects and key sets in tenant/apps.py,
tenant/apis.py, tenant/people.py, faults/rules.py and admin/io.py), so the document cannot
drift from them.
What JSON Schema cannot say, the server answers with 409 (a body that is well-formed but at
odds with the tenant: an audience no API defines, an email in use) or states in a
description (claims nest at most 32 levels). tests/admin/test_schemas.py holds the key
sets equal to the parsers' and each pattern to what Python reads in it; the schemathesis run
in tests/e2e/test_admin_api.py holds the whole document to what the server does: a 400 only
for bodies the document refuses, never a 400 for one it admits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mockauth import paths
from mockauth.admin.io import CLOCK_CHANGES, OVERLAP
from mockauth.faults.rules import (
    BAD_TOKEN_NAMES,
    DELAY,
    EFFECT_ENDPOINT,
    EFFECTS,
    ENDPOINTS,
    ERROR_CODE,
    ERROR_STATUSES,
    FORM_MATCHERS,
    FREQUENCY,
    HTML_STATUS,
    MATCH_TEXT,
    PATH,
    RETRY_AFTER,
    RULE_ID,
    TIMEOUT,
)
from mockauth.tenant.apis import DESCRIPTION
from mockauth.tenant.apps import (
    APP_TYPES,
    CLIENT_ID,
    CLIENT_SECRET,
    INCLUDE_CLAIMS,
    LIFETIMES,
    NO_CALLBACK_APP_TYPES,
    PUBLIC_APP_TYPES,
    RESERVED_CLAIMS,
)
from mockauth.tenant.catalog import MAX_TEXT
from mockauth.tenant.environment import LOGO_NAME, LOGO_TYPES, PASSKEY_POLICIES
from mockauth.tenant.invites import INVITE_CODE, INVITE_TEXT
from mockauth.tenant.people import (
    NAME,
    ORG_CODE,
    ORG_TEXT,
    ORIGIN,
    REDIRECT_URI,
    USER_ID,
    USER_RESERVED_CLAIMS,
    USER_TEXT,
)
from mockauth.tenant.validate import (
    AUDIENCE,
    EMAIL,
    MAX_CLAIM_DEPTH,
    PERMISSION,
    SCOPE,
    TEXT,
    Bounds,
    Text,
)

Schema = dict[str, Any]


def text(rule: Text) -> Schema:
    out: Schema = {"type": "string", "pattern": rule.pattern}
    if rule.max_length is not None:
        out["maxLength"] = rule.max_length
    return out


def bounded(bounds: Bounds) -> Schema:
    if bounds.integer:
        return {"type": "integer", "minimum": int(bounds.low), "maximum": int(bounds.high)}
    low = "exclusiveMinimum" if bounds.open_low else "minimum"
    return {"type": "number", low: bounds.low, "maximum": bounds.high}


def strings(rule: Text) -> Schema:
    return {"type": "array", "items": text(rule), "uniqueItems": True}


def table(properties: Mapping[str, Schema], required: Iterable[str] = ()) -> Schema:
    """An object with these keys and no others."""
    out: Schema = {"type": "object", "properties": dict(properties), "additionalProperties": False}
    if required:
        out["required"] = list(required)
    return out


def values(context: str) -> dict[str, Schema]:
    """An entity's feature flag overrides (not apps') and property values; which keys exist
    is the tenant's business ([[feature_flags]], [[properties]]): an unknown one is a 409."""
    out: dict[str, Schema] = {}
    if context != "app":
        out["feature_flags"] = {
            "type": "object",
            "additionalProperties": {"type": ["string", "boolean", "number"]},
            "description": "flag key = value of the flag's type (defined in [[feature_flags]])",
        }
    out["properties"] = {
        "type": "object",
        "additionalProperties": {"type": "string", "maxLength": MAX_TEXT},
        "description": f"key = value of a property of context {context!r} in [[properties]]",
    }
    return out


def per_org(what: str) -> Schema:
    return {
        "type": "object",
        "propertyNames": text(ORG_CODE),
        "additionalProperties": strings(PERMISSION),
        "description": f"org code (one of the user's orgs) = [{what} keys]",
    }


def api_scopes() -> Schema:
    return {
        "type": "object",
        "propertyNames": text(AUDIENCE),
        "additionalProperties": strings(SCOPE),
        "description": "audience = [scopes of that API]",
    }


def invite() -> Schema:
    return table(
        {
            "code": text(INVITE_CODE),
            "email": text(EMAIL),
            "roles": {**strings(PERMISSION), "description": "role keys"},
            "is_revoked": {"type": "boolean"},
            **{name: text(rule) for name, rule in INVITE_TEXT.items()},
        },
        ("code", "email"),
    )


def claims(reserved: frozenset[str]) -> Schema:
    return {
        "type": "object",
        "propertyNames": {"not": {"enum": sorted(reserved)}},
        "description": f"extra token claims: JSON values nested at most {MAX_CLAIM_DEPTH} "
        f"levels; not {', '.join(sorted(reserved))}",
    }


# --- the directory: config tables ----------------------------------------------------------


def app() -> Schema:
    schema = table(
        {
            "name": text(TEXT),
            "type": {"enum": list(APP_TYPES), "default": "m2m"},
            "client_id": text(CLIENT_ID),
            "client_secret": text(CLIENT_SECRET),
            "org_code": text(ORG_CODE),
            "claims": claims(RESERVED_CLAIMS),
            "apis": {
                "type": "object",
                "propertyNames": text(AUDIENCE),
                "additionalProperties": {"oneOf": [strings(SCOPE), {"const": "*"}]},
                "description": "audience (defined by an API; {issuer} stands for the "
                'server\'s issuer) = the scopes of that API granted, or "*" for all of them',
            },
            "lifetimes": table({name: bounded(b) for name, b in LIFETIMES.items()}),
            "redirect_uris": strings(REDIRECT_URI),
            "logout_uris": strings(REDIRECT_URI),
            "allowed_origins": {
                **strings(ORIGIN),
                "description": "browser origins besides those of the callback and logout URLs",
            },
            "login_uri": text(REDIRECT_URI),
            "homepage_uri": text(REDIRECT_URI),
            "include_claims": {
                "type": "array",
                "items": {"enum": list(INCLUDE_CLAIMS)},
                "uniqueItems": True,
            },
            **values("app"),
        },
        ("name", "client_id"),
    )
    public = [t for t in APP_TYPES if t in PUBLIC_APP_TYPES]
    callback = [t for t in APP_TYPES if t not in NO_CALLBACK_APP_TYPES]
    schema["allOf"] = [
        {  # a secret, unless the app is one that keeps none
            "anyOf": [
                {"required": ["type"], "properties": {"type": {"enum": public}}},
                {"required": ["client_secret"]},
            ]
        },
        {  # callbacks only for apps a browser comes back to (m2m is the default type)
            "anyOf": [
                {"required": ["type"], "properties": {"type": {"enum": callback}}},
                {"properties": {"redirect_uris": {"maxItems": 0}}},
            ]
        },
    ]
    return schema


def api() -> Schema:
    return table(
        {
            "name": {**text(TEXT), "description": "default: the audience"},
            "audience": text(AUDIENCE),
            "scopes": strings(SCOPE),
            "scope_descriptions": {
                "type": "object",
                "additionalProperties": text(DESCRIPTION),
                "description": "scope (one of this API's) = what it allows",
            },
        },
        ("audience",),
    )


def user() -> Schema:
    return table(
        {
            "id": {**text(USER_ID), "description": "default: kp_ and a hash of the email"},
            "email": text(EMAIL),
            "email_verified": {"type": "boolean"},
            **{name: text(rule) for name, rule in USER_TEXT.items()},
            "orgs": strings(ORG_CODE),
            "permissions": strings(PERMISSION),
            "roles": strings(PERMISSION),
            "claims": claims(USER_RESERVED_CLAIMS),
            "org_roles": per_org("role"),
            "org_permissions": per_org("permission"),
            "is_suspended": {"type": "boolean"},
            "org_api_scopes": {
                "type": "object",
                "propertyNames": text(ORG_CODE),
                "additionalProperties": api_scopes(),
                "description": "org code (one of the user's orgs) = API scopes held in it",
            },
            **values("usr"),
        },
        ("email",),
    )


def org() -> Schema:
    return table(
        {
            "code": text(ORG_CODE),
            "name": text(NAME),
            "is_allow_registrations": {"type": "boolean"},
            **{name: text(rule) for name, rule in ORG_TEXT.items()},
            **values("org"),
            "invites": {
                "type": "array",
                "items": invite(),
                "description": "invitations (codes unique in the organisation)",
            },
            "logos": table({kind: text(LOGO_NAME) for kind in LOGO_TYPES}),
            "passkey_policy": {"enum": list(PASSKEY_POLICIES)},
        },
        ("code",),
    )


# --- fault rules: one branch per effect ----------------------------------------------------


def _effect_parameters(kind: str) -> tuple[dict[str, Schema], list[str]]:
    """The parameters effect ``kind`` takes, and those it requires."""
    delay = bounded(DELAY)
    known: dict[str, Schema] = {
        "delay": {
            "oneOf": [delay, {"type": "array", "items": delay, "minItems": 2, "maxItems": 2}],
            "description": "seconds, or a range [a, b] to draw from",
        },
        "status": bounded(HTML_STATUS),
        "error": text(ERROR_CODE),
        "description": text(MATCH_TEXT),
        "retry_after": bounded(RETRY_AFTER),
        "timeout": bounded(TIMEOUT),
        "token": {"enum": list(BAD_TOKEN_NAMES)},
    }
    if kind == "error":
        known["status"] = {"type": "integer", "enum": sorted(ERROR_STATUSES)}
    required = {"latency": ["delay"], "bad_token": ["token"]}.get(kind, [])
    return {name: known[name] for name in sorted(EFFECTS[kind])}, required


def _match_properties(kind: str) -> dict[str, Schema]:
    """Where a rule of effect ``kind`` may apply."""
    form = {name: text(MATCH_TEXT) for name in FORM_MATCHERS}
    wanted = EFFECT_ENDPOINT.get(kind)
    if wanted is None:
        return {"endpoint": {"enum": list(ENDPOINTS)}, "path": text(PATH), **form}
    only = {"enum": list(ENDPOINTS[wanted])}
    if wanted == "token":  # the form is read on the token endpoint alone
        return {"endpoint": {"const": wanted}, "path": only, **form}
    return {"endpoint": {"const": wanted}, "path": only}


def fault_rule(kind: str) -> Schema:
    """The rules of one effect."""
    parameters, required = _effect_parameters(kind)
    properties = {
        "id": text(RULE_ID),
        **_match_properties(kind),
        "effect": {"const": kind},
        **parameters,
        **{name: bounded(b) for name, b in FREQUENCY.items()},
    }
    schema = table(properties, ("effect", *required))
    constraints: list[Schema] = [{"not": {"required": ["endpoint", "path"]}}]
    if kind == "error":
        constraints.append({"anyOf": [{"required": ["status"]}, {"required": ["error"]}]})
    if EFFECT_ENDPOINT.get(kind) is None:  # client, audience, grant type: token requests only
        constraints.append(
            {
                "if": {"anyOf": [{"required": [name]} for name in FORM_MATCHERS]},
                "then": {
                    "properties": {
                        "endpoint": {"const": "token"},
                        "path": {"const": paths.TOKEN},
                    }
                },
            }
        )
    schema["allOf"] = constraints
    return schema


def fault_rules() -> dict[str, Schema]:
    return {kind: fault_rule(kind) for kind in EFFECTS}


# --- keys and clock ------------------------------------------------------------------------


def rotation() -> Schema:
    return table({"overlap": bounded(OVERLAP)})


def retirement() -> Schema:
    return table({"kid": {"type": "string"}})


def clock_change() -> Schema:
    """Exactly one of the changes."""
    branches = []
    for name, bounds in CLOCK_CHANGES.items():
        value = {"const": True} if bounds is None else bounded(bounds)
        branches.append(table({name: value}, (name,)))
    return {"oneOf": branches}

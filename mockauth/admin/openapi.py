"""The admin API's OpenAPI 3.1 document, served at /_mockauth/openapi.json.

Enumerations (endpoints, effects, bad-token names) come from the modules that define them,
so the document cannot drift from what the server accepts; tests check that every admin
route is described and every described operation exists.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from mockauth import paths
from mockauth.faults.badtokens import BAD_TOKENS
from mockauth.faults.rules import EFFECTS, ENDPOINTS
from mockauth.tenant.config import APP_TYPES
from mockauth.tenant.journal import JournalEntry

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    out: Schema = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    return out


NUMBER: Schema = {"type": "number"}
INTEGER: Schema = {"type": "integer"}
STRING: Schema = {"type": "string"}
STRINGS: Schema = {"type": "array", "items": STRING}


def _fault_rule_properties() -> dict[str, Schema]:
    return {
        "id": {**STRING, "pattern": "^[A-Za-z0-9_.:-]{1,64}$"},
        "endpoint": {
            "enum": list(ENDPOINTS),
            "description": "default: any (token when client_id, audience or grant_type is given)",
        },
        "path": {**STRING, "description": "exact path, instead of endpoint"},
        "client_id": STRING,
        "audience": STRING,
        "grant_type": STRING,
        "effect": {"enum": list(EFFECTS)},
        "delay": {
            "oneOf": [NUMBER, {"type": "array", "items": NUMBER, "minItems": 2, "maxItems": 2}],
            "description": "latency: seconds",
        },
        "status": {**INTEGER, "description": "error: 4xx, 500, 502, 503, 504; html_error"},
        "error": {**STRING, "description": "error: OAuth error code, e.g. invalid_client"},
        "description": STRING,
        "retry_after": {**INTEGER, "description": "throttle: RateLimit-Reset and Retry-After"},
        "timeout": {**NUMBER, "description": "hang: seconds before the connection is closed"},
        "token": {"enum": sorted(BAD_TOKENS), "description": "bad_token: which fault"},
        "times": {**INTEGER, "minimum": 1},
        "every": {**INTEGER, "minimum": 1},
        "probability": {**NUMBER, "exclusiveMinimum": 0, "maximum": 1},
        "seed": {**INTEGER, "minimum": 0},
        "expires_in": {**NUMBER, "exclusiveMinimum": 0},
    }


def _schemas() -> dict[str, Schema]:
    rule = _fault_rule_properties()
    status = {
        "seen": INTEGER,
        "fired": INTEGER,
        "state": {"enum": ["active", "exhausted", "expired"]},
    }
    entry = {name: {"type": ["string", "null"]} for name in JournalEntry.__dataclass_fields__}
    entry |= {
        "method": STRING,
        "path": STRING,
        "seq": INTEGER,
        "time": NUMBER,
        "status": {"type": ["integer", "null"]},
        "duration_ms": NUMBER,
        "audiences": STRINGS,
        "scopes": STRINGS,
    }
    return {
        "Error": _obj(
            {"error": STRING, "error_description": STRING}, ("error", "error_description")
        ),
        "FaultRule": {**_obj(rule, ("effect",)), "additionalProperties": False},
        "FaultStatus": _obj(rule | status, ("id", "effect", "seen", "fired", "state")),
        "Faults": _obj({"faults": {"type": "array", "items": _ref("FaultStatus")}}),
        "Keys": _obj(
            {
                "active": STRING,
                "published": STRINGS,
                "previous": STRING,
                "retired": STRINGS,
                "overlap": {"type": ["number", "null"]},
                "retire_at": {"type": "object", "additionalProperties": NUMBER},
            }
        ),
        "Clock": _obj(
            {"now": INTEGER, "offset": NUMBER, "frozen_at": {"type": ["number", "null"]}}
        ),
        "ClockChange": {
            "oneOf": [
                _obj({"offset": NUMBER}, ("offset",)),
                _obj({"advance": NUMBER}, ("advance",)),
                _obj({"frozen_at": NUMBER}, ("frozen_at",)),
                _obj({"freeze": {"const": True}}, ("freeze",)),
            ]
        },
        "JournalEntry": _obj(entry),
        "App": _obj(
            {
                "name": STRING,
                "type": {"enum": list(APP_TYPES)},
                "client_id": STRING,
                "client_secret": STRING,
                "org_code": STRING,
                "claims": {"type": "object"},
                "apis": {"type": "object", "additionalProperties": STRINGS},
                "lifetimes": {"type": "object", "additionalProperties": INTEGER},
                "redirect_uris": STRINGS,
                "logout_uris": STRINGS,
            },
            ("name", "client_id"),
        ),
        "User": _obj(
            {
                "id": STRING,
                "email": STRING,
                "given_name": STRING,
                "family_name": STRING,
                "email_verified": {"type": "boolean"},
                "picture": STRING,
                "username": STRING,
                "orgs": STRINGS,
                "permissions": STRINGS,
                "roles": STRINGS,
                "claims": {"type": "object"},
            },
            ("email",),
        ),
        "Org": _obj({"code": STRING, "name": STRING}, ("code",)),
        "Api": _obj({"name": STRING, "audience": STRING, "scopes": STRINGS}, ("audience",)),
    }


def _op(
    summary: str,
    answer: Schema | None = None,
    *,
    body: Schema | None = None,
    status: str = "200",
    public: bool = False,
    params: list[Schema] | None = None,
) -> Schema:
    op: Schema = {
        "summary": summary,
        "responses": {
            status: {"description": "OK", **({"content": json_of(answer)} if answer else {})},
            "400": {
                "description": "Bad input; the description names the field",
                "content": json_of(_ref("Error")),
            },
        },
    }
    if not public:
        op["responses"]["401"] = {
            "description": "Admin secret missing or wrong",
            "content": json_of(_ref("Error")),
        }
        op["responses"]["409"] = {
            "description": "Refused with --workers > 1",
            "content": json_of(_ref("Error")),
        }
    else:
        op["security"] = []
    if body is not None:
        op["requestBody"] = {"required": True, "content": json_of(body)}
    if params:
        op["parameters"] = params
    return op


def json_of(schema: Schema) -> Schema:
    return {"application/json": {"schema": schema}}


def _query(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _path_param(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": STRING}


def _paths() -> dict[str, Schema]:
    faults = _ref("Faults")
    rules = {"oneOf": [_ref("FaultRule"), {"type": "array", "items": _ref("FaultRule")}]}
    deleted = _obj({"deleted": {"type": ["integer", "object"]}})
    filters = [_query(n, STRING) for n in ("path", "client_id", "fault")]
    filters += [_query(n, INTEGER) for n in ("status", "since", "limit")]
    one = [_path_param("id")]
    return {
        paths.HEALTH: {"get": _op("Liveness", _obj({"status": STRING}), public=True)},
        paths.ADMIN_OPENAPI: {"get": _op("This document", {"type": "object"}, public=True)},
        paths.ADMIN_FAULTS: {
            "get": _op("List fault rules with their counters", faults),
            "post": _op(
                "Add one rule or an array of rules (all or none)", faults, body=rules, status="201"
            ),
            "delete": _op("Delete every fault rule", deleted),
        },
        paths.ADMIN_FAULTS + "/{id}": {
            "get": _op("One fault rule", _ref("FaultStatus"), params=one),
            "delete": _op("Delete one fault rule", deleted, params=one),
        },
        paths.ADMIN_KEYS: {"get": _op("Active and published keys", _ref("Keys"))},
        paths.ADMIN_KEYS + "/rotate": {
            "post": _op(
                "New signing key; the previous stay published until retired or the overlap ends",
                _ref("Keys"),
                body=_obj({"overlap": NUMBER}),
            )
        },
        paths.ADMIN_KEYS + "/retire": {
            "post": _op(
                "Remove one key (kid) or every non-active key ({}) from the JWKS",
                _ref("Keys"),
                body=_obj({"kid": STRING}),
            )
        },
        paths.ADMIN_CLOCK: {
            "get": _op("The server clock", _ref("Clock")),
            "put": _op(
                "Offset, advance or freeze the clock", _ref("Clock"), body=_ref("ClockChange")
            ),
            "delete": _op("Back to real time", _ref("Clock")),
        },
        paths.ADMIN_JOURNAL: {
            "get": _op(
                "Recorded requests, oldest first (secrets never stored)",
                _obj({"entries": {"type": "array", "items": _ref("JournalEntry")}}),
                params=filters,
            ),
            "delete": _op("Forget every entry", deleted),
        },
        paths.ADMIN_APPS: {
            "get": _op("Apps", _obj({"apps": {"type": "array", "items": _ref("App")}})),
            "post": _op(
                "Add (201) or replace (200) an app by client_id",
                _obj({"app": _ref("App"), "created": {"type": "boolean"}}),
                body=_ref("App"),
                status="201",
            ),
        },
        paths.ADMIN_APPS + "/{client_id}": {
            "delete": _op("Remove an app", deleted, params=[_path_param("client_id")]),
        },
        paths.ADMIN_APIS: {
            "get": _op("APIs", _obj({"apis": {"type": "array", "items": _ref("Api")}})),
            "post": _op(
                "Add (201) or replace (200) an API by audience",
                _obj({"api": _ref("Api"), "created": {"type": "boolean"}}),
                body=_ref("Api"),
                status="201",
            ),
        },
        paths.ADMIN_USERS: {
            "get": _op("Users", _obj({"users": {"type": "array", "items": _ref("User")}})),
            "post": _op(
                "Add (201) or replace (200) a user by id (default id: from the email)",
                _obj({"user": _ref("User"), "created": {"type": "boolean"}}),
                body=_ref("User"),
                status="201",
            ),
        },
        paths.ADMIN_USERS + "/{id}": {
            "delete": _op("Remove a user", deleted, params=[_path_param("id")]),
        },
        paths.ADMIN_ORGS: {
            "get": _op("Organizations", _obj({"orgs": {"type": "array", "items": _ref("Org")}})),
            "post": _op(
                "Add (201) or replace (200) an organization by code",
                _obj({"org": _ref("Org"), "created": {"type": "boolean"}}),
                body=_ref("Org"),
                status="201",
            ),
        },
        paths.ADMIN_RESET: {
            "post": _op("Back to the start-up state (keys untouched)", _obj({"status": STRING}))
        },
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the admin API."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mockauth admin API",
            "version": "1",
            "description": "Fault injection, keys, clock, journal, and runtime apps, APIs, "
            "users and organizations of a "
            "mockauth server. Errors are OAuth-style {error, error_description}.",
        },
        "servers": [{"url": "/"}],
        "security": [{"adminSecret": []}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "adminSecret": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "required when the server listens beyond loopback",
                }
            },
        },
    }


@functools.cache
def openapi_bytes() -> bytes:
    """The document serialised once (it depends on nothing at runtime)."""
    return json.dumps(openapi_document(), indent=1).encode()

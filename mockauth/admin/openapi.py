"""The admin API's OpenAPI 3.1 document, served at /_mockauth/openapi.json.

Request bodies are stated by admin/schemas.py from the very constants the parsers check
with, and enumerations (endpoints, effects, bad-token names) come from the modules that
define them, so the document cannot drift from what the server accepts. It says a 400 is a
body outside the document and a 409 a well-formed one at odds with the tenant; the admin
secret is needed only when the server has one (always beyond loopback). Tests check that
every admin route is described and every described operation exists, and a schemathesis run
(tests/e2e/test_admin_api.py; fuzz/fuzz_admin.py for many more examples) that the server
conforms.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from mockauth import paths
from mockauth.admin import schemas
from mockauth.admin.io import JOURNAL_NUMBER_DIGITS
from mockauth.faults.rules import RULE_ID
from mockauth.tenant.apps import CLIENT_ID
from mockauth.tenant.journal import JournalEntry
from mockauth.tenant.people import USER_ID

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


def _schemas() -> dict[str, Schema]:
    rules = schemas.fault_rules()
    status = {
        "seen": INTEGER,
        "fired": INTEGER,
        "state": {"enum": ["active", "exhausted", "expired"]},
    }
    # As stored: any key a rule may have, with the defaults filled in.
    described: dict[str, Schema] = {n: {} for rule in rules.values() for n in rule["properties"]}
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
        "Error": {
            **_obj({"error": STRING, "error_description": STRING}, ("error", "error_description")),
            "additionalProperties": False,
        },
        "FaultRule": {"oneOf": [_ref(f"FaultRule.{kind}") for kind in rules]},
        **{f"FaultRule.{kind}": rule for kind, rule in rules.items()},
        "FaultStatus": {
            **_obj(described | status, ("id", "effect", "seen", "fired", "state")),
            "additionalProperties": False,
        },
        "Faults": _obj({"faults": {"type": "array", "items": _ref("FaultStatus")}}, ("faults",)),
        "Keys": _obj(
            {
                "active": STRING,
                "published": STRINGS,
                "previous": STRING,
                "retired": STRINGS,
                "overlap": {"type": ["number", "null"]},
                "retire_at": {"type": "object", "additionalProperties": NUMBER},
            },
            ("active", "published", "retire_at", "overlap"),
        ),
        "KeyRotation": schemas.rotation(),
        "KeyRetirement": schemas.retirement(),
        "Clock": _obj(
            {"now": INTEGER, "offset": NUMBER, "frozen_at": {"type": ["number", "null"]}},
            ("now", "offset", "frozen_at"),
        ),
        "ClockChange": schemas.clock_change(),
        "JournalEntry": _obj(entry),
        "App": schemas.app(),
        "User": schemas.user(),
        "Org": schemas.org(),
        "Api": schemas.api(),
    }


_ERROR = "#/components/schemas/Error"
_AUTH_CHALLENGE = {
    "WWW-Authenticate": {
        "required": True,
        "schema": STRING,
        "description": 'Bearer realm="mockauth-admin"',
    }
}
# The answers an operation may give besides its own, by when they apply.
_ERRORS = {
    "400": "Bad input: the body or a parameter is outside this document (the description "
    "names the field)",
    "401": "The server has an admin secret, and the Authorization header lacks it",
    "403": "Without a secret: the request came from a web page (a foreign Origin or Host)",
    "404": "Nothing has this id",
    "409": "Well-formed, but at odds with the tenant as it is (an audience no API defines, "
    "an email or fault id in use, the active key); the description names the field",
    "413": "The body is over 256 KiB",
}


def _op(
    summary: str,
    answer: Schema | None = None,
    *,
    body: Schema | None = None,
    body_required: bool = True,
    status: tuple[str, ...] = ("200",),
    public: bool = False,
    params: list[Schema] | None = None,
    conflicts: bool = False,
) -> Schema:
    responses: Schema = {
        code: {"description": "OK", **({"content": json_of(answer)} if answer else {})}
        for code in status
    }
    errors = ["400"]
    if not public:
        errors += ["401", "403"]
    if any(p["in"] == "path" for p in params or ()):
        errors.append("404")
    if conflicts:
        errors.append("409")
    if body is not None:
        errors.append("413")
    for code in errors:
        responses[code] = {"description": _ERRORS[code], "content": json_of({"$ref": _ERROR})}
    if not public:
        responses["401"]["headers"] = _AUTH_CHALLENGE
    op: Schema = {"summary": summary, "responses": responses}
    if public:
        op["security"] = []
    if body is not None:
        op["requestBody"] = {"required": body_required, "content": json_of(body)}
    if params:
        op["parameters"] = params
    return op


def json_of(schema: Schema) -> Schema:
    return {"application/json": {"schema": schema}}


def _query(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _path_param(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _saved(name: str) -> Schema:
    return _obj({name: _ref(name.capitalize()), "created": {"type": "boolean"}}, (name, "created"))


def _paths() -> dict[str, Schema]:
    faults = _ref("Faults")
    rules = {"oneOf": [_ref("FaultRule"), {"type": "array", "items": _ref("FaultRule")}]}
    deleted = _obj({"deleted": {"type": ["integer", "object"]}}, ("deleted",))
    filters = [_query(n, STRING) for n in ("path", "client_id", "fault")]
    count = {**INTEGER, "minimum": 0, "maximum": 10**JOURNAL_NUMBER_DIGITS - 1}
    filters += [_query(n, count) for n in ("status", "since", "limit")]
    one = [_path_param("id", schemas.text(RULE_ID))]
    upsert = ("201", "200")  # created, or replaced the one with the same key
    return {
        paths.HEALTH: {"get": _op("Liveness", _obj({"status": STRING}), public=True)},
        paths.ADMIN_OPENAPI: {"get": _op("This document", {"type": "object"}, public=True)},
        paths.ADMIN_FAULTS: {
            "get": _op("List fault rules with their counters", faults),
            "post": _op(
                "Add one rule or an array of rules (all or none)",
                faults,
                body=rules,
                status=("201",),
                conflicts=True,
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
                body=_ref("KeyRotation"),
                body_required=False,
            )
        },
        paths.ADMIN_KEYS + "/retire": {
            "post": _op(
                "Remove one key (kid) or every non-active key ({}) from the JWKS",
                _ref("Keys"),
                body=_ref("KeyRetirement"),
                body_required=False,
                conflicts=True,
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
                _obj({"entries": {"type": "array", "items": _ref("JournalEntry")}}, ("entries",)),
                params=filters,
            ),
            "delete": _op("Forget every entry", deleted),
        },
        paths.ADMIN_APPS: {
            "get": _op("Apps", _obj({"apps": {"type": "array", "items": _ref("App")}})),
            "post": _op(
                "Add (201) or replace (200) an app by client_id",
                _saved("app"),
                body=_ref("App"),
                status=upsert,
                conflicts=True,
            ),
        },
        paths.ADMIN_APPS + "/{client_id}": {
            "delete": _op(
                "Remove an app",
                deleted,
                params=[_path_param("client_id", schemas.text(CLIENT_ID))],
            ),
        },
        paths.ADMIN_APIS: {
            "get": _op("APIs", _obj({"apis": {"type": "array", "items": _ref("Api")}})),
            "post": _op(
                "Add (201) or replace (200) an API by audience",
                _saved("api"),
                body=_ref("Api"),
                status=upsert,
                conflicts=True,
            ),
        },
        paths.ADMIN_USERS: {
            "get": _op("Users", _obj({"users": {"type": "array", "items": _ref("User")}})),
            "post": _op(
                "Add (201) or replace (200) a user by id (default id: from the email)",
                _saved("user"),
                body=_ref("User"),
                status=upsert,
                conflicts=True,
            ),
        },
        paths.ADMIN_USERS + "/{id}": {
            "delete": _op(
                "Remove a user",
                deleted,
                params=[_path_param("id", schemas.text(USER_ID))],
            ),
        },
        paths.ADMIN_ORGS: {
            "get": _op("Organizations", _obj({"orgs": {"type": "array", "items": _ref("Org")}})),
            "post": _op(
                "Add (201) or replace (200) an organization by code",
                _saved("org"),
                body=_ref("Org"),
                status=upsert,
                conflicts=True,
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
            "users and organizations of a mockauth server. Errors are OAuth-style "
            "{error, error_description}: 400 for a body or parameter outside this document "
            "(no string may hold a lone surrogate such as \\ud800 either), 409 for a "
            "well-formed one at odds with the tenant.",
        },
        "servers": [{"url": "/"}],
        # Either no credentials (a server without a secret: loopback only) or the secret.
        "security": [{}, {"adminSecret": []}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "adminSecret": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the admin secret: required when the server has one "
                    "(always when it listens beyond loopback; given with --admin-secret or "
                    "generated and printed), ignored when it has none",
                }
            },
        },
    }


@functools.cache
def openapi_bytes() -> bytes:
    """The document serialised once (it depends on nothing at runtime)."""
    return json.dumps(openapi_document(), indent=1).encode()

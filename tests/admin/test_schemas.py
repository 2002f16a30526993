"""The admin document's body schemas say what the parsers do: the same keys, patterns that
read alike in Python and in JSON Schema's dialect, and bodies the document refuses are the
ones the server answers 400 (tests/e2e/test_admin_api.py runs schemathesis for the rest)."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mockauth import paths
from mockauth.admin import schemas
from mockauth.admin.io import CLOCK_CHANGES, RETIRE_KEYS, ROTATE_KEYS
from mockauth.admin.openapi import openapi_document
from mockauth.faults import rules
from mockauth.http.app import create_app
from mockauth.tenant import apis, apps, config, environment, invites, people, validate
from mockauth.tenant.tenant import Tenant
from tests.management.kit import bearer, make

TEXTS = {
    f"{module.__name__.rsplit('.', 1)[1]}.{name}": value
    for module in (apis, apps, people, rules, validate, environment, invites)
    for name, value in vars(module).items()
    if isinstance(value, validate.Text)
}


@pytest.mark.parametrize(
    ("schema", "keys"),
    [
        (schemas.app(), apps.APP_KEYS),
        (schemas.api(), apis.API_KEYS),
        (schemas.user(), people.USER_KEYS),
        (schemas.org(), people.ORG_KEYS),
        (schemas.app()["properties"]["lifetimes"], frozenset(apps.LIFETIMES)),
        (schemas.rotation(), ROTATE_KEYS),
        (schemas.retirement(), RETIRE_KEYS),
    ],
)
def test_a_body_schema_names_exactly_the_keys_its_parser_allows(
    schema: dict[str, Any], keys: frozenset[str]
) -> None:
    assert set(schema["properties"]) == keys
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("kind", list(rules.EFFECTS))
def test_each_effect_branch_names_exactly_the_keys_a_rule_of_it_may_have(kind: str) -> None:
    branch = schemas.fault_rule(kind)
    allowed = rules.MATCH_KEYS | rules.FREQUENCY_KEYS | {"id", "effect"} | rules.EFFECTS[kind]
    if rules.EFFECT_ENDPOINT.get(kind) not in (None, "token"):  # no form off the token endpoint
        allowed -= set(rules.FORM_MATCHERS)
    assert set(branch["properties"]) == allowed
    assert branch["properties"]["effect"] == {"const": kind}


def test_the_clock_change_has_one_branch_per_change() -> None:
    branches = schemas.clock_change()["oneOf"]
    assert [list(b["properties"]) for b in branches] == [[name] for name in CLOCK_CHANGES]


def ecma(rule: validate.Text) -> Any:
    """The rule as a JSON Schema validator (Rust's regex engine, not Python's) reads it."""
    return jsonschema_rs.validator_for(schemas.text(rule))


# Strings near every rule: its own matches, the same with a trailing newline (Python's $
# takes one), with a control character, cut, and arbitrary text. No lone surrogates: a body
# holding one is refused before any rule reads it, and a Rust string cannot hold one.
SCALARS = st.characters(exclude_categories=["Cs"])


def near(rule: validate.Text) -> st.SearchStrategy[str]:
    own = st.from_regex(rule.regex, fullmatch=True, alphabet=SCALARS)
    return st.one_of(
        own,
        own.map(lambda s: s + "\n"),
        st.tuples(own, SCALARS, st.integers(0, 80)).map(
            lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
        ),
        own.map(lambda s: s[:-1]),
        st.text(SCALARS),
    )


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_python_and_json_schema_read_each_pattern_alike(name: str) -> None:
    rule = TEXTS[name]
    document = ecma(rule)

    @given(near(rule))
    def agree(value: str) -> None:
        assert rule.ok(value) == document.is_valid(value), value

    agree()


def test_the_text_rules_refuse_every_control_and_space_character() -> None:
    odd = [
        chr(c) for c in range(0x110000) if chr(c).isspace() or unicodedata.category(chr(c)) == "Cc"
    ]
    assert len(odd) > 60
    for c in odd:
        control = unicodedata.category(c) == "Cc"
        assert not validate.AUDIENCE.ok("a" + c), hex(ord(c))
        assert not validate.EMAIL.ok("a@b" + c), hex(ord(c))
        assert rules.MATCH_TEXT.ok("a" + c) is validate.TEXT.ok("a" + c) is not control


@given(st.from_regex(people.ORIGIN.regex, fullmatch=True))
def test_every_origin_the_rule_admits_is_one_a_browser_sends(origin: str) -> None:
    # CORS compares the Origin header byte for byte with the app's origins.
    assert apps.origin_of(origin) == origin
    assert config.issuer_problem(origin) is None


@given(st.from_regex(people.REDIRECT_URI.regex, fullmatch=True))
def test_every_redirect_uri_the_rule_admits_splits(uri: str) -> None:
    # urllib refuses some bracketed hosts (http://[): the authorization endpoint and the
    # logout redirect split registered URIs, so one stored would be a 500 there.
    parts = urlsplit(uri)
    assert parts.scheme and (parts.netloc or parts.path)
    assert people.redirect_uri_problem(uri) is None


# --- the document and the server agree on bodies -------------------------------------------

SECRET = "A" * 20 + "b" * 20 + "9" * 5
NEW_ID = "0123456789abcdef0123456789abcdef"
AGREEMENT = [
    # (schema, path, body, valid)
    ("Api", paths.ADMIN_APIS, {"audience": "https://x"}, True),
    ("Api", paths.ADMIN_APIS, {"audience": "\u0018y"}, False),  # the example
    ("Api", paths.ADMIN_APIS, {"audience": "https://x\n"}, False),
    ("Api", paths.ADMIN_APIS, {"audience": "https://x", "name": "\u0085"}, False),
    ("Api", paths.ADMIN_APIS, {"audience": "https://x", "scopes": ["a", "a"]}, False),
    ("Org", paths.ADMIN_ORGS, {"code": "org_1", "name": "Tab\there"}, False),
    ("Org", paths.ADMIN_ORGS, {"code": "org_1\n"}, False),
    ("User", paths.ADMIN_USERS, {"email": "a@b.c", "id": ""}, False),
    ("User", paths.ADMIN_USERS, {"email": "a@b.c", "given_name": "x" * 257}, False),
    ("User", paths.ADMIN_USERS, {"email": "a@b.c", "claims": {"k": [None, 1.5, True]}}, True),
    ("App", paths.ADMIN_APPS, {"name": "N", "client_id": NEW_ID}, False),  # m2m: a secret
    ("App", paths.ADMIN_APPS, {"name": "N", "client_id": NEW_ID, "type": "spa"}, True),
    (
        "App",
        paths.ADMIN_APPS,
        {"name": "N", "client_id": NEW_ID, "client_secret": SECRET, "redirect_uris": ["x:/a"]},
        False,  # an m2m app has no callback
    ),
    (
        "App",
        paths.ADMIN_APPS,
        {"name": "N", "client_id": NEW_ID, "type": "spa", "redirect_uris": ["http://[::1]/"]},
        True,
    ),
    (
        "App",
        paths.ADMIN_APPS,
        {"name": "N", "client_id": NEW_ID, "type": "spa", "lifetimes": {"id_token": 60.0}},
        True,  # JSON has one kind of number: 60.0 is the integer 60
    ),
    (
        "App",
        paths.ADMIN_APPS,
        {"name": "N", "client_id": NEW_ID, "type": "spa", "allowed_origins": ["http://x:80"]},
        False,  # not as a browser sends it
    ),
    (
        "App",
        paths.ADMIN_APPS,
        {"name": "N", "client_id": NEW_ID, "type": "spa", "allowed_origins": ["http://[::1]:3"]},
        True,
    ),
    (
        "App",
        paths.ADMIN_APPS,
        {"name": "N", "client_id": NEW_ID, "type": "spa", "include_claims": ["organizations"]},
        True,
    ),
    (
        "App",
        paths.ADMIN_APPS,
        {"name": "N", "client_id": NEW_ID, "type": "spa", "properties": {"p": 1}},
        False,
    ),
    ("Api", paths.ADMIN_APIS, {"audience": "a", "scope_descriptions": {"s": "\n"}}, False),
    ("User", paths.ADMIN_USERS, {"email": "a@b.c", "feature_flags": {"f": [1]}}, False),
    ("User", paths.ADMIN_USERS, {"email": "a@b.c", "org_roles": {"org_1": ["a b"]}}, False),
    ("Org", paths.ADMIN_ORGS, {"code": "org_1", "handle": "x" * 257}, False),
    ("Org", paths.ADMIN_ORGS, {"code": "org_1", "is_allow_registrations": True}, True),
    ("FaultRule", paths.ADMIN_FAULTS, {"effect": "latency", "delay": [2, 1]}, True),
    ("FaultRule", paths.ADMIN_FAULTS, {"effect": "close", "audience": "\u0018y"}, False),
    (
        "FaultRule",
        paths.ADMIN_FAULTS,
        {"effect": "close", "endpoint": "jwks", "client_id": "c"},
        False,
    ),
    (
        "FaultRule",
        paths.ADMIN_FAULTS,
        {"effect": "close", "path": "/oauth2/token", "audience": "a"},
        True,
    ),
    ("FaultRule", paths.ADMIN_FAULTS, {"effect": "close", "path": "/x", "audience": "a"}, False),
    ("FaultRule", paths.ADMIN_FAULTS, {"effect": "error", "error": "x", "status": 501}, False),
    (
        "FaultRule",
        paths.ADMIN_FAULTS,
        {"effect": "jwks_empty", "path": "/.well-known/jwks.json"},
        True,
    ),
    (
        "FaultRule",
        paths.ADMIN_FAULTS,
        {"effect": "throttle", "retry_after": 5.0, "times": 2.0},
        True,
    ),
]


@pytest.mark.parametrize(("name", "path", "body", "valid"), AGREEMENT)
def test_the_document_refuses_exactly_the_bodies_the_server_answers_400(
    name: str, path: str, body: dict[str, Any], valid: bool
) -> None:
    document = openapi_document()
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    # JSON Schema reads "$" as the end of the text; Python's jsonschema (re.search) would let
    # a trailing newline through, so the document is read here as schemathesis reads it.
    assert jsonschema_rs.Draft202012Validator(schema).is_valid(body) is valid
    client = TestClient(create_app(Tenant(issuer="http://testserver")))
    answer = client.post(path, json=body)
    assert (answer.status_code != 400) is valid, answer.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (paths.ADMIN_USERS, b'{"email": "x@example.com", "given_name": "\\ud800"}'),
        ("/api/v1/organization", b'{"name": "Acme \\udfff"}'),
    ],
)
def test_a_body_holding_a_lone_surrogate_is_refused_before_any_rule_reads_it(
    path: str, body: bytes
) -> None:
    tenant, client = make()
    headers = {**bearer(tenant), "Content-Type": "application/json"}
    before = tenant.config
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert tenant.config == before
    fine = body.replace(b"\\ud800", b"x").replace(b"\\udfff", b"x")
    assert client.post(path, content=fine, headers=headers).status_code in (200, 201)
    tenant.close()

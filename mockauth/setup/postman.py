"""`mockauth postman`: a Postman collection (v2.1) and environment that follow Kinde's guide
"Get an M2M access token to test your APIs" against a mockauth server.

The environment holds the guide's values (domain, M2M client id and secret, audience,
scopes). The collection's auth is OAuth 2.0, grant type Client Credentials, with
``audience`` sent in the token request body, as the guide sets it up in the Postman app
("Get New Access Token"). newman cannot press that button (its OAuth 2.0 auth only adds a
token it is given), so the request "Get M2M token" fetches one and stores it in
``{{access_token}}``, which the collection's auth then sends. Every request has Postman tests.

Kinde's Management API: the requests in :data:`MANAGEMENT_REQUESTS` (a method, a path under
``/api/v1``, a body and the tests of its answer) make a folder that fetches a token for
``{{KINDE_DOMAIN}}/api`` with their scopes and runs them with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
GUIDE = "https://docs.kinde.com/developer-tools/your-apis/test-your-api-m2m-token/"
COLLECTION_FILE = "mockauth.postman_collection.json"
ENVIRONMENT_FILE = "mockauth.postman_environment.json"
FORM = {"key": "Content-Type", "value": "application/x-www-form-urlencoded"}
JSON = {"key": "Content-Type", "value": "application/json"}
NOAUTH = {"type": "noauth"}


@dataclass(frozen=True)
class ManagementRequest:
    """One Management API call for the collection: ``path`` under ``/api/v1``, the ``scope``
    its token needs, Postman test lines for its answer (``pm.test(...)``) and an optional
    JSON ``body`` (text, so it may hold ``{{variables}}``)."""

    name: str
    method: str
    path: str
    scope: str
    tests: tuple[str, ...]
    body: str | None = None


_OK = (
    "pm.test('status 200', () => pm.response.to.have.status(200));",
    "const r = pm.response.json();",
    "pm.test('Kinde success body', () => pm.expect(r.code).to.eql('OK'));",
)
# Kinde's Management API, in the order a newcomer tries it: read users, create an
# organisation, read it back, add a user to it, list its members. Each runs under newman in
# tests/e2e/test_postman.py, so add only what the server answers.
MANAGEMENT_REQUESTS: tuple[ManagementRequest, ...] = (
    ManagementRequest(
        "List users",
        "GET",
        "/users",
        "read:users",
        (
            *_OK,
            "pm.test('users with ids and emails', () => {",
            "  pm.expect(r.users).to.be.an('array').that.is.not.empty;",
            "  r.users.forEach(u => pm.expect(u.id).to.match(/^kp_/));",
            "});",
            "pm.environment.set('user_id', r.users[0].id);",
        ),
    ),
    ManagementRequest(
        "Create an organization",
        "POST",
        "/organization",
        "create:organizations",
        (
            *_OK,
            "pm.test('a new org code', () => pm.expect(r.organization.code).to.match(/^org_/));",
            "pm.environment.set('org_code', r.organization.code);",
        ),
        '{"name": "Made in Postman"}',
    ),
    ManagementRequest(
        "Get the organization",
        "GET",
        "/organization?code={{org_code}}",
        "read:organizations",
        (
            "pm.test('status 200', () => pm.response.to.have.status(200));",
            "const o = pm.response.json();",
            "pm.test('the organization created', () => {",
            "  pm.expect(o.code).to.eql(pm.environment.get('org_code'));",
            "  pm.expect(o.name).to.eql('Made in Postman');",
            "});",
        ),
    ),
    ManagementRequest(
        "Add the user to the organization",
        "POST",
        "/organizations/{{org_code}}/users",
        "create:organization_users",
        (
            *_OK,
            "pm.test('the user added', () => "
            "pm.expect(r.users_added).to.eql([pm.environment.get('user_id')]));",
        ),
        '{"users": [{"id": "{{user_id}}"}]}',
    ),
    ManagementRequest(
        "List the organization's users",
        "GET",
        "/organizations/{{org_code}}/users",
        "read:organization_users",
        (
            *_OK,
            "pm.test('the user is a member', () => pm.expect("
            "r.organization_users.map(u => u.id)).to.eql([pm.environment.get('user_id')]));",
        ),
    ),
)


@dataclass(frozen=True)
class M2MSetup:
    """The values of the guide's environment."""

    domain: str  # the issuer: Kinde's "https://<business>.kinde.com"
    client_id: str
    client_secret: str
    audience: str
    scope: str  # space-separated; "" asks for every scope the app is granted


def environment(setup: M2MSetup, name: str = "mockauth (local)") -> dict[str, Any]:
    """The Postman environment: the guide's variables (the secret marked secret)."""
    values = [
        ("KINDE_DOMAIN", setup.domain, "default"),
        ("M2M_CLIENT_ID", setup.client_id, "default"),
        ("M2M_CLIENT_SECRET", setup.client_secret, "secret"),
        ("M2M_AUDIENCE", setup.audience, "default"),
        ("M2M_SCOPE", setup.scope, "default"),
        ("access_token", "", "secret"),
        ("management_token", "", "secret"),  # the Management API folder's own token
        ("user_id", "", "default"),
        ("org_code", "", "default"),
    ]
    return {
        "name": name,
        "values": [{"key": k, "value": v, "type": t, "enabled": True} for k, v, t in values],
        "_postman_variable_scope": "environment",
    }


def collection(management: Sequence[ManagementRequest] = MANAGEMENT_REQUESTS) -> dict[str, Any]:
    """The collection; its values all come from the environment."""
    items = [_discovery(), _jwks(), _token(), _introspect(), _wrong_secret()]
    if management:
        items.append(_management_folder(management))
    return {
        "info": {
            "name": "mockauth: Kinde M2M token (client credentials)",
            "description": (
                f"Kinde's guide 'Get an M2M access token to test your APIs' ({GUIDE}) against "
                "mockauth. In the Postman app, the collection's Authorization tab (OAuth 2.0, "
                "Client Credentials, audience in the request body) has 'Get New Access Token'. "
                "Under newman, the request 'Get M2M token' fetches the token into "
                "{{access_token}}, which the collection's auth sends."
            ),
            "schema": SCHEMA,
        },
        "auth": _oauth2("{{M2M_AUDIENCE}}", "{{M2M_SCOPE}}", "access_token"),
        "item": items,
        "variable": [
            {"key": "token_endpoint", "value": ""},
            {"key": "jwks_uri", "value": ""},
            {"key": "kids", "value": "[]"},
        ],
    }


def _oauth2(audience: str, scope: str, token_variable: str) -> dict[str, Any]:
    fields: list[tuple[str, Any, str]] = [
        ("accessToken", "{{" + token_variable + "}}", "string"),
        ("tokenType", "Bearer", "string"),
        ("addTokenTo", "header", "string"),
        ("headerPrefix", "Bearer", "string"),
        ("tokenName", "mockauth M2M", "string"),
        ("grant_type", "client_credentials", "string"),
        ("accessTokenUrl", "{{KINDE_DOMAIN}}/oauth2/token", "string"),
        ("clientId", "{{M2M_CLIENT_ID}}", "string"),
        ("clientSecret", "{{M2M_CLIENT_SECRET}}", "string"),
        ("scope", scope, "string"),
        ("client_authentication", "body", "string"),
        (
            "tokenRequestParams",
            [{"key": "audience", "value": audience, "enabled": True, "send_as": "request_body"}],
            "any",
        ),
    ]
    return {"type": "oauth2", "oauth2": [{"key": k, "value": v, "type": t} for k, v, t in fields]}


def _tests(*lines: str) -> list[dict[str, Any]]:
    return [{"listen": "test", "script": {"type": "text/javascript", "exec": list(lines)}}]


def _discovery() -> dict[str, Any]:
    return {
        "name": "Discovery",
        "request": {
            "method": "GET",
            "auth": NOAUTH,
            "header": [],
            "url": "{{KINDE_DOMAIN}}/.well-known/openid-configuration",
        },
        "event": _tests(
            "pm.test('status 200', () => pm.response.to.have.status(200));",
            "const d = pm.response.json();",
            "pm.test('issuer is KINDE_DOMAIN', () => "
            "pm.expect(d.issuer).to.eql(pm.environment.get('KINDE_DOMAIN')));",
            "pm.test('token and JWKS endpoints, client credentials', () => {",
            "  pm.expect(d.token_endpoint).to.eql(d.issuer + '/oauth2/token');",
            "  pm.expect(d.jwks_uri).to.be.a('string');",
            "  pm.expect(d.grant_types_supported).to.include('client_credentials');",
            "  pm.expect(d.id_token_signing_alg_values_supported).to.eql(['RS256']);",
            "});",
            "pm.collectionVariables.set('token_endpoint', d.token_endpoint);",
            "pm.collectionVariables.set('jwks_uri', d.jwks_uri);",
        ),
    }


def _jwks() -> dict[str, Any]:
    return {
        "name": "JWKS",
        "request": {"method": "GET", "auth": NOAUTH, "header": [], "url": "{{jwks_uri}}"},
        "event": _tests(
            "pm.test('status 200', () => pm.response.to.have.status(200));",
            "const keys = pm.response.json().keys;",
            "pm.test('RS256 signing keys with a kid, no private members', () => {",
            "  pm.expect(keys).to.be.an('array').that.is.not.empty;",
            "  keys.forEach(k => {",
            "    pm.expect(Object.keys(k).sort()).to.eql(['alg', 'e', 'kid', 'kty', 'n', 'use']);",
            "    pm.expect([k.kty, k.alg, k.use]).to.eql(['RSA', 'RS256', 'sig']);",
            "  });",
            "});",
            "pm.collectionVariables.set('kids', JSON.stringify(keys.map(k => k.kid)));",
        ),
    }


def _token_request(audience: str, scope: str, secret: str = "{{M2M_CLIENT_SECRET}}") -> Any:
    return {
        "method": "POST",
        "auth": NOAUTH,
        "header": [FORM],
        "body": {
            "mode": "urlencoded",
            "urlencoded": [
                {"key": "grant_type", "value": "client_credentials"},
                {"key": "client_id", "value": "{{M2M_CLIENT_ID}}"},
                {"key": "client_secret", "value": secret},
                {"key": "audience", "value": audience},
                {"key": "scope", "value": scope},
            ],
        },
        "url": "{{KINDE_DOMAIN}}/oauth2/token",
    }


_DECODE = (
    "const b64 = s => s.replace(/-/g, '+').replace(/_/g, '/')"
    " + '='.repeat((4 - s.length % 4) % 4);",
    "const [h, p] = t.access_token.split('.').slice(0, 2)"
    ".map(s => JSON.parse(require('atob')(b64(s))));",
)


def _token() -> dict[str, Any]:
    return {
        "name": "Get M2M token",
        "request": _token_request("{{M2M_AUDIENCE}}", "{{M2M_SCOPE}}"),
        "event": _tests(
            "pm.test('status 200', () => pm.response.to.have.status(200));",
            "const t = pm.response.json();",
            "pm.test('Kinde token response', () => {",
            "  pm.expect(Object.keys(t).sort())"
            ".to.eql(['access_token', 'expires_in', 'scope', 'token_type']);",
            "  pm.expect(t.token_type).to.eql('bearer');",
            "  pm.expect(t.expires_in).to.be.a('number').above(0);",
            "});",
            *_DECODE,
            "pm.test('RS256, signed by a key in the JWKS', () => {",
            "  pm.expect(h.alg).to.eql('RS256');",
            "  pm.expect(JSON.parse(pm.collectionVariables.get('kids'))).to.include(h.kid);",
            "});",
            "pm.test('Kinde M2M claims: issuer, audience, client, scopes', () => {",
            "  pm.expect(p.iss).to.eql(pm.environment.get('KINDE_DOMAIN'));",
            "  pm.expect(p.aud).to.include(pm.environment.get('M2M_AUDIENCE'));",
            "  pm.expect(p.azp).to.eql(pm.environment.get('M2M_CLIENT_ID'));",
            "  pm.expect(p.gty).to.eql(['client_credentials']);",
            "  pm.expect(p.scope).to.eql(t.scope);",
            "  pm.expect(p.scp).to.eql(t.scope ? t.scope.split(' ') : []);",
            "  const asked = pm.environment.get('M2M_SCOPE');",
            "  if (asked) pm.expect(p.scp).to.eql(asked.split(' '));",
            "  pm.expect(p.exp * 1000).to.be.above(Date.now());",
            "});",
            "pm.environment.set('access_token', t.access_token);",
        ),
    }


def _introspect() -> dict[str, Any]:
    # No auth of its own: it inherits the collection's OAuth 2.0, so it sends the token.
    return {
        "name": "Introspect the token (the collection's OAuth 2.0 auth)",
        "request": {
            "method": "POST",
            "header": [FORM],
            "body": {
                "mode": "urlencoded",
                "urlencoded": [{"key": "token", "value": "{{access_token}}"}],
            },
            "url": "{{KINDE_DOMAIN}}/oauth2/introspect",
        },
        "event": _tests(
            "pm.test('status 200', () => pm.response.to.have.status(200));",
            "pm.test('sent the token as Bearer (collection auth)', () => pm.expect("
            "pm.request.headers.get('Authorization'))"
            ".to.eql('Bearer ' + pm.environment.get('access_token')));",
            "const r = pm.response.json();",
            "pm.test('active, for this client and audience', () => {",
            "  pm.expect(r.active).to.eql(true);",
            "  pm.expect(r.client_id).to.eql(pm.environment.get('M2M_CLIENT_ID'));",
            "  pm.expect(r.aud).to.include(pm.environment.get('M2M_AUDIENCE'));",
            "});",
        ),
    }


def _wrong_secret() -> dict[str, Any]:
    return {
        "name": "A wrong secret is refused",
        "request": _token_request("{{M2M_AUDIENCE}}", "", secret="not-the-secret"),
        "event": _tests(
            "pm.test('status 401', () => pm.response.to.have.status(401));",
            "pm.test('invalid_client, as Kinde answers', () => {",
            "  const e = pm.response.json();",
            "  pm.expect(Object.keys(e).sort()).to.eql(['error', 'error_description']);",
            "  pm.expect(e.error).to.eql('invalid_client');",
            "});",
        ),
    }


def _management_folder(requests: Sequence[ManagementRequest]) -> dict[str, Any]:
    scopes = " ".join(sorted({r.scope for r in requests}))
    token = {
        "name": "Get a Management API token",
        "request": _token_request("{{KINDE_DOMAIN}}/api", scopes),
        "event": _tests(
            "pm.test('status 200', () => pm.response.to.have.status(200));",
            "pm.environment.set('management_token', pm.response.json().access_token);",
        ),
    }
    calls = [
        {
            "name": r.name,
            "request": {
                "method": r.method,
                "header": [] if r.body is None else [JSON],
                "url": "{{KINDE_DOMAIN}}/api/v1" + r.path,
                **({} if r.body is None else {"body": {"mode": "raw", "raw": r.body}}),
            },
            "event": _tests(*r.tests),
        }
        for r in requests
    ]
    return {
        "name": "Kinde Management API",
        "auth": _oauth2("{{KINDE_DOMAIN}}/api", scopes, "management_token"),
        "item": [token, *calls],
    }

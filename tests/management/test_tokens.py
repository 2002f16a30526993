"""What tokens carry from the tenant's catalog, as the config file or the Management API
set it: roles with their permissions, flags resolved env -> org -> user, opted-in
properties and organizations, M2M flags and application properties; and the Account API
answering the same from a user's token."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient

from mockauth.errors import ConfigError
from mockauth.http.app import create_app
from mockauth.issuance import login_app, login_tokens, m2m_token
from mockauth.tenant.config import parse_config
from mockauth.tenant.tenant import Tenant

ISSUER = "http://testserver"
CONFIG = textwrap.dedent(
    """
    [[apis]]
    audience = "{issuer}/api"

    [[apis]]
    audience = "https://api.example.com"
    scopes = ["read"]

    [[permissions]]
    key = "read:reports"
    name = "Read reports"

    [[permissions]]
    key = "write:reports"

    [[roles]]
    key = "analyst"
    name = "Analyst"
    permissions = ["read:reports"]

    [[feature_flags]]
    key = "theme"
    type = "s"
    default = "light"

    [[feature_flags]]
    key = "seats"
    type = "i"
    default = 5
    allow_override_level = "org"

    [[feature_flags]]
    key = "beta"
    type = "b"
    default = false
    value = true

    [[property_categories]]
    id = "cat_profile"
    name = "Profile"

    [[properties]]
    key = "team"
    category_id = "cat_profile"

    [[properties]]
    key = "plan"
    context = "org"

    [[properties]]
    key = "tier"
    context = "app"

    [[apps]]
    name = "Backend"
    client_id = "db7910a2cb5ef186a47f64aa64eb7783"
    client_secret = "xQ4B4wc6gRUY6ziaDN1ti8EZKmMahPycjfeyPhInaflKHGTel1"
    org_code = "org_acme"
    include_claims = ["feature_flags", "application_properties"]
    properties = {tier = "gold"}
    [apps.apis]
    "{issuer}/api" = "*"
    "https://api.example.com" = ["read"]

    [[apps]]
    name = "Web"
    type = "regular"
    client_id = "4c3f8a5e0b7d4e21a9f6c2d8e1b05f37"
    client_secret = "Rk7vW2mQ9pL4xT8nZ3cJ6hY1sB5dF0gKaE2uN7iO4rVt9XqM3w"
    redirect_uris = ["http://localhost:3000/callback"]
    include_claims = ["user_properties", "organization_properties", "organizations"]

    [[orgs]]
    code = "org_acme"
    name = "Acme"
    feature_flags = {theme = "dark", seats = 9}
    properties = {plan = "pro"}

    [[orgs]]
    code = "org_other"

    [[users]]
    id = "kp_jane"
    email = "jane@example.com"
    orgs = ["org_acme", "org_other"]
    permissions = ["read:calendar"]
    org_roles = {org_acme = ["analyst"]}
    org_permissions = {org_other = ["write:reports"]}
    feature_flags = {theme = "blue", seats = 1}
    properties = {team = "core"}
    """
)


@pytest.fixture
def tenant() -> Iterator[Tenant]:
    tenant = Tenant(parse_config(CONFIG.encode(), source="t.toml"), issuer=ISSUER)
    yield tenant
    tenant.close()


def decoded(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def user_tokens(tenant: Tenant, org: str | None = None) -> dict[str, Any]:
    return login_tokens(tenant, login_app(tenant, None), org_code=org)


def test_a_users_token_carries_roles_permissions_flags_and_opted_in_properties(
    tenant: Tenant,
) -> None:
    body = user_tokens(tenant, "org_acme")
    access = decoded(body["access_token"])
    assert access["roles"] == [
        {"id": tenant.config.catalog.roles[0].id, "key": "analyst", "name": "Analyst"}
    ]
    assert access["permissions"] == ["read:calendar", "read:reports"]
    # theme: user beats org beats env; seats: org only (the flag stops at org); beta: env.
    assert access["feature_flags"] == {
        "theme": {"t": "s", "v": "blue"},
        "seats": {"t": "i", "v": 9},
        "beta": {"t": "b", "v": True},
    }
    assert access["user_properties"] == {"team": {"v": "core"}}
    assert access["organization_properties"] == {"plan": {"v": "pro"}}
    ident = decoded(body["id_token"])
    assert ident["organizations"] == [
        {"id": "org_acme", "name": "Acme"},
        {"id": "org_other", "name": ""},
    ]


def test_roles_and_permissions_in_another_org_are_that_orgs(tenant: Tenant) -> None:
    access = decoded(user_tokens(tenant, "org_other")["access_token"])
    assert "roles" not in access
    assert access["permissions"] == ["read:calendar", "write:reports"]
    assert access["feature_flags"]["seats"] == {"t": "i", "v": 5}
    assert "organization_properties" in access and access["organization_properties"] == {}


def test_an_m2m_app_opted_in_gets_flags_and_application_properties(tenant: Tenant) -> None:
    app = tenant.config.apps[0]
    token = decoded(m2m_token(tenant, app, ["https://api.example.com"], None)["access_token"])
    assert token["application_properties"] == {"tier": {"v": "gold"}}
    assert token["feature_flags"]["theme"] == {"t": "s", "v": "dark"}  # its org's override
    assert token["org_code"] == "org_acme"


def test_an_app_not_opted_in_gets_no_properties(tenant: Tenant) -> None:
    from dataclasses import replace

    web = replace(tenant.config.apps[1], include_claims=())
    tenant.put_app(web)
    body = user_tokens(tenant, "org_acme")
    access = decoded(body["access_token"])
    assert "user_properties" not in access and "organization_properties" not in access
    assert "organizations" not in decoded(body["id_token"])


BAD = [
    ("[[roles]]\nkey = 'r'\npermissions = ['nope']", "roles[0].permissions[0]", "'nope'"),
    (
        "[[feature_flags]]\nkey = 'f'\ntype = 'b'\ndefault = 'yes'",
        "feature_flags[0].default",
        "'yes'",
    ),
    ("[[feature_flags]]\nkey = 'f'\ntype = 'x'\ndefault = 1", "feature_flags[0].type", "'x'"),
    (
        "[[properties]]\nkey = 'p'\ncategory_id = 'cat_none'",
        "properties[0].category_id",
        "'cat_none'",
    ),
    (
        "[[orgs]]\ncode = 'org_a'\nfeature_flags = {nope = 1}",
        "orgs[0].feature_flags.nope",
        "1",
    ),
    (
        "[[orgs]]\ncode = 'org_a'\n[[users]]\nemail = 'a@b.c'\norgs = ['org_a']\n"
        "org_roles = {org_a = ['ghost']}",
        "users[0].org_roles.org_a[0]",
        "'ghost'",
    ),
    (
        "[[orgs]]\ncode = 'org_a'\n[[users]]\nemail = 'a@b.c'\norg_roles = {org_a = []}",
        "users[0].org_roles.org_a",
        "[]",
    ),
    (
        "[[apps]]\nname = 'a'\nclient_id = '"
        + "a" * 32
        + "'\nclient_secret = '"
        + "b" * 40
        + "'\ninclude_claims = ['everything']",
        "app",
        "'everything'",
    ),
]


@pytest.mark.parametrize(("toml", "key", "value"), BAD, ids=[k for _, k, _ in BAD])
def test_bad_catalog_tables_name_the_file_key_and_value(toml: str, key: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(toml.encode(), source="bad.toml")
    message = str(raised.value)
    assert message.startswith("bad.toml: ") and value in message
    assert key.split("[")[0] in raised.value.key


# --- the Account API ---------------------------------------------------------------------


@pytest.fixture
def account(tenant: Tenant) -> tuple[TestClient, dict[str, str]]:
    token = user_tokens(tenant, "org_acme")["access_token"]
    return TestClient(create_app(tenant)), {"Authorization": "Bearer " + token}


def test_the_account_api_answers_from_the_users_token(
    account: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = account
    roles = client.get("/account_api/v1/roles", headers=headers).json()
    assert roles["data"]["org_code"] == "org_acme"
    assert [r["key"] for r in roles["data"]["roles"]] == ["analyst"]
    assert roles["metadata"] == {"has_more": False, "next_page_starting_after": None}
    perms = client.get("/account_api/v1/permissions", headers=headers).json()
    assert [p["key"] for p in perms["data"]["permissions"]] == ["read:calendar", "read:reports"]
    flags = client.get("/account_api/v1/feature_flags", headers=headers).json()
    by_key = {f["key"]: (f["type"], f["value"]) for f in flags["data"]["feature_flags"]}
    assert by_key == {
        "theme": ("string", "blue"),
        "seats": ("integer", 9),
        "beta": ("boolean", True),
    }
    props = client.get("/account_api/v1/properties", headers=headers).json()
    assert [(p["key"], p["value"]) for p in props["data"]["properties"]] == [("team", "core")]
    ents = client.get("/account_api/v1/entitlements", headers=headers).json()
    assert ents["data"] == {"org_code": "org_acme", "plans": [], "entitlements": []}
    granted = client.get("/account_api/v1/permission/read:reports", headers=headers).json()
    assert granted == {"permissionKey": "read:reports", "orgCode": "org_acme", "isGranted": True}
    assert (
        client.get("/account_api/v1/feature_flags/seats", headers=headers).json()["data"]["value"]
        == 9
    )


def test_the_account_api_pages_as_js_utils_follows_it(
    account: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = account
    first = client.get("/account_api/v1/feature_flags?page_size=2", headers=headers).json()
    assert first["metadata"]["has_more"] is True
    after = first["metadata"]["next_page_starting_after"]
    rest = client.get(f"/account_api/v1/feature_flags?starting_after={after}", headers=headers)
    assert len(first["data"]["feature_flags"]) + len(rest.json()["data"]["feature_flags"]) == 3
    assert rest.json()["metadata"]["has_more"] is False


def test_the_account_api_refuses_other_tokens(
    tenant: Tenant, account: tuple[TestClient, dict[str, str]]
) -> None:
    client, _ = account
    m2m = m2m_token(tenant, tenant.config.apps[0], ["https://api.example.com"], None)
    for headers in ({}, {"Authorization": "Bearer " + m2m["access_token"]}):
        response = client.get("/account_api/v1/roles", headers=headers)
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] in ("TOKEN_MISSING", "TOKEN_INVALID")

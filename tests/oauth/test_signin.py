"""The sign-in session at the server (prompt=none, prompt=login, SSO, logout), sign-up with
prompt=create and organisations with is_create_org, and bad input on the new forms."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mockauth import paths
from mockauth.http.app import create_app
from mockauth.oauth.signin import SESSION_COOKIE, end_user_sessions
from mockauth.tenant.config import DEFAULT_CONFIG_TOML, default_config, parse_config
from mockauth.tenant.sqlite import open_store
from mockauth.tenant.tenant import Tenant

ISSUER = "http://127.0.0.1:8400"
CONFIG = default_config()
WEB = CONFIG.apps[1]
JANE = CONFIG.users[0]
VERIFIER = "v" * 43
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")
SECOND_ORG = "org_b2222222222"
EXTRA = f"""
[[orgs]]
code = "{SECOND_ORG}"
name = "Beta"

[[users]]
email = "bob@example.com"
given_name = "Bob"
orgs = ["org_e5f28e1676d", "{SECOND_ORG}"]
"""


def make_tenant(*, login_page: bool = False, **options: Any) -> Tenant:
    toml = ("login_page = true\n" if login_page else "") + DEFAULT_CONFIG_TOML + EXTRA
    return Tenant(parse_config(toml.encode(), source="signin.toml"), issuer=ISSUER, **options)


@pytest.fixture
def tenant() -> Tenant:
    return make_tenant()


@pytest.fixture
def client(tenant: Tenant) -> TestClient:
    return TestClient(create_app(tenant), base_url=ISSUER, follow_redirects=False)


def auth_params(**extra: str) -> dict[str, str]:
    return {
        "client_id": WEB.client_id,
        "redirect_uri": WEB.redirect_uris[0],
        "response_type": "code",
        "scope": "openid email offline",
        "state": "st",
        "code_challenge": CHALLENGE.decode(),
        "code_challenge_method": "S256",
        **extra,
    }


def authorize(client: TestClient, **extra: str) -> dict[str, str]:
    answer = client.get(paths.AUTHORIZE, params=auth_params(**extra))
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    return {k: v[0] for k, v in query.items()}


def tokens(client: TestClient, code: str) -> dict[str, Any]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": WEB.redirect_uris[0],
        "code_verifier": VERIFIER,
        "client_id": WEB.client_id,
        "client_secret": WEB.client_secret or "",
    }
    answer = client.post(paths.TOKEN, data=form)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def signed_in_as(client: TestClient, code: str) -> tuple[str, str | None]:
    access = claims(tokens(client, code)["access_token"])
    return access["sub"], access.get("org_code")


# --- the session -------------------------------------------------------------------------------


def test_signing_in_keeps_an_httponly_session_cookie(client: TestClient) -> None:
    answer = client.get(paths.AUTHORIZE, params=auth_params())
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # an http:// issuer


def test_prompt_none_needs_a_session_and_then_signs_in_its_user(client: TestClient) -> None:
    assert authorize(client, prompt="none")["error"] == "login_required"
    bob = authorize(client, login_hint="bob@example.com")  # a session for Bob starts
    assert signed_in_as(client, bob["code"])[0] != JANE.id
    silent = authorize(client, prompt="none")
    assert silent["state"] == "st" and signed_in_as(client, silent["code"]) == signed_in_as(
        client, authorize(client, login_hint="bob@example.com")["code"]
    )


def test_prompt_none_with_an_org_code_switches_org(client: TestClient) -> None:
    authorize(client, login_hint="bob@example.com")
    switched = authorize(client, prompt="none", org_code=SECOND_ORG)
    assert signed_in_as(client, switched["code"])[1] == SECOND_ORG
    assert authorize(client, prompt="none", org_code="org_nobodys")["error"] == "access_denied"


def test_the_session_signs_in_its_user_without_a_hint(client: TestClient) -> None:
    authorize(client, login_hint="bob@example.com")
    again = authorize(client)  # no login_hint: the session's user, not the first user
    assert signed_in_as(client, again["code"])[0] == make_tenant().config.users[1].id


def test_prompt_login_shows_the_page_even_with_a_session() -> None:
    tenant = make_tenant(login_page=True)
    client = TestClient(create_app(tenant), base_url=ISSUER, follow_redirects=False)
    authorize(client, login_hint="bob@example.com")
    assert authorize(client)["code"]  # the session: no page
    page = client.get(paths.AUTHORIZE, params=auth_params(prompt="login"))
    assert page.status_code == 200 and "Sign in as" in page.text


def test_logout_ends_the_session_even_for_a_copied_cookie(client: TestClient) -> None:
    authorize(client)
    cookie = client.cookies[SESSION_COOKIE]
    answer = client.get(paths.LOGOUT)
    assert answer.status_code == 200 and "Signed out" in answer.text
    assert f"{SESSION_COOKIE}=;" in answer.headers["set-cookie"]
    client.cookies.set(SESSION_COOKIE, cookie)  # kept by someone
    assert authorize(client, prompt="none")["error"] == "login_required"


def test_two_workers_see_one_session(tmp_path: Path) -> None:
    first = make_tenant(keys_dir=tmp_path, workers=2)
    second = Tenant(
        issuer=ISSUER,
        keys_dir=tmp_path,
        store=open_store(tmp_path, instance=first.store.instance),
        seed=False,
    )
    at_first = TestClient(create_app(first), base_url=ISSUER, follow_redirects=False)
    at_second = TestClient(create_app(second), base_url=ISSUER, follow_redirects=False)
    authorize(at_first, login_hint="bob@example.com")
    at_second.cookies.set(SESSION_COOKIE, at_first.cookies[SESSION_COOKIE])
    assert "code" in authorize(at_second, prompt="none")
    at_first.get(paths.LOGOUT)
    assert authorize(at_second, prompt="none")["error"] == "login_required"


def test_a_removed_user_has_no_session(tenant: Tenant, client: TestClient) -> None:
    authorize(client, login_hint="bob@example.com")
    tenant.remove_user(tenant.config.users[1].id)
    assert authorize(client, prompt="none")["error"] == "login_required"


def test_ending_a_users_sessions_ends_each_of_theirs_only(
    tenant: Tenant, client: TestClient
) -> None:
    jane = TestClient(create_app(tenant), base_url=ISSUER, follow_redirects=False)
    authorize(client, login_hint="bob@example.com")
    authorize(jane)
    copy = client.cookies[SESSION_COOKIE]
    end_user_sessions(tenant, tenant.config.users[1].id)
    assert authorize(client, prompt="none")["error"] == "login_required"
    assert "code" in authorize(jane, prompt="none")
    tenant.clock.advance(1)  # a sign-in after the end starts a session that lives
    authorize(client, login_hint="bob@example.com")
    assert "code" in authorize(client, prompt="none")
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, copy)  # the session that was ended stays ended
    assert authorize(client, prompt="none")["error"] == "login_required"


def test_a_garbage_session_cookie_is_no_session(client: TestClient) -> None:
    client.cookies.set(SESSION_COOKIE, "garbage.cookie")
    assert authorize(client, prompt="none")["error"] == "login_required"
    assert "code" in authorize(client)


@pytest.mark.parametrize("prompt", ["none login", "none create"])
def test_prompt_none_with_another_prompt_is_invalid(client: TestClient, prompt: str) -> None:
    assert authorize(client, prompt=prompt)["error"] == "invalid_request"


# --- sign-up -----------------------------------------------------------------------------------


def test_prompt_create_shows_a_sign_up_form_that_continues_the_request(
    tenant: Tenant, client: TestClient
) -> None:
    page = client.get(paths.AUTHORIZE, params=auth_params(prompt="create"))
    assert page.status_code == 200 and f'action="{paths.SIGNUP}"' in page.text
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    assert hidden["client_id"] == WEB.client_id and hidden["state"] == "st"
    answer = client.post(paths.SIGNUP, data={**hidden, "email": "nova@example.com"})
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    user = next(u for u in tenant.config.users if u.email == "nova@example.com")
    assert query["state"] == ["st"] and signed_in_as(client, query["code"][0]) == (user.id, None)
    assert authorize(client, prompt="none")["code"]  # and a session started


def test_sign_up_can_create_an_organization(tenant: Tenant, client: TestClient) -> None:
    params = auth_params(prompt="create", is_create_org="true", org_name="Acme")
    page = client.get(paths.AUTHORIZE, params=params)
    assert 'name="org_name"' in page.text and 'value="Acme"' in page.text
    form = {**params, "email": "founder@example.com", "given_name": "F", "org_name": "Acme Co"}
    answer = client.post(paths.SIGNUP, data=form)
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    sub, org_code = signed_in_as(client, code)
    assert org_code is not None and re.fullmatch(r"org_[0-9a-f]{11}", org_code)
    org = tenant.org(org_code)
    assert org is not None and org.name == "Acme Co"
    assert tenant.user(sub).orgs == (org_code,)  # type: ignore[union-attr]


def test_an_unknown_email_in_login_hint_signs_up_at_once_without_the_login_page(
    tenant: Tenant, client: TestClient
) -> None:
    got = authorize(client, login_hint="walkin@example.com")
    assert any(u.email == "walkin@example.com" for u in tenant.config.users)
    assert "code" in got
    made = authorize(client, prompt="create", is_create_org="true", login_hint="boss@example.com")
    assert signed_in_as(client, made["code"])[1] is not None
    assert authorize(client, login_hint="kp_unknown")["error"] == "access_denied"


def test_with_the_login_page_an_unknown_email_gets_the_form() -> None:
    tenant = make_tenant(login_page=True)
    client = TestClient(create_app(tenant), base_url=ISSUER)
    page = client.get(paths.AUTHORIZE, params=auth_params(login_hint="walkin@example.com"))
    assert page.status_code == 200 and 'value="walkin@example.com"' in page.text
    assert all(u.email != "walkin@example.com" for u in tenant.config.users)


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({}, "email"),
        ({"email": "not-an-email"}, "must be an email address"),
        ({"email": "JANE@example.com"}, "already has an account"),
        ({"email": "x@example.com", "given_name": "n" * 300}, "at most 256"),
    ],
)
def test_a_sign_up_that_will_not_do_shows_the_form_again_and_changes_nothing(
    tenant: Tenant, client: TestClient, fields: dict[str, str], why: str
) -> None:
    before = (tenant.config.users, tenant.config.orgs)
    form = {**auth_params(prompt="create", is_create_org="true"), "org_name": "X", **fields}
    answer = client.post(paths.SIGNUP, data=form)
    assert answer.status_code == 400 and "text/html" in answer.headers["content-type"]
    assert why in answer.text and 'action="/signup"' in answer.text
    assert (tenant.config.users, tenant.config.orgs) == before  # not even the org


def test_an_untrusted_sign_up_is_never_redirected(client: TestClient) -> None:
    form = {**auth_params(), "redirect_uri": "https://evil.example/cb", "email": "a@b.c"}
    api = client.post(paths.SIGNUP, data=form)
    assert api.status_code == 400 and api.json()["error"] == "invalid_request"
    page = client.post(paths.SIGNUP, data=form, headers={"Accept": "text/html"})
    assert page.status_code == 400 and "text/html" in page.headers["content-type"]
    assert "Go back" in page.text and "location" not in page.headers


def test_a_sign_up_with_a_bad_request_goes_back_with_its_error(client: TestClient) -> None:
    form = {**auth_params(response_type="token"), "email": "a@example.com"}
    answer = client.post(paths.SIGNUP, data=form)
    assert answer.status_code == 302
    assert "error=unsupported_response_type" in answer.headers["location"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "email",
                    "given_name",
                    "org_name",
                    "client_id",
                    "redirect_uri",
                    "state",
                    "prompt",
                    "is_create_org",
                    "response_type",
                    "code_challenge",
                    "x",
                ]
            ),
            st.text(max_size=30),
        ),
        max_size=8,
    )
)
def test_any_sign_up_form_is_answered_without_a_500(pairs: list[tuple[str, str]]) -> None:
    client = TestClient(create_app(make_tenant()), base_url=ISSUER, follow_redirects=False)
    for base in ([], list(auth_params().items())):
        body = urlencode(base + pairs)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        answer = client.post(paths.SIGNUP, content=body, headers=headers)
        assert answer.status_code in (200, 302, 400, 401), answer.text

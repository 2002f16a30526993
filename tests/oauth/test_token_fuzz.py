"""Property tests: whatever a client sends, the token endpoint answers with a well-formed
OAuth response (200, or a 4xx with exactly error + error_description), never a 500.

The client raises server exceptions, so any crash in the app fails the example outright.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import urlencode

import httpx2
import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mockauth.http.app import create_app
from mockauth.tenant.tenant import Tenant
from tests.token_tenant import (
    APP_ID,
    APP_SECRET,
    BILL,
    CAL,
    EMPTY,
    FORM,
    ISSUER,
    MGMT,
    NOW,
    OAUTH_ERRORS,
    SPA_ID,
    TOKEN,
    make_tenant,
)

NOPE = "https://nope.example.com"
UNKNOWN_ID = "99999999999999999999999999999999"
GRANTED = {
    CAL: ["read:calendar", "update:event"],
    BILL: ["read:invoices"],
    EMPTY: [],
    MGMT: ["read:users"],
}
ALL_SCOPES = ["read:calendar", "update:event", "delete:event", "read:invoices", "read:users"]
DESCRIPTION_RE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 5.2


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    return make_tenant("fuzz.toml")


@pytest.fixture(scope="module")
def client(tenant: Tenant) -> TestClient:
    return TestClient(create_app(tenant), raise_server_exceptions=True)


# Examples share the module's tenant and client (one key, one app); signing makes some slow.
# Only the health check is set here: example counts come from the profile in conftest.py.
fuzz = settings(suppress_health_check=[HealthCheck.too_slow])


def basic_scheme_used(headers: dict[str, Any]) -> bool:
    value = headers.get("Authorization")
    if value is None:
        return False
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    return text.partition(" ")[0].lower() == "basic"


def assert_well_formed(
    response: httpx2.Response, tenant: Tenant, headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    status = response.status_code
    assert status == 200 or 400 <= status < 500, (status, response.text)
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    if status == 200:
        assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
        assert body["token_type"] == "bearer"
        kid = jwt.get_unverified_header(body["access_token"])["kid"]
        public = tenant.keys.public_key(kid)
        assert public is not None
        claims = jwt.decode(
            body["access_token"],
            key=public,
            algorithms=["RS256"],
            issuer=ISSUER,
            options={"verify_aud": False, "verify_exp": False, "verify_iat": False},
        )
        assert claims["scope"] == body["scope"]
        assert claims["azp"] == APP_ID
        assert "sub" not in claims
        return body
    assert set(body) == {"error", "error_description"}
    assert body["error"] in OAUTH_ERRORS
    assert isinstance(body["error_description"], str)
    assert DESCRIPTION_RE.fullmatch(body["error_description"]), body["error_description"]
    if status == 401:
        assert body["error"] == "invalid_client"
        if headers is not None:
            assert ("www-authenticate" in response.headers) == basic_scheme_used(headers)
    return body


# --- strategies ---

KNOWN_KEYS = ["grant_type", "client_id", "client_secret", "audience", "scope", "resource", ""]
KNOWN_VALUES = [
    "client_credentials",
    "authorization_code",
    "refresh_token",
    "password",
    APP_ID,
    APP_SECRET,
    SPA_ID,
    UNKNOWN_ID,
    CAL,
    BILL,
    EMPTY,
    MGMT,
    NOPE,
    f"{CAL} {BILL}",
    *ALL_SCOPES,
    "read:calendar update:event",
    "",
]
keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=20)
values = st.sampled_from(KNOWN_VALUES) | st.text(max_size=60)
fields = st.lists(st.tuples(keys, values), max_size=10)
content_types = (
    st.sampled_from(
        [
            FORM,
            f"{FORM}; charset=utf-8",
            "APPLICATION/X-WWW-FORM-URLENCODED",
            "application/json",
            "text/plain",
            "multipart/form-data; boundary=x",
            "",
            ";",
        ]
    )
    | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
    | st.none()
)
header_text = st.binary(max_size=60).map(
    lambda b: bytes(c for c in b if 0x20 <= c <= 0x7E or c >= 0x80)
)


def encode_basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


basic_headers = st.one_of(
    st.none(),
    st.just(encode_basic(APP_ID, APP_SECRET)),
    st.builds(encode_basic, st.sampled_from([APP_ID, SPA_ID, UNKNOWN_ID, ""]), values),
    st.builds(encode_basic, st.text(max_size=40), st.text(max_size=40)),
    st.binary(max_size=60).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    header_text.map(lambda b: b"Basic " + b),
    header_text.map(lambda b: b"basic" + b),
    header_text,
)


def headers_for(content_type: str | None, authorization: str | bytes | None) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if authorization is not None:
        headers["Authorization"] = authorization
    return headers


# --- properties ---


@fuzz
@given(form=fields, authorization=basic_headers)
def test_arbitrary_forms(
    client: TestClient, tenant: Tenant, form: list[tuple[str, str]], authorization: Any
) -> None:
    headers = headers_for(FORM, authorization)
    response = client.post(TOKEN, content=urlencode(form).encode(), headers=headers)
    assert_well_formed(response, tenant, headers)


@fuzz
@given(form=fields, content_type=content_types, authorization=basic_headers)
def test_arbitrary_forms_with_arbitrary_content_types(
    client: TestClient,
    tenant: Tenant,
    form: list[tuple[str, str]],
    content_type: str | None,
    authorization: Any,
) -> None:
    headers = headers_for(content_type, authorization)
    response = client.post(TOKEN, content=urlencode(form).encode(), headers=headers)
    body = assert_well_formed(response, tenant, headers)
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != FORM and form:
        assert body["error"] == "invalid_request"


@fuzz
@given(body=st.binary(max_size=400), content_type=content_types, authorization=basic_headers)
def test_arbitrary_bytes_bodies(
    client: TestClient, tenant: Tenant, body: bytes, content_type: str | None, authorization: Any
) -> None:
    headers = headers_for(content_type, authorization)
    response = client.post(TOKEN, content=body, headers=headers)
    assert_well_formed(response, tenant, headers)


form_bytes = st.lists(
    st.sampled_from(
        [
            b"grant_type=client_credentials",
            b"client_id=" + APP_ID.encode(),
            b"client_secret=" + APP_SECRET.encode(),
            b"audience=" + CAL.encode(),
            b"scope=read%3Acalendar",
            b"&",
            b"=",
            b"%",
            b"%FF",
            b"%C3%A9",
            b"\xff",
            b"+",
            b";",
        ]
    )
    | st.binary(max_size=8),
    max_size=12,
).map(lambda parts: b"&".join(parts))


@fuzz
@given(body=form_bytes, authorization=basic_headers)
def test_mangled_form_bytes(
    client: TestClient, tenant: Tenant, body: bytes, authorization: Any
) -> None:
    headers = headers_for(FORM, authorization)
    response = client.post(TOKEN, content=body, headers=headers)
    assert_well_formed(response, tenant, headers)


@fuzz
@given(
    grant_type=st.sampled_from(
        ["client_credentials"] * 4 + ["authorization_code", "refresh_token", "password", ""]
    )
    | st.text(max_size=30),
    audiences=st.lists(st.sampled_from([CAL, BILL, EMPTY, MGMT, NOPE]) | st.text(max_size=30)),
    scope=st.none() | st.lists(st.sampled_from(ALL_SCOPES) | st.text(max_size=20)).map(" ".join),
    authorization=basic_headers,
    body_credentials=st.booleans(),
)
def test_random_grant_types_audiences_and_scopes(
    client: TestClient,
    tenant: Tenant,
    grant_type: str,
    audiences: list[str],
    scope: str | None,
    authorization: Any,
    body_credentials: bool,
) -> None:
    form = [("grant_type", grant_type), *(("audience", a) for a in audiences)]
    if scope is not None:
        form.append(("scope", scope))
    if body_credentials:
        form += [("client_id", APP_ID), ("client_secret", APP_SECRET)]
    headers = headers_for(FORM, authorization)
    response = client.post(TOKEN, content=urlencode(form).encode(), headers=headers)
    assert_well_formed(response, tenant, headers)


@fuzz
@given(
    authorization=basic_headers,
    body_id=st.none() | st.sampled_from([APP_ID, SPA_ID, UNKNOWN_ID, ""]) | st.text(max_size=40),
    body_secret=st.none() | st.sampled_from([APP_SECRET, ""]) | st.text(max_size=60),
)
def test_random_credentials_on_an_otherwise_valid_request(
    client: TestClient,
    tenant: Tenant,
    authorization: Any,
    body_id: str | None,
    body_secret: str | None,
) -> None:
    # Every example reaches client authentication: grant type and audience are valid.
    form = [("grant_type", "client_credentials"), ("audience", CAL)]
    if body_id is not None:
        form.append(("client_id", body_id))
    if body_secret is not None:
        form.append(("client_secret", body_secret))
    headers = headers_for(FORM, authorization)
    response = client.post(TOKEN, content=urlencode(form).encode(), headers=headers)
    assert_well_formed(response, tenant, headers)


# --- a model of client_credentials: the exact answer for structured requests ---

CLIENTS = {
    "valid": (APP_ID, APP_SECRET),
    "wrong-secret": (APP_ID, "W" * 48),
    "unknown": (UNKNOWN_ID, APP_SECRET),
    "public": (SPA_ID, ""),
}


def expected_outcome(
    grant_type: str, auth: str, who: str, audiences: list[str], scope: str | None
) -> tuple[str, list[str], list[str]]:
    """(error or "ok", aud, scp) the way the grant checks them, in order."""
    if grant_type != "client_credentials":
        return "unsupported_grant_type", [], []
    if auth == "none":
        return "invalid_request", [], []
    if who != "valid":
        return "invalid_client", [], []
    aud = list(dict.fromkeys(a for value in audiences for a in value.split()))
    if not aud:
        return "invalid_request", [], []
    if any(a not in GRANTED for a in aud):
        return "unauthorized_client", [], []
    granted = list(dict.fromkeys(s for a in aud for s in GRANTED[a]))
    if scope is None or not scope.split():  # an empty scope is no scope
        return "ok", aud, granted
    wanted = list(dict.fromkeys(scope.split()))
    if any(s not in granted for s in wanted):
        return "invalid_scope", [], []
    return "ok", aud, wanted


@fuzz
@given(
    grant_type=st.sampled_from(["client_credentials", "client_credentials", "password"]),
    auth=st.sampled_from(["body", "basic", "both", "none"]),
    who=st.sampled_from(sorted(CLIENTS)),
    audiences=st.lists(st.sampled_from([CAL, BILL, EMPTY, MGMT, NOPE]), max_size=4),
    joined=st.booleans(),
    scope=st.none() | st.lists(st.sampled_from([*ALL_SCOPES, "bogus"]), max_size=4).map(" ".join),
)
def test_client_credentials_model(
    client: TestClient,
    tenant: Tenant,
    grant_type: str,
    auth: str,
    who: str,
    audiences: list[str],
    joined: bool,
    scope: str | None,
) -> None:
    client_id, secret = CLIENTS[who]
    form = [("grant_type", grant_type)]
    sent = [" ".join(audiences)] if joined and audiences else audiences
    form += [("audience", a) for a in sent]
    if scope is not None:
        form.append(("scope", scope))
    headers: dict[str, Any] = {"Content-Type": FORM}
    if auth in ("body", "both"):
        form += [("client_id", client_id), ("client_secret", secret)]
    if auth in ("basic", "both"):
        headers["Authorization"] = encode_basic(client_id, secret)
    response = client.post(TOKEN, content=urlencode(form).encode(), headers=headers)
    body = assert_well_formed(response, tenant, headers)
    outcome, aud, scp = expected_outcome(grant_type, auth, who, audiences, scope)
    if outcome != "ok":
        assert body["error"] == outcome, (body, outcome)
        return
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == aud
    assert claims["scp"] == scp
    assert claims["scope"] == " ".join(scp)
    assert claims["iat"] == NOW
    assert list(claims) == ["aud", "azp", "exp", "gty", "iat", "iss", "jti", "scope", "scp", "v"]

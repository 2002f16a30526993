"""POST /oauth2/token, client_credentials: client auth, audiences, scopes, errors, bad input."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx2
import jwt
import pytest
from starlette.testclient import TestClient
from starlette.types import Message

from mockauth.http.app import create_app
from mockauth.oauth.params import MAX_BODY
from mockauth.tenant.tenant import Tenant
from tests.token_tenant import (
    APP_ID,
    APP_SECRET,
    BILL,
    CAL,
    EMPTY,
    FORM,
    ISSUER,
    KINDE_INVALID_CLIENT,
    MGMT,
    NOW,
    OAUTH_ERRORS,
    ORG_ID,
    ORG_SECRET,
    SPA_ID,
    TOKEN,
    WEB_ID,
    WEB_SECRET,
    make_tenant,
)


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    return make_tenant("test.toml")


@pytest.fixture(scope="module")
def client(tenant: Tenant) -> TestClient:
    return TestClient(create_app(tenant), raise_server_exceptions=True)


def creds(client_id: str = APP_ID, secret: str = APP_SECRET) -> dict[str, str]:
    return {"client_id": client_id, "client_secret": secret}


def m2m(**extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", **creds(), "audience": CAL, **extra}


def basic(user: str, password: str) -> dict[str, str]:
    raw = f"{user}:{password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def post(
    client: TestClient,
    fields: dict[str, str] | list[tuple[str, str]] | None = None,
    **kwargs: Any,
) -> httpx2.Response:
    if fields is not None:
        kwargs["content"] = urlencode(fields).encode()
        kwargs.setdefault("headers", {})
        kwargs["headers"] = {"Content-Type": FORM, **kwargs["headers"]}
    return client.post(TOKEN, **kwargs)


def assert_error(
    response: httpx2.Response, error: str, status: int = 400, description: str | None = None
) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, str] = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert body["error_description"]
    if description is not None:
        assert body["error_description"] == description
    return body


def assert_token(response: httpx2.Response, tenant: Tenant, audience: str = CAL) -> dict[str, Any]:
    """The success body is exactly Kinde's; return the verified claims."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    assert body["token_type"] == "bearer"
    assert isinstance(body["expires_in"], int)
    header = jwt.get_unverified_header(body["access_token"])
    assert header == {"alg": "RS256", "kid": tenant.keys.active_kid, "typ": "JWT"}
    public = tenant.keys.public_key(header["kid"])
    assert public is not None
    claims: dict[str, Any] = jwt.decode(
        body["access_token"],
        key=public,
        algorithms=["RS256"],
        audience=audience,
        issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert body["scope"] == claims["scope"]
    assert body["expires_in"] == claims["exp"] - claims["iat"] - 1
    return claims


# --- success ---


def test_body_credentials_get_a_kinde_m2m_token(client: TestClient, tenant: Tenant) -> None:
    response = post(client, m2m())
    claims = assert_token(response, tenant)
    assert response.json()["expires_in"] == 86_399
    assert response.json()["scope"] == "read:calendar update:event"
    assert list(claims) == ["aud", "azp", "exp", "gty", "iat", "iss", "jti", "scope", "scp", "v"]
    assert claims["aud"] == [CAL]
    assert claims["azp"] == APP_ID
    assert claims["iat"] == NOW
    assert claims["exp"] == NOW + 86_400
    assert claims["gty"] == ["client_credentials"]
    assert claims["iss"] == ISSUER
    assert uuid.UUID(claims["jti"]).version == 4
    assert claims["scope"] == "read:calendar update:event"
    assert claims["scp"] == ["read:calendar", "update:event"]
    assert claims["v"] == "2"
    assert "sub" not in claims


def test_every_token_has_a_new_jti(client: TestClient, tenant: Tenant) -> None:
    jtis = {assert_token(post(client, m2m()), tenant)["jti"] for _ in range(5)}
    assert len(jtis) == 5


def test_org_code_extra_claims_and_app_lifetime(client: TestClient, tenant: Tenant) -> None:
    response = post(client, m2m(**creds(ORG_ID, ORG_SECRET)))
    claims = assert_token(response, tenant)
    assert response.json()["expires_in"] == 599
    assert claims["exp"] == NOW + 600
    assert claims["org_code"] == "org_0123456789a"
    assert claims["tenant"] == "acme"
    assert claims["feature_flags"] == {"beta": {"t": "b", "v": True}}
    assert claims["azp"] == ORG_ID
    assert "sub" not in claims


def test_http_basic_credentials(client: TestClient, tenant: Tenant) -> None:
    fields = {"grant_type": "client_credentials", "audience": CAL}
    claims = assert_token(post(client, fields, headers=basic(APP_ID, APP_SECRET)), tenant)
    assert claims["azp"] == APP_ID


def test_http_basic_credentials_are_form_urldecoded(client: TestClient, tenant: Tenant) -> None:
    # RFC 6749 2.3.1: id and secret are form-urlencoded before the Basic encoding.
    user = "".join(f"%{b:02X}" for b in APP_ID.encode())
    password = "".join(f"%{b:02X}" for b in APP_SECRET.encode())
    fields = {"grant_type": "client_credentials", "audience": CAL}
    assert_token(post(client, fields, headers=basic(user, password)), tenant)


def test_http_basic_scheme_is_case_insensitive(client: TestClient, tenant: Tenant) -> None:
    header = basic(APP_ID, APP_SECRET)["Authorization"].replace("Basic", "bAsIc")
    fields = {"grant_type": "client_credentials", "audience": CAL}
    assert_token(post(client, fields, headers={"Authorization": header}), tenant)


def test_basic_and_body_with_the_same_id_is_fine(client: TestClient, tenant: Tenant) -> None:
    fields = {"grant_type": "client_credentials", "audience": CAL, "client_id": APP_ID}
    assert_token(post(client, fields, headers=basic(APP_ID, APP_SECRET)), tenant)


def test_other_authorization_schemes_are_ignored(client: TestClient, tenant: Tenant) -> None:
    assert_token(post(client, m2m(), headers={"Authorization": "Bearer abc"}), tenant)


def test_sdk_headers_are_ignored(client: TestClient, tenant: Tenant) -> None:
    headers = {"Kinde-SDK": "Python/2.4.0", "X-Huge": "x" * 60_000}
    assert_token(post(client, m2m(), headers=headers), tenant)


@pytest.mark.parametrize(
    "content_type",
    [FORM, f"{FORM}; charset=utf-8", f"{FORM};charset=UTF-8", "Application/X-WWW-Form-Urlencoded"],
)
def test_form_content_type_variants(client: TestClient, tenant: Tenant, content_type: str) -> None:
    response = client.post(
        TOKEN, content=urlencode(m2m()).encode(), headers={"Content-Type": content_type}
    )
    assert_token(response, tenant)


# --- audiences and scopes ---


def test_scope_absent_gives_every_scope_granted_on_the_requested_apis(
    client: TestClient, tenant: Tenant
) -> None:
    claims = assert_token(post(client, m2m(audience=f"{CAL} {BILL}")), tenant)
    assert claims["scp"] == ["read:calendar", "update:event", "read:invoices"]
    assert claims["scope"] == "read:calendar update:event read:invoices"


@pytest.mark.parametrize("scope", ["", "   ", "\t"])
def test_an_empty_scope_is_read_as_no_scope(client: TestClient, tenant: Tenant, scope: str) -> None:
    # @kinde/management-api-js always sends scope=; Kinde (Ory Fosite) drops empty scopes.
    claims = assert_token(post(client, m2m(audience=f"{CAL} {BILL}", scope=scope)), tenant)
    assert claims["scp"] == ["read:calendar", "update:event", "read:invoices"]


def test_scope_subset_is_granted_as_requested(client: TestClient, tenant: Tenant) -> None:
    claims = assert_token(post(client, m2m(scope="update:event")), tenant)
    assert claims["scp"] == ["update:event"]
    assert claims["scope"] == "update:event"


def test_scope_across_two_apis(client: TestClient, tenant: Tenant) -> None:
    fields = m2m(audience=f"{CAL} {BILL}", scope="read:invoices read:calendar")
    claims = assert_token(post(client, fields), tenant)
    assert claims["scp"] == ["read:invoices", "read:calendar"]


def test_repeated_scope_tokens_are_collapsed(client: TestClient, tenant: Tenant) -> None:
    claims = assert_token(post(client, m2m(scope="read:calendar  read:calendar")), tenant)
    assert claims["scp"] == ["read:calendar"]


def test_api_granted_without_scopes_gives_empty_scope(client: TestClient, tenant: Tenant) -> None:
    response = post(client, m2m(audience=EMPTY))
    claims = assert_token(response, tenant, audience=EMPTY)
    assert response.json()["scope"] == ""
    assert claims["scope"] == ""
    assert claims["scp"] == []


def test_management_api_audience_is_built_from_the_issuer(
    client: TestClient, tenant: Tenant
) -> None:
    claims = assert_token(post(client, m2m(audience=MGMT)), tenant, audience=MGMT)
    assert claims["aud"] == [MGMT]
    assert claims["scp"] == ["read:users"]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param([("audience", CAL), ("audience", BILL), ("audience", MGMT)], id="repeated"),
        pytest.param([("audience", f"{CAL} {BILL} {MGMT}")], id="space-separated"),
        pytest.param([("audience", f"{CAL} {BILL}"), ("audience", MGMT)], id="mixed"),
        pytest.param(
            [("audience", f"  {CAL}\t{BILL} "), ("audience", CAL), ("audience", MGMT)],
            id="whitespace-and-repeats",
        ),
    ],
)
def test_several_audiences_all_go_into_aud(
    client: TestClient, tenant: Tenant, fields: list[tuple[str, str]]
) -> None:
    base = [("grant_type", "client_credentials"), *creds().items()]
    claims = assert_token(post(client, base + fields), tenant)
    assert claims["aud"] == [CAL, BILL, MGMT]
    assert claims["scp"] == ["read:calendar", "update:event", "read:invoices", "read:users"]


@pytest.mark.parametrize(
    "audience",
    [
        pytest.param("https://delete.example.com", id="undefined"),
        pytest.param(EMPTY.replace("empty", "other"), id="other-undefined"),
        pytest.param(f"{CAL} https://nope.example.com", id="one-of-two"),
        pytest.param(CAL + "/", id="trailing-slash"),
    ],
)
def test_audience_not_granted_is_unauthorized_client(client: TestClient, audience: str) -> None:
    assert_error(post(client, m2m(audience=audience)), "unauthorized_client")


def test_audience_defined_but_not_granted_to_this_app(client: TestClient) -> None:
    fields = m2m(audience=BILL, **creds(ORG_ID, ORG_SECRET))
    assert_error(post(client, fields), "unauthorized_client")


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param("delete:event", id="defined-not-granted"),
        pytest.param("read:calendar admin", id="unknown"),
        pytest.param("read:invoices", id="granted-on-an-api-not-requested"),
        pytest.param("READ:CALENDAR", id="case-differs"),
    ],
)
def test_scope_not_granted_is_invalid_scope(client: TestClient, scope: str) -> None:
    assert_error(post(client, m2m(scope=scope)), "invalid_scope")


@pytest.mark.parametrize(
    "audience",
    ['https://x.example.com/"quoted"', "https://\u00e9.example.com", "https://x\\y", "a\x00b"],
)
def test_error_description_keeps_to_rfc6749_characters(client: TestClient, audience: str) -> None:
    # RFC 6749 5.2: no '"', no '\\', nothing outside printable ASCII, even when echoing input.
    body = assert_error(post(client, m2m(audience=audience)), "unauthorized_client")
    assert re.fullmatch(r"[\x20\x21\x23-\x5b\x5d-\x7e]+", body["error_description"])


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"audience": "https://x.example.com/" + "a" * 5000}, "unauthorized_client"),
        ({"scope": "read:" + "a" * 5000}, "invalid_scope"),
    ],
)
def test_a_long_value_is_quoted_cut_short(
    client: TestClient, fields: dict[str, str], error: str
) -> None:
    body = assert_error(post(client, m2m(**fields)), error)
    assert len(body["error_description"]) < 400
    assert "a" * 100 + "..." in body["error_description"]


def test_too_many_parameters_are_named_as_such(client: TestClient) -> None:
    response = post(client, [*m2m().items(), *[("audience", CAL)] * 100])
    assert_error(response, "invalid_request", 400, "The request body has more than 100 parameters.")
    assert post(client, [*m2m().items(), *[("audience", CAL)] * 95]).status_code == 200


# --- client authentication ---


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [
        pytest.param("f" * 32, APP_SECRET, id="unknown-client"),
        pytest.param(APP_ID, APP_SECRET[:-1] + "X", id="wrong-secret"),
        pytest.param(APP_ID, APP_SECRET + "X", id="secret-with-suffix"),
        pytest.param(APP_ID, "", id="empty-secret"),
        pytest.param(APP_ID, ORG_SECRET, id="another-apps-secret"),
        pytest.param(APP_ID.upper(), APP_SECRET, id="id-case-differs"),
    ],
)
def test_bad_body_credentials_are_invalid_client(
    client: TestClient, client_id: str, secret: str
) -> None:
    response = post(client, m2m(**creds(client_id, secret)))
    assert_error(response, "invalid_client", 401, KINDE_INVALID_CLIENT)
    assert "www-authenticate" not in response.headers


def test_missing_secret_is_invalid_client(client: TestClient) -> None:
    fields = {"grant_type": "client_credentials", "client_id": APP_ID, "audience": CAL}
    response = post(client, fields)
    assert_error(response, "invalid_client", 401, KINDE_INVALID_CLIENT)
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [
        pytest.param("f" * 32, APP_SECRET, id="unknown-client"),
        pytest.param(APP_ID, "wrong", id="wrong-secret"),
        pytest.param(APP_ID, "", id="empty-secret"),
        pytest.param("", APP_SECRET, id="empty-id"),
    ],
)
def test_bad_basic_credentials_are_invalid_client_with_a_challenge(
    client: TestClient, client_id: str, secret: str
) -> None:
    fields = {"grant_type": "client_credentials", "audience": CAL}
    response = post(client, fields, headers=basic(client_id, secret))
    assert_error(response, "invalid_client", 401, KINDE_INVALID_CLIENT)
    assert response.headers["www-authenticate"].lower().startswith("basic")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Basic !!!not-base64!!!", id="not-base64"),
        pytest.param("Basic " + base64.b64encode(b"no-colon").decode(), id="no-colon"),
        pytest.param("Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(), id="not-utf8"),
        pytest.param("Basic", id="empty"),
        pytest.param(b"Basic \xe9\xe9\xe9\xe9", id="non-ascii"),
    ],
)
def test_malformed_basic_header_is_invalid_client(client: TestClient, value: str | bytes) -> None:
    fields = {"grant_type": "client_credentials", "audience": CAL}
    response = post(client, fields, headers={"Authorization": value})
    assert_error(response, "invalid_client", 401, KINDE_INVALID_CLIENT)
    assert "www-authenticate" in response.headers


def test_basic_and_body_with_different_ids_is_invalid_request(client: TestClient) -> None:
    fields = {"grant_type": "client_credentials", "audience": CAL, "client_id": ORG_ID}
    assert_error(post(client, fields, headers=basic(APP_ID, APP_SECRET)), "invalid_request")


def test_basic_and_body_with_different_secrets_is_invalid_request(client: TestClient) -> None:
    fields = m2m(client_secret="Other" * 9)
    assert_error(post(client, fields, headers=basic(APP_ID, APP_SECRET)), "invalid_request")


def test_public_spa_client_cannot_use_client_credentials(client: TestClient) -> None:
    fields = {"grant_type": "client_credentials", "client_id": SPA_ID, "audience": CAL}
    assert_error(post(client, fields), "invalid_client", 401, KINDE_INVALID_CLIENT)


def test_regular_web_app_is_unauthorized_for_client_credentials(client: TestClient) -> None:
    assert_error(post(client, m2m(**creds(WEB_ID, WEB_SECRET))), "unauthorized_client")


# --- missing, unknown and duplicated parameters ---


@pytest.mark.parametrize(
    ("drop", "blank"),
    [
        pytest.param("grant_type", False, id="no-grant-type"),
        pytest.param("grant_type", True, id="empty-grant-type"),
        pytest.param("audience", False, id="no-audience"),
        pytest.param("audience", True, id="empty-audience"),
        pytest.param("client_id", False, id="no-client-id"),
        pytest.param("client_id", True, id="empty-client-id"),
    ],
)
def test_missing_parameter_is_invalid_request(client: TestClient, drop: str, blank: bool) -> None:
    fields = m2m()
    if blank:
        fields[drop] = ""
    else:
        del fields[drop]
    body = assert_error(post(client, fields), "invalid_request")
    assert (drop.replace("client_id", "Client credentials")) in body["error_description"]


def test_whitespace_only_audience_is_invalid_request(client: TestClient) -> None:
    assert_error(post(client, m2m(audience="   ")), "invalid_request")


@pytest.mark.parametrize(
    "grant_type",
    ["password", "implicit", "client_credential", "CLIENT_CREDENTIALS", "urn:made:up", "x" * 500],
)
def test_unknown_grant_type_is_unsupported(client: TestClient, grant_type: str) -> None:
    assert_error(post(client, m2m(grant_type=grant_type)), "unsupported_grant_type")


@pytest.mark.parametrize("name", ["grant_type", "client_id", "client_secret", "scope"])
def test_duplicated_parameter_is_invalid_request(client: TestClient, name: str) -> None:
    fields = list(m2m(scope="read:calendar").items())
    value = dict(fields)[name]
    body = assert_error(post(client, [*fields, (name, value)]), "invalid_request")
    assert name in body["error_description"]


def test_unknown_parameters_are_ignored(client: TestClient, tenant: Tenant) -> None:
    assert_token(post(client, [*m2m().items(), ("colour", "blue"), ("resource", "x")]), tenant)


# --- bodies that are not forms ---


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(json.dumps(m2m()).encode(), "application/json", id="json"),
        pytest.param(json.dumps(m2m()).encode(), FORM.replace("form", "from"), id="typo-type"),
        pytest.param(urlencode(m2m()).encode(), "text/plain", id="form-as-text"),
        pytest.param(urlencode(m2m()).encode(), None, id="form-without-type"),
        pytest.param(
            b'--b\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nx\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
            id="multipart",
        ),
    ],
)
def test_wrong_content_type_is_invalid_request(
    client: TestClient, content: bytes, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    assert_error(client.post(TOKEN, content=content, headers=headers), "invalid_request")


def test_json_body_with_form_content_type_is_invalid_request(client: TestClient) -> None:
    response = client.post(
        TOKEN, content=json.dumps(m2m()).encode(), headers={"Content-Type": FORM}
    )
    assert_error(response, "invalid_request")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"grant_type=client_credentials&audience=\xff\xfe", id="raw-bytes"),
        pytest.param(b"grant_type=client_credentials&audience=%FF%FE", id="percent-encoded"),
        pytest.param(b"grant_type=\xed\xa0\x80", id="raw-surrogate"),
        pytest.param(b"grant_type=%ED%A0%80", id="percent-surrogate"),
        pytest.param(b"grant_type=%C3", id="truncated-sequence"),
    ],
)
def test_invalid_utf8_is_invalid_request(client: TestClient, content: bytes) -> None:
    response = client.post(TOKEN, content=content, headers={"Content-Type": FORM})
    assert_error(response, "invalid_request")


@pytest.mark.parametrize("content_type", [FORM, None])
def test_empty_body_is_invalid_request(client: TestClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = assert_error(client.post(TOKEN, content=b"", headers=headers), "invalid_request")
    assert "grant_type" in body["error_description"]


@pytest.mark.parametrize(
    "content",
    [b"&&&", b"=", b"==&=", b"grant_type", b"%", b"%%%%", b"a=%zz", b";;", b"\x00=\x00"],
)
def test_malformed_forms_are_answered_with_oauth_errors(client: TestClient, content: bytes) -> None:
    response = client.post(TOKEN, content=content, headers={"Content-Type": FORM})
    assert response.status_code == 400
    assert_error(response, response.json()["error"])
    assert response.json()["error"] in OAUTH_ERRORS


def test_too_many_fields_is_invalid_request(client: TestClient) -> None:
    fields = [*m2m().items(), *((f"f{i}", "v") for i in range(200))]
    assert_error(post(client, fields), "invalid_request")


def test_oversized_body_is_413_with_an_oauth_body(client: TestClient) -> None:
    content = b"grant_type=client_credentials&junk=" + b"x" * (10 * 1024 * 1024)
    response = client.post(TOKEN, content=content, headers={"Content-Type": FORM})
    assert_error(response, "invalid_request", 413)


def test_body_just_over_the_limit_is_413(client: TestClient) -> None:
    content = b"a=" + b"x" * (MAX_BODY - 1)
    assert len(content) == MAX_BODY + 1
    response = client.post(TOKEN, content=content, headers={"Content-Type": FORM})
    assert_error(response, "invalid_request", 413)


def test_body_at_the_limit_is_read(client: TestClient) -> None:
    content = b"a=" + b"x" * (MAX_BODY - 2)
    response = client.post(TOKEN, content=content, headers={"Content-Type": FORM})
    body = assert_error(response, "invalid_request", 400)
    assert "grant_type" in body["error_description"]


def test_oversized_chunked_body_without_length_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"grant_type=client_credentials&junk="
        for _ in range(40):
            yield b"x" * 65_536

    response = client.post(TOKEN, content=chunks(), headers={"Content-Type": FORM})
    assert "content-length" not in response.request.headers
    assert_error(response, "invalid_request", 413)


def asgi_post(tenant: Tenant, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, bytes]:
    """Send raw header bytes the HTTP client would refuse or re-encode."""
    app = create_app(tenant)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": TOKEN,
        "raw_path": TOKEN.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8400),
    }
    sent: list[Message] = []
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.mark.parametrize(
    "length",
    [b"\xb2", b"-1", b"1e3", b"abc", b"", b" 12", b"\xd9\xa3", b"99999999999999999999999"],
)
def test_malformed_content_length_is_an_oauth_error(tenant: Tenant, length: bytes) -> None:
    body = urlencode(m2m()).encode()
    headers = [(b"content-type", FORM.encode()), (b"content-length", length)]
    status, raw = asgi_post(tenant, headers, body)
    assert status in (400, 413)
    answer = json.loads(raw)
    assert set(answer) == {"error", "error_description"}
    assert answer["error"] == "invalid_request"


def test_non_latin1_basic_header_bytes_are_invalid_client(tenant: Tenant) -> None:
    headers = [(b"content-type", FORM.encode()), (b"authorization", b"Basic \xc3\xa9\xff")]
    status, raw = asgi_post(tenant, headers, b"grant_type=client_credentials&audience=x")
    assert status == 401
    assert json.loads(raw) == {"error": "invalid_client", "error_description": KINDE_INVALID_CLIENT}


# --- other paths and methods ---


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_on_the_token_endpoint_are_405(client: TestClient, method: str) -> None:
    response = client.request(method, TOKEN)
    assert_error(response, "invalid_request", 405)
    assert "POST" in response.headers["allow"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/nope"),
        ("POST", "/token"),
        ("GET", "/.well-known/jwks.json/x"),
        ("GET", "/%ff%fe"),
        ("POST", TOKEN + "/"),
        ("GET", "/.well-known/jwks/"),
    ],
)
def test_unknown_paths_are_404_json(client: TestClient, method: str, path: str) -> None:
    # A trailing slash is a different path, never a redirect (a 307 would lose the POST).
    response = client.request(method, path, follow_redirects=False)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == "not_found"

"""The device authorization flow (RFC 8628) in process: codes, the user's page, polling."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import segno
from starlette.testclient import TestClient

from mockauth.http.app import create_app
from mockauth.tenant.config import DEFAULT_CONFIG_TOML, default_config, parse_config
from mockauth.tenant.tenant import Tenant
from mockauth.tokens.keys import KeyStore

ISSUER = "http://testserver"
CONFIG = default_config()
TV = next(a for a in CONFIG.apps if a.type == "device")
WEB = next(a for a in CONFIG.apps if a.type == "regular")
USER = CONFIG.users[0]
API = "https://api.example.com"
GRANT = "urn:ietf:params:oauth:grant-type:device_code"
KEYS = KeyStore()


@pytest.fixture
def tenant() -> Tenant:
    return Tenant(issuer=ISSUER, keys=KEYS)


@pytest.fixture
def client(tenant: Tenant) -> TestClient:
    return TestClient(create_app(tenant), base_url=ISSUER)


def start(client: TestClient, **form: str) -> dict[str, Any]:
    answer = client.post("/oauth2/device/auth", data={"client_id": TV.client_id, **form})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body: dict[str, Any] = answer.json()
    return body


def poll(client: TestClient, device_code: str, client_id: str = TV.client_id) -> Any:
    form = {"grant_type": GRANT, "device_code": device_code, "client_id": client_id}
    return client.post("/oauth2/token", data=form)


def error_of(answer: Any) -> str:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert set(body) == {"error", "error_description"}
    return str(body["error"])


def claims_of(token: str) -> dict[str, Any]:
    key = KEYS.public_key(jwt.get_unverified_header(token)["kid"])
    assert key is not None
    decoded: dict[str, Any] = jwt.decode(
        token, key, algorithms=["RS256"], issuer=ISSUER, options={"verify_aud": False}
    )
    return decoded


def test_the_device_authorization_answer_is_kindes(client: TestClient) -> None:
    body = start(client)
    assert set(body) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
        "qr_code",
    }
    assert body["device_code"].startswith("kinde_dc_")
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{8}", body["user_code"])
    assert body["verification_uri"] == ISSUER + "/device"
    assert body["verification_uri_complete"] == f"{ISSUER}/device?user_code={body['user_code']}"
    assert (body["expires_in"], body["interval"]) == (600, 5)
    # A PNG data URL of the QR code of the complete URI (what segno draws for that URI).
    assert body["qr_code"].startswith("data:image/png;base64,")
    png = base64.b64decode(body["qr_code"].split(",", 1)[1])
    assert png.startswith(b"\x89PNG")
    expected = segno.make(body["verification_uri_complete"], error="m")
    assert body["qr_code"] == expected.png_data_uri(scale=4, border=2)


def test_a_device_polling_too_fast_is_told_to_slow_down(tenant: Tenant, client: TestClient) -> None:
    body = start(client)
    assert error_of(poll(client, body["device_code"])) == "authorization_pending"
    slow = poll(client, body["device_code"])  # at once: faster than the interval
    assert error_of(slow) == "slow_down" and "10 seconds" in slow.json()["error_description"]
    tenant.clock.advance(6)  # the old interval is not enough now
    assert error_of(poll(client, body["device_code"])) == "slow_down"
    tenant.clock.advance(16)
    assert error_of(poll(client, body["device_code"])) == "authorization_pending"


def test_a_device_polls_until_its_user_approves_then_gets_tokens_once(
    client: TestClient,
) -> None:
    body = start(client, audience=API)
    assert error_of(poll(client, body["device_code"])) == "authorization_pending"
    page = client.get(
        urlsplit(body["verification_uri_complete"]).path, params={"user_code": body["user_code"]}
    )
    assert page.status_code == 200 and "Jane Doe" in page.text
    tokens = poll(client, body["device_code"])
    assert tokens.status_code == 200, tokens.text
    answer = tokens.json()
    assert answer["token_type"] == "bearer" and {"id_token", "refresh_token"} <= set(answer)
    access = claims_of(answer["access_token"])
    assert (access["sub"], access["azp"], access["aud"]) == (USER.id, TV.client_id, [API])
    assert access["org_code"] == USER.orgs[0]
    assert error_of(poll(client, body["device_code"])) == "invalid_grant"  # once only


def test_the_user_can_type_the_code_and_pick_who_signs_in(
    tenant: Tenant, client: TestClient
) -> None:
    tenant.put_user({"email": "kid@example.com", "given_name": "Kid"})
    body = start(client)
    form = client.get("/device")
    assert form.status_code == 200 and 'name="user_code"' in form.text
    code = body["user_code"]
    typed = f"{code[:4].lower()}-{code[4:].lower()}"  # as a person types it
    page = client.get("/device", params={"user_code": typed, "login_hint": "kid@example.com"})
    assert "Kid" in page.text
    assert claims_of(poll(client, body["device_code"]).json()["access_token"])["sub"] != USER.id


def test_a_refused_device_gets_access_denied(client: TestClient) -> None:
    body = start(client)
    page = client.get("/device", params={"user_code": body["user_code"], "deny": "1"})
    assert "refused" in page.text
    assert error_of(poll(client, body["device_code"])) == "access_denied"


def test_an_expired_device_code_is_expired_token(tenant: Tenant, client: TestClient) -> None:
    body = start(client)
    tenant.clock.advance(601)
    assert error_of(poll(client, body["device_code"])) == "expired_token"


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {"client_id": WEB.client_id, "client_secret": WEB.client_secret},
            400,
            "unauthorized_client",
        ),
        ({"client_id": "f" * 32}, 401, "invalid_client"),
        ({"audience": "https://nobody.example"}, 400, "unauthorized_client"),
    ],
)
def test_bad_device_authorization_requests(
    client: TestClient, form: dict[str, str], status: int, error: str
) -> None:
    answer = client.post("/oauth2/device/auth", data={"client_id": TV.client_id, **form})
    assert answer.status_code == status
    assert answer.json()["error"] == error


def test_client_id_may_be_left_out_only_with_one_device_app(client: TestClient) -> None:
    answer = client.post("/oauth2/device/auth", data={})
    assert answer.status_code == 200 and answer.json()["device_code"]
    config = parse_config(b"", source="empty.toml")
    empty = TestClient(create_app(Tenant(config, issuer=ISSUER, keys=KEYS)))
    assert empty.post("/oauth2/device/auth", data={}).json()["error"] == "invalid_request"


@pytest.mark.parametrize("code", ["", "nonsense", "kinde_dc_x.y"])
def test_a_device_code_not_ours_is_invalid_grant(client: TestClient, code: str) -> None:
    expected = "invalid_request" if not code else "invalid_grant"
    assert error_of(poll(client, code)) == expected


def test_a_device_code_is_bound_to_its_app(tenant: Tenant, client: TestClient) -> None:
    other = tenant.put_app({"name": "TV2", "type": "device", "client_id": "e" * 32})[0]
    body = start(client)
    client.get("/device", params={"user_code": body["user_code"]})
    assert error_of(poll(client, body["device_code"], other.client_id)) == "invalid_grant"


@pytest.mark.parametrize("user_code", ["AAAAAAAA", "BCDFBCDF", "<script>"])
def test_an_unknown_user_code_is_a_400(client: TestClient, user_code: str) -> None:
    answer = client.get("/device", params={"user_code": user_code})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_the_login_page_lets_the_user_pick_for_the_device() -> None:
    config = parse_config(("login_page = true\n" + DEFAULT_CONFIG_TOML).encode(), source="lp.toml")
    client = TestClient(create_app(Tenant(config, issuer=ISSUER, keys=KEYS)), base_url=ISSUER)
    body = start(client)
    page = client.get("/device", params={"user_code": body["user_code"]})
    links = re.findall(r'<a class="choice" href="([^"]+)"', page.text)
    assert len(links) == 1 and links[0].startswith("/device?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(links[0].replace("&amp;", "&")).query).items()}
    assert client.get("/device", params=query).status_code == 200
    assert poll(client, body["device_code"]).status_code == 200


# --- review: decisions are final, codes are checked before any page ---


def test_a_decision_is_final(tenant: Tenant, client: TestClient) -> None:
    tenant.put_user({"email": "eve@example.com"})
    body = start(client)
    code = body["user_code"]
    assert client.get("/device", params={"user_code": code}).status_code == 200
    for change in ({"login_hint": "eve@example.com"}, {"deny": "1"}):
        again = client.get("/device", params={"user_code": code, **change})
        assert again.status_code == 400 and "already" in again.json()["error_description"]
    assert claims_of(poll(client, body["device_code"]).json()["access_token"])["sub"] == USER.id
    refused = start(client)
    client.get("/device", params={"user_code": refused["user_code"], "deny": "1"})
    assert client.get("/device", params={"user_code": refused["user_code"]}).status_code == 400
    assert error_of(poll(client, refused["device_code"])) == "access_denied"


def test_an_expired_user_code_cannot_be_approved(tenant: Tenant, client: TestClient) -> None:
    body = start(client)
    tenant.clock.advance(601)
    answer = client.get("/device", params={"user_code": body["user_code"]})
    assert answer.status_code == 400 and "expired" in answer.json()["error_description"]


@pytest.mark.parametrize(
    "query", ["deny=true", "deny=yes", "deny=1&deny=0", "login_hint=a&login_hint=b"]
)
def test_an_unclear_device_page_request_is_a_400(client: TestClient, query: str) -> None:
    body = start(client)
    answer = client.get(f"/device?user_code={body['user_code']}&{query}")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert error_of(poll(client, body["device_code"])) == "authorization_pending"


def test_the_login_page_is_not_shown_for_an_unknown_code() -> None:
    config = parse_config(("login_page = true\n" + DEFAULT_CONFIG_TOML).encode(), source="lp")
    client = TestClient(create_app(Tenant(config, issuer=ISSUER, keys=KEYS)))
    answer = client.get("/device", params={"user_code": "BCDFBCDF"})
    assert answer.status_code == 400


def test_the_device_page_escapes_the_users_name(tenant: Tenant, client: TestClient) -> None:
    tenant.put_user({"email": "x@example.com", "given_name": "<script>alert(1)</script>"})
    body = start(client)
    page = client.get(
        "/device", params={"user_code": body["user_code"], "login_hint": "x@example.com"}
    )
    assert "&lt;script&gt;" in page.text and "<script>" not in page.text


def test_only_oidc_scopes_are_granted_to_a_device(client: TestClient) -> None:
    body = start(client, scope="openid offline_access read:calendar")
    client.get("/device", params={"user_code": body["user_code"]})
    answer = poll(client, body["device_code"]).json()
    assert claims_of(answer["access_token"])["scp"] == ["openid"]
    assert "refresh_token" not in answer


def test_without_client_id_two_device_apps_are_ambiguous(
    tenant: Tenant, client: TestClient
) -> None:
    tenant.put_app({"name": "TV2", "type": "device", "client_id": "e" * 32})
    answer = client.post("/oauth2/device/auth", data={})
    assert answer.status_code == 400 and "2 device apps" in answer.json()["error_description"]


def test_the_device_code_is_not_kept_on_disk(tmp_path: Any) -> None:
    tenant = Tenant(issuer=ISSUER, keys_dir=tmp_path)
    client = TestClient(create_app(tenant), base_url=ISSUER)
    body = start(client)
    tenant.store.close()  # its files whole, as they are on disk
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*.db*"))
    assert stored  # the store is there to be searched
    tenant = Tenant(issuer=ISSUER, keys_dir=tmp_path)
    client = TestClient(create_app(tenant), base_url=ISSUER)
    body = start(client)
    tenant.journal.flush()
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*.db*"))
    assert body["device_code"].encode() not in stored and b"kinde_dc_" not in stored
    client.get("/device", params={"user_code": body["user_code"]})
    assert poll(client, body["device_code"]).status_code == 200

"""Security regressions of the token service, one test per attack."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import inspect
import json
import logging
import stat
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import jwt
import pytest
from starlette.testclient import TestClient
from starlette.types import Message

from mockauth.errors import ConfigError
from mockauth.http import net, server
from mockauth.http.app import create_app
from mockauth.oauth import clientauth
from mockauth.serve_cli import serve
from mockauth.tenant.apps import App
from mockauth.tenant.config import default_config
from mockauth.tenant.tenant import Tenant
from mockauth.tokens.keys import KeyStore
from mockauth.tokens.sealed import SEAL_KEY_FILE

ISSUER = "http://127.0.0.1:8400"
CAL = "https://api.example.com"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    return Tenant(issuer=ISSUER, keys=KeyStore())


@pytest.fixture(scope="module")
def client(tenant: Tenant) -> TestClient:
    return TestClient(create_app(tenant), raise_server_exceptions=True)


@pytest.fixture(scope="module")
def app(tenant: Tenant) -> App:
    (m2m,) = [a for a in tenant.config.apps if a.type == "m2m"]
    return m2m


def token_form(app: App, secret: str | None = None, **extra: str) -> bytes:
    fields = {
        "grant_type": "client_credentials",
        "client_id": app.client_id,
        "client_secret": app.client_secret if secret is None else secret,
        "audience": CAL,
        **extra,
    }
    return urlencode(fields).encode()


def b64(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def private_material(keys: KeyStore) -> list[str]:
    """Every private number of every published key, as base64url and decimal, plus PEM markers."""
    out = ["PRIVATE KEY"]
    for kid in keys.published_kids:
        numbers = keys._keys[kid].private.private_numbers()
        for value in (numbers.d, numbers.p, numbers.q, numbers.dmp1, numbers.dmq1, numbers.iqmp):
            out += [b64(value), str(value)]
    return out


def every_response(client: TestClient, app: App) -> list[httpx2.Response]:
    assert app.client_secret is not None
    basic = base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()
    return [
        client.get("/.well-known/openid-configuration"),
        client.get("/.well-known/jwks"),
        client.get("/.well-known/jwks.json"),
        client.get("/_mockauth/health"),
        client.get("/oauth2/token"),
        client.get("/no/such/path"),
        client.post("/oauth2/token", content=token_form(app), headers=FORM),
        client.post("/oauth2/token", content=token_form(app, "x" * 40), headers=FORM),
        client.post("/oauth2/token", content=token_form(app, scope="nope"), headers=FORM),
        client.post(
            "/oauth2/token",
            content=b"grant_type=client_credentials&audience=" + CAL.encode(),
            headers={**FORM, "Authorization": f"Basic {basic}"},
        ),
        client.post("/oauth2/token", content=b"{}", headers={"Content-Type": "application/json"}),
    ]


def test_jwks_never_carries_a_private_member() -> None:
    keys = KeyStore()
    local = TestClient(create_app(Tenant(issuer=ISSUER, keys=keys)))
    first = keys.active_kid
    for step in ("start", "rotate", "rotate", "retire"):
        if step == "rotate":
            keys.rotate()
        elif step == "retire":
            keys.retire(first)
        for path in ("/.well-known/jwks", "/.well-known/jwks.json"):
            doc = local.get(path).json()
            assert doc["keys"]
            for jwk in doc["keys"]:
                assert set(jwk) == {"kty", "alg", "use", "kid", "n", "e"}
                assert not set(jwk) & set(PRIVATE_MEMBERS)


def test_no_response_contains_private_key_material(
    tenant: Tenant, client: TestClient, app: App
) -> None:
    tenant.keys.rotate()  # two keys published: neither may leak
    secrets = private_material(tenant.keys)
    for response in every_response(client, app):
        text = response.text + json.dumps(dict(response.headers))
        for secret in secrets:
            assert secret not in text, f"{response.request.url} leaked key material"


def test_no_response_echoes_the_client_secret(tenant: Tenant, client: TestClient, app: App) -> None:
    assert app.client_secret is not None
    for response in every_response(client, app):
        assert app.client_secret not in response.text
        assert app.client_secret not in json.dumps(dict(response.headers))
        if response.status_code == 200 and "access_token" in response.text:
            claims = jwt.decode(
                response.json()["access_token"], options={"verify_signature": False}
            )
            assert app.client_secret not in json.dumps(claims)


def test_secret_is_checked_with_compare_digest(
    client: TestClient, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    wrong = "W" * 50
    response = client.post("/oauth2/token", content=token_form(app, wrong), headers=FORM)
    assert response.status_code == 401
    assert app.client_secret is not None
    assert calls == [(wrong.encode(), app.client_secret.encode())]


def test_compare_digest_alone_decides_the_secret(
    client: TestClient, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    # If anything but compare_digest (say ==) judged the secret, this wrong one would fail.
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: True)
    response = client.post("/oauth2/token", content=token_form(app, "W" * 50), headers=FORM)
    assert response.status_code == 200
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: False)
    response = client.post("/oauth2/token", content=token_form(app), headers=FORM)
    assert response.status_code == 401


def test_unknown_client_still_pays_for_a_comparison(
    client: TestClient, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An early return for unknown ids would let timing reveal which client ids exist.
    calls: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return False

    monkeypatch.setattr(hmac, "compare_digest", spy)
    form = urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": "f" * 32,
            "client_secret": "S" * 50,
            "audience": CAL,
        }
    )
    response = client.post("/oauth2/token", content=form.encode(), headers=FORM)
    assert response.status_code == 401
    assert len(calls) == 1
    assert len(calls[0][1]) == 50  # a dummy secret of a real secret's length


def test_authenticate_uses_no_plain_equality_on_the_stored_secret() -> None:
    source = inspect.getsource(clientauth.authenticate)
    assert "compare_digest" in source
    assert "== app.client_secret" not in source
    assert "app.client_secret ==" not in source
    assert "!= app.client_secret" not in source


def test_unknown_client_and_wrong_secret_look_the_same(client: TestClient, app: App) -> None:
    # Account enumeration: the answer must not say whether the client id exists.
    wrong = client.post("/oauth2/token", content=token_form(app, "W" * 50), headers=FORM)
    unknown_form = token_form(App(name="x", client_id="e" * 32), "W" * 50)
    unknown = client.post("/oauth2/token", content=unknown_form, headers=FORM)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.content == unknown.content
    assert dict(wrong.headers) == dict(unknown.headers)


def test_secrets_never_reach_the_logs(
    client: TestClient, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    assert app.client_secret is not None
    wrong = "LeakCheck" * 5
    basic = base64.b64encode(f"{app.client_id}:{wrong}".encode()).decode()
    with caplog.at_level(logging.DEBUG):
        client.post("/oauth2/token", content=token_form(app, wrong), headers=FORM)
        client.post("/oauth2/token", content=token_form(app), headers=FORM)
        client.post(
            "/oauth2/token",
            content=b"grant_type=client_credentials&audience=" + CAL.encode(),
            headers={**FORM, "Authorization": f"Basic {basic}"},
        )
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert wrong not in logged
    assert basic not in logged
    assert app.client_secret not in logged


def test_server_errors_reveal_nothing(tenant: Tenant, caplog: pytest.LogCaptureFixture) -> None:
    # An unexpected exception is a bare server_error: no stack trace, no secret, no detail.
    app = create_app(tenant)

    async def boom(request: Any) -> Any:
        raise RuntimeError("internal detail")

    app.add_route("/boom", boom)
    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == "server_error"
    assert "internal detail" not in response.text
    assert "Traceback" not in response.text


def test_oversized_body_is_refused_before_it_is_read(tenant: Tenant) -> None:
    # A client announcing 10 MB must be answered without the server buffering it.
    app = create_app(tenant)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/oauth2/token",
        "raw_path": b"/oauth2/token",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(10 * 1024 * 1024).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8400),
    }
    received = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b"x" * 65_536, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert received == 0
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert set(body) == {"error", "error_description"}


def test_default_bind_host_is_loopback() -> None:
    assert net.DEFAULT_HOST == "127.0.0.1"
    assert server.ServeOptions().host == "127.0.0.1"
    assert inspect.signature(server.ServerThread).parameters["host"].default == "127.0.0.1"
    (host_option,) = [p for p in serve.params if p.name == "host"]
    assert host_option.default == "127.0.0.1"


def test_key_file_is_not_readable_by_others(tmp_path: Path) -> None:
    KeyStore(tmp_path)
    (pem,) = tmp_path.glob("*.pem")
    assert stat.S_IMODE(pem.stat().st_mode) & 0o077 == 0


def test_tokens_are_never_hmac_signed(client: TestClient, app: App, tenant: Tenant) -> None:
    # alg confusion: the header says RS256 and an HS256 check with the public key must fail.
    response = client.post("/oauth2/token", content=token_form(app), headers=FORM)
    token = response.json()["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert app.client_secret is not None
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(token, key=app.client_secret, algorithms=["HS256"], audience=CAL)


@pytest.mark.parametrize("secret", ["", " ", " padded "])
def test_an_empty_or_padded_admin_secret_is_refused(secret: str) -> None:
    # "Authorization: Bearer" with nothing after it must never pass the admin check.
    with pytest.raises(ConfigError, match="admin_secret"):
        Tenant(default_config(), issuer="http://127.0.0.1:1", keys=KeyStore(), admin_secret=secret)


def test_the_admin_client_never_carries_its_secret_through_a_redirect() -> None:
    import http.server
    import threading

    from mockauth.admin.client import AdminClient, AdminClientError

    seen: list[str | None] = []

    class Elsewhere(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("authorization"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    elsewhere = http.server.HTTPServer(("127.0.0.1", 0), Elsewhere)
    target = f"http://127.0.0.1:{elsewhere.server_address[1]}/steal"

    class Redirector(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    redirector = http.server.HTTPServer(("127.0.0.1", 0), Redirector)
    threads = [
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        for s in (elsewhere, redirector)
    ]
    for thread in threads:
        thread.start()
    try:
        client = AdminClient(f"http://127.0.0.1:{redirector.server_address[1]}", secret="s3cret")
        with pytest.raises(AdminClientError):
            client.faults()
        assert seen == []
    finally:
        for s in (elsewhere, redirector):
            s.shutdown()
            s.server_close()


# --- user login ---


def login_responses(client: TestClient, web: App) -> tuple[list[httpx2.Response], dict[str, str]]:
    """Every user-login endpoint once, and the secrets that went through them."""
    secret = web.client_secret or ""
    verifier = "V" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    params = {
        "client_id": web.client_id,
        "redirect_uri": web.redirect_uris[0],
        "response_type": "code",
        "scope": "openid offline",
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }
    redirect = client.get("/oauth2/auth", params=params, follow_redirects=False)
    code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": web.redirect_uris[0],
        "code_verifier": verifier,
        "client_id": web.client_id,
        "client_secret": secret,
    }
    tokens = client.post("/oauth2/token", data=form)
    body = tokens.json()
    auth = {"client_id": web.client_id, "client_secret": secret}
    bearer = {"Authorization": "Bearer " + body["access_token"]}
    responses = [
        redirect,
        tokens,
        client.post("/oauth2/token", data=form),  # the replay
        client.get("/oauth2/v2/user_profile", headers=bearer),
        client.get("/oauth2/user_profile", headers=bearer),
        client.post("/oauth2/introspect", data={"token": body["refresh_token"], **auth}),
        client.post("/oauth2/revoke", data={"token": body["refresh_token"], **auth}),
        client.get("/logout", params={"redirect": "http://evil.example"}),
        client.get("/_mockauth/users"),
        client.get("/_mockauth/apps"),
    ]
    used = {"verifier": verifier, "refresh": body["refresh_token"], "code": code}
    return responses, used


def test_no_login_response_carries_the_seal_key_or_a_private_key(tmp_path: Path) -> None:
    tenant = Tenant(issuer=ISSUER, keys_dir=tmp_path)
    client = TestClient(create_app(tenant))
    web = next(a for a in tenant.config.apps if a.type == "regular")
    seal = (tmp_path / SEAL_KEY_FILE).read_bytes()
    leaks = [
        seal.hex(),
        base64.b64encode(seal).decode(),
        base64.urlsafe_b64encode(seal).decode().rstrip("="),
        *private_material(tenant.keys),
    ]
    responses, _ = login_responses(client, web)
    for response in responses:
        text = response.text + json.dumps(dict(response.headers))
        for secret in leaks:
            assert secret not in text, f"{response.request.url} leaked key material"


def test_the_journal_keeps_no_code_verifier_token_or_secret(tenant: Tenant) -> None:
    client = TestClient(create_app(tenant))
    web = next(a for a in tenant.config.apps if a.type == "regular")
    tenant.journal.clear()
    _, used = login_responses(client, web)
    dump = json.dumps([e.to_dict() for e in tenant.journal.entries()])
    assert "/oauth2/auth" in dump and "authorization_code" in dump
    for value in (*used.values(), web.client_secret or "-"):
        assert value not in dump

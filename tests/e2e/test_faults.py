"""Every fault effect over real HTTP (uvicorn in a thread): what the client sees, and that
the server keeps issuing correct tokens to other clients meanwhile."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from mockauth import paths
from mockauth.errors import OAUTH_ERRORS, TokenExpiredError, UnknownKeyError
from mockauth.faults.badtokens import BAD_TOKENS
from mockauth.http.server import ServerThread
from mockauth.tenant.config import parse_config
from mockauth.validator.validator import TokenValidator

VICTIM = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
BYSTANDER = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
SECRET = "Secret" * 7
AUDIENCE = "https://api.example.com"
SCOPES = ["read:calendar", "update:event"]
CONFIG = f"""
[[apis]]
audience = "{AUDIENCE}"
scopes = {json.dumps(SCOPES)}

[[apps]]
name = "Victim"
client_id = "{VICTIM}"
client_secret = "{SECRET}"
apis = {{ "{AUDIENCE}" = {json.dumps(SCOPES)} }}

[[apps]]
name = "Bystander"
client_id = "{BYSTANDER}"
client_secret = "{SECRET}"
apis = {{ "{AUDIENCE}" = {json.dumps(SCOPES)} }}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread(parse_config(CONFIG.encode(), source="test")) as srv:
        yield srv


@pytest.fixture
def url(server: ServerThread) -> str:
    assert httpx.post(server.url + paths.ADMIN_RESET).status_code == 200
    return server.url


def form(client_id: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": SECRET,
        "audience": AUDIENCE,
    }


def add_fault(url: str, **rule: Any) -> str:
    answer = httpx.post(url + paths.ADMIN_FAULTS, json=rule)
    assert answer.status_code == 201, answer.text
    rule_id: str = answer.json()["faults"][0]["id"]
    return rule_id


def victim(url: str, timeout: float = 10.0) -> httpx.Response:
    return httpx.post(url + paths.TOKEN, data=form(VICTIM), timeout=timeout)


def assert_serving(server: ServerThread) -> None:
    """Another client still gets a correct token (checked against the server's own keys)."""
    answer = httpx.post(server.url + paths.TOKEN, data=form(BYSTANDER), timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    validator = TokenValidator(issuer=server.issuer, audience=AUDIENCE, jwks=server.tenant.keys)
    claims = validator.validate(body["access_token"], SCOPES)
    assert claims.client_id == BYSTANDER


def fault_of_last(url: str, path: str = paths.TOKEN) -> Any:
    entries = httpx.get(url + paths.ADMIN_JOURNAL, params={"path": path}).json()["entries"]
    return entries[-1]


def raw_exchange(url: str, path: str, body: bytes) -> bytes:
    """Send one POST on a fresh socket and read until the server closes it."""
    parts = urlsplit(url)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def run_meanwhile(slow: Callable[[], Any], server: ServerThread) -> tuple[Any, float, float]:
    """Run ``slow`` in a thread; serve another client while it is pending.

    Returns (the slow call's result or exception, its duration, when the other client was
    served relative to the slow call's start)."""
    result: list[Any] = []
    start = time.monotonic()

    def call() -> None:
        try:
            result.append(slow())
        except Exception as exc:
            result.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.05)  # let the slow request reach the server first
    assert_serving(server)
    served = time.monotonic() - start
    thread.join(30)
    assert not thread.is_alive()
    return result[0], time.monotonic() - start, served


# --- latency -------------------------------------------------------------------------------


@pytest.mark.parametrize(("delay", "low"), [(0.6, 0.6), ([0.5, 0.8], 0.5)])
def test_latency_delays_the_answer_but_not_other_clients(
    server: ServerThread, url: str, delay: Any, low: float
) -> None:
    rule = add_fault(url, client_id=VICTIM, effect="latency", delay=delay)
    answer, took, served = run_meanwhile(lambda: victim(url), server)
    assert isinstance(answer, httpx.Response) and answer.status_code == 200
    assert low <= took < 15  # generous upper bound
    assert served < took
    assert fault_of_last(url)["fault"] in (rule, None)  # the bystander may be recorded last
    faulted = httpx.get(url + paths.ADMIN_JOURNAL, params={"fault": rule}).json()["entries"]
    assert [e["client_id"] for e in faulted] == [VICTIM]


# --- HTTP errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "status", "error"),
    [
        ({"status": 500}, 500, "server_error"),
        ({"status": 502}, 502, "server_error"),
        ({"status": 503}, 503, "temporarily_unavailable"),
        ({"status": 504}, 504, "server_error"),
        ({"error": "invalid_client"}, 401, "invalid_client"),
        ({"error": "invalid_grant", "description": "Nope."}, 400, "invalid_grant"),
        ({"status": 403}, 403, "access_denied"),
    ],
)
def test_error_status_with_oauth_body(
    server: ServerThread, url: str, rule: dict[str, Any], status: int, error: str
) -> None:
    rule_id = add_fault(url, client_id=VICTIM, effect="error", **rule)
    answer = victim(url)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert body["error_description"] == rule.get("description", body["error_description"])
    if "error" in rule and "description" not in rule:  # a standard error keeps its own text
        assert body["error_description"] == OAUTH_ERRORS[rule["error"]].default_description
    assert fault_of_last(url)["fault"] == rule_id
    assert fault_of_last(url)["status"] == status
    assert_serving(server)


def test_throttling_answers_429_with_reset_headers(server: ServerThread, url: str) -> None:
    add_fault(url, client_id=VICTIM, effect="throttle", retry_after=7, times=2)
    for _ in range(2):
        answer = victim(url)
        assert answer.status_code == 429
        assert answer.headers["ratelimit-reset"] == "7"
        assert answer.headers["retry-after"] == "7"
        assert answer.json()["error"] == "too_many_requests"
        assert_serving(server)
    assert victim(url).status_code == 200


def test_jwks_500(server: ServerThread, url: str) -> None:
    add_fault(url, endpoint="jwks", effect="error", status=500)
    for path in (paths.JWKS, paths.JWKS_JSON):
        answer = httpx.get(url + path)
        assert answer.status_code == 500
        assert answer.json()["error"] == "server_error"
    assert_serving(server)


# --- malformed answers ---------------------------------------------------------------------


def test_invalid_json(server: ServerThread, url: str) -> None:
    add_fault(url, client_id=VICTIM, effect="invalid_json")
    answer = victim(url)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.content
    with pytest.raises(ValueError):
        json.loads(answer.content)
    assert_serving(server)


def test_wrong_content_type(server: ServerThread, url: str) -> None:
    add_fault(url, client_id=VICTIM, effect="wrong_content_type")
    answer = victim(url)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert "access_token" in json.loads(answer.content)
    assert_serving(server)


@pytest.mark.parametrize(("status", "title"), [(None, "502 Bad Gateway"), (503, "503 Service")])
def test_html_error_page(server: ServerThread, url: str, status: int | None, title: str) -> None:
    add_fault(url, client_id=VICTIM, effect="html_error", **({"status": status} if status else {}))
    answer = victim(url)
    assert answer.status_code == (status or 502)
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.text.startswith("<html>")
    assert title in answer.text
    assert_serving(server)


def test_empty_200(server: ServerThread, url: str) -> None:
    add_fault(url, client_id=VICTIM, effect="empty")
    answer = victim(url)
    assert answer.status_code == 200
    assert answer.headers["content-length"] == "0"
    assert answer.content == b""
    assert_serving(server)


def test_truncated_body_then_closed_connection(server: ServerThread, url: str) -> None:
    add_fault(url, client_id=VICTIM, effect="truncated")
    # Cut mid-body: httpx says so, or (when the close overtakes the read) reports a reset.
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        victim(url)
    raw = raw_exchange(url, paths.TOKEN, urlencode(form(VICTIM)).encode())
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    headers = dict(line.partition(b": ")[::2] for line in head.lower().split(b"\r\n")[1:])
    length = int(headers[b"content-length"])
    assert 0 < len(body) < length
    assert_serving(server)


# --- hang and close ------------------------------------------------------------------------


def test_hang_then_close_after_the_maximum(server: ServerThread, url: str) -> None:
    rule_id = add_fault(url, client_id=VICTIM, effect="hang", timeout=1.5)
    answer, took, served = run_meanwhile(lambda: victim(url, timeout=20), server)
    assert isinstance(answer, httpx.RemoteProtocolError)
    assert 1.5 <= took < 15
    assert served < took
    entry = httpx.get(url + paths.ADMIN_JOURNAL, params={"fault": rule_id}).json()["entries"]
    assert [(e["status"], e["client_id"]) for e in entry] == [(None, VICTIM)]


def test_hang_until_the_client_gives_up(server: ServerThread, url: str) -> None:
    rule_id = add_fault(url, client_id=VICTIM, effect="hang", timeout=600)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        victim(url, timeout=0.5)
    assert time.monotonic() - started < 15
    assert_serving(server)
    # The server notices the client left and ends the request long before the maximum.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        query = {"fault": rule_id}
        if httpx.get(url + paths.ADMIN_JOURNAL, params=query).json()["entries"]:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the hung request never ended after the client disconnected")


def test_close_drops_the_connection_without_an_answer(server: ServerThread, url: str) -> None:
    add_fault(url, client_id=VICTIM, effect="close", times=2)
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        victim(url)
    assert raw_exchange(url, paths.TOKEN, urlencode(form(VICTIM)).encode()) == b""
    assert_serving(server)
    assert victim(url).status_code == 200
    entries = httpx.get(url + paths.ADMIN_JOURNAL, params={"client_id": VICTIM}).json()
    assert [e["status"] for e in entries["entries"]] == [None, None, 200]


def test_close_on_any_path_still_spares_the_admin_api(server: ServerThread, url: str) -> None:
    add_fault(url, effect="close")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url + paths.DISCOVERY)
    assert httpx.get(url + paths.ADMIN_FAULTS).status_code == 200
    assert httpx.delete(url + paths.ADMIN_FAULTS).json() == {"deleted": 1}
    assert_serving(server)


# --- bad tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BAD_TOKENS))
def test_bad_token_in_a_200(server: ServerThread, url: str, name: str) -> None:
    add_fault(url, client_id=VICTIM, effect="bad_token", token=name)
    answer = victim(url)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    validator = TokenValidator(issuer=server.issuer, audience=AUDIENCE, jwks=server.tenant.keys)
    with pytest.raises(BAD_TOKENS[name].error):
        validator.validate(body["access_token"], SCOPES)
    assert_serving(server)


def test_a_bad_token_rule_counts_only_answers_it_spoiled(server: ServerThread, url: str) -> None:
    rule_id = add_fault(url, client_id=VICTIM, effect="bad_token", token="expired", times=1)
    refused = httpx.post(url + paths.TOKEN, data={**form(VICTIM), "client_secret": "wrong"})
    assert refused.status_code == 401  # no token to spoil: the rule is not used up
    assert fault_of_last(url)["fault"] is None
    token = victim(url).json()["access_token"]
    validator = TokenValidator(issuer=server.issuer, audience=AUDIENCE, jwks=server.tenant.keys)
    with pytest.raises(TokenExpiredError):
        validator.validate(token)
    assert fault_of_last(url)["fault"] == rule_id
    assert_serving(server)


# --- JWKS faults ---------------------------------------------------------------------------


def test_jwks_empty(server: ServerThread, url: str) -> None:
    add_fault(url, effect="jwks_empty")
    assert httpx.get(url + paths.JWKS).json() == {"keys": []}
    assert httpx.get(url + paths.JWKS_JSON).json() == {"keys": []}
    fresh = TokenValidator(issuer=server.issuer, audience=AUDIENCE, refetch_interval=0)
    token = victim(url).json()["access_token"]
    with pytest.raises(UnknownKeyError):
        fresh.validate(token)
    assert_serving(server)


def test_jwks_missing_the_signing_key(server: ServerThread, url: str) -> None:
    active = server.tenant.keys.active_kid
    add_fault(url, effect="jwks_missing_key", times=1)
    keys = httpx.get(url + paths.JWKS).json()["keys"]
    assert keys and active not in [k["kid"] for k in keys]
    assert all(set(k) == {"kty", "alg", "use", "kid", "n", "e"} for k in keys)
    assert active in [k["kid"] for k in httpx.get(url + paths.JWKS).json()["keys"]]
    assert_serving(server)


def test_discovery_faults(server: ServerThread, url: str) -> None:
    add_fault(url, endpoint="discovery", effect="invalid_json", times=1)
    with pytest.raises(ValueError):
        httpx.get(url + paths.DISCOVERY).json()
    assert httpx.get(url + paths.DISCOVERY).json()["issuer"] == server.issuer
    assert_serving(server)


# --- replay --------------------------------------------------------------------------------


def statuses(url: str, seed: int) -> list[int]:
    add_fault(url, client_id=VICTIM, effect="error", status=503, probability=0.5, seed=seed)
    with httpx.Client() as client:
        return [client.post(url + paths.TOKEN, data=form(VICTIM)).status_code for _ in range(24)]


def test_the_same_seed_replays_the_same_fault_sequence(url: str) -> None:
    first = statuses(url, 2024)
    assert httpx.post(url + paths.ADMIN_RESET).status_code == 200
    assert statuses(url, 2024) == first
    assert set(first) == {200, 503}
    assert httpx.post(url + paths.ADMIN_RESET).status_code == 200
    assert statuses(url, 7) != first

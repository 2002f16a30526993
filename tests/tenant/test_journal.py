"""The request journal: bounded, filtered, and never holding a secret."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from mockauth import paths
from mockauth.http.app import create_app
from mockauth.tenant.config import default_config
from mockauth.tenant.journal import Journal, RequestSummary
from mockauth.tenant.tenant import Tenant

APP = default_config().apps[0]
SECRET = APP.client_secret or ""
AUDIENCE = "https://api.example.com"


def _record(journal: Journal, path: str = "/p", status: int = 200, **fields: str) -> None:
    journal.record(
        method="POST",
        path=path,
        status=status,
        started=time.monotonic(),
        fields=RequestSummary(path, client_id=fields.get("client_id")),
        fault=fields.get("fault"),
    )


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(Tenant(issuer="http://testserver")))


def _tenant(client: TestClient) -> Tenant:
    tenant: Tenant = client.app.state.tenant  # type: ignore[attr-defined]
    return tenant


def test_the_journal_is_bounded_and_drops_the_oldest() -> None:
    journal = Journal(3)
    for i in range(5):
        _record(journal, path=f"/{i}")
    assert [e.path for e in journal.entries()] == ["/2", "/3", "/4"]
    assert [e.seq for e in journal.entries()] == [3, 4, 5]
    assert journal.size == 3


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["/a", "/b", "/a", "/c"]),
        ({"path": "/a"}, ["/a", "/a"]),
        ({"client_id": "c2"}, ["/b"]),
        ({"status": 503}, ["/a"]),
        ({"fault": "f1"}, ["/c"]),
        ({"since": 2}, ["/a", "/c"]),
        ({"limit": 2}, ["/a", "/c"]),
        ({"limit": 0}, []),
        ({"path": "/a", "status": 200}, ["/a"]),
    ],
)
def test_filters(filters: dict[str, object], expected: list[str]) -> None:
    journal = Journal()
    _record(journal, "/a", client_id="c1")
    _record(journal, "/b", client_id="c2")
    _record(journal, "/a", 503, client_id="c1")
    _record(journal, "/c", fault="f1")
    assert [e.path for e in journal.entries(**filters)] == expected  # type: ignore[arg-type]


def test_clear_keeps_counting_sequence_numbers() -> None:
    journal = Journal()
    _record(journal)
    assert journal.clear() == 1
    assert len(journal) == 0
    _record(journal)
    assert [e.seq for e in journal.entries()] == [2]


def test_disabled_or_zero_size_journal_is_not_enabled() -> None:
    assert not Journal(0).enabled
    assert not Journal(10, enabled=False).enabled
    with pytest.raises(ValueError):
        Journal(-1)


def test_concurrent_records_are_all_kept() -> None:
    journal = Journal(10_000)
    threads = [
        threading.Thread(target=lambda: [_record(journal) for _ in range(500)]) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(e.seq for e in journal.entries()) == list(range(1, 4001))


def test_request_summaries_keep_only_the_allow_list() -> None:
    fields = RequestSummary.from_pairs(
        "/oauth2/token",
        [
            ("grant_type", "client_credentials"),
            ("client_id", "abc"),
            ("client_secret", "s3cret"),
            ("audience", "a b"),
            ("audience", "a"),
            ("scope", "read write"),
            ("client_assertion", "eyJ.x.y"),
        ],
    )
    expected = RequestSummary("/oauth2/token", "abc", "client_credentials", ("a", "b"))
    assert fields == replace(expected, scopes=("read", "write"))


def test_every_token_request_is_recorded_with_its_facts(client: TestClient) -> None:
    data = {
        "grant_type": "client_credentials",
        "client_id": APP.client_id,
        "client_secret": SECRET,
        "audience": AUDIENCE,
        "scope": "read:calendar",
    }
    assert client.post(paths.TOKEN, data=data).status_code == 200
    assert client.post(paths.TOKEN, data={**data, "client_secret": "x" * 40}).status_code == 401
    assert client.get(paths.JWKS).status_code == 200
    entries = _tenant(client).journal.entries()
    assert [(e.method, e.path, e.status) for e in entries] == [
        ("POST", paths.TOKEN, 200),
        ("POST", paths.TOKEN, 401),
        ("GET", paths.JWKS, 200),
    ]
    first = entries[0]
    assert (first.grant_type, first.client_id) == ("client_credentials", APP.client_id)
    assert (first.audiences, first.scopes, first.fault) == ((AUDIENCE,), ("read:calendar",), None)
    assert first.duration_ms >= 0
    assert abs(first.time - time.time()) < 60


def test_admin_requests_are_not_recorded(client: TestClient) -> None:
    client.get(paths.HEALTH)
    client.get(paths.ADMIN_JOURNAL)
    assert len(_tenant(client).journal) == 0


def test_basic_auth_client_id_is_recorded(client: TestClient) -> None:
    basic = base64.b64encode(f"{APP.client_id}:{SECRET}".encode()).decode()
    client.post(
        paths.TOKEN,
        data={"grant_type": "client_credentials", "audience": AUDIENCE},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert _tenant(client).journal.entries()[0].client_id == APP.client_id


def test_secrets_assertions_and_tokens_never_reach_the_journal(client: TestClient) -> None:
    canary = "Canary0Secret0Value0That0Must0Never0Leak0123"
    token = client.post(
        paths.TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": APP.client_id,
            "client_secret": SECRET,
            "audience": AUDIENCE,
        },
    ).json()["access_token"]
    client.post(paths.TOKEN, data={"client_id": APP.client_id, "client_secret": canary})
    client.post(
        paths.TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": canary,
            "code": canary,
            "refresh_token": canary,
            "code_verifier": canary,
        },
    )
    basic = base64.b64encode(f"{APP.client_id}:{canary}".encode()).decode()
    client.post(paths.TOKEN, data={"grant_type": "x"}, headers={"Authorization": f"Basic {basic}"})
    client.get(f"{paths.DISCOVERY}?client_secret={canary}&id_token_hint={token}&client_id=q")
    client.get(paths.JWKS, headers={"Authorization": f"Bearer {token}"})
    client.post(paths.TOKEN, content=f"client_secret={canary}", headers={"Content-Type": "text/x"})
    tenant = _tenant(client)
    assert len(tenant.journal) == 7
    dumped = client.get(paths.ADMIN_JOURNAL).text
    in_memory = repr(tenant.journal.entries())
    for secret in (canary, SECRET, token, token.split(".")[2], basic):
        assert secret not in dumped
        assert secret not in in_memory
    assert json.loads(dumped)["entries"][4]["client_id"] == "q"  # allow-listed query field


def test_a_fault_that_answers_for_the_endpoint_still_records_the_client(
    client: TestClient,
) -> None:
    tenant = _tenant(client)
    tenant.faults.add({"id": "boom", "endpoint": "token", "effect": "error", "status": 500})
    data = {"grant_type": "client_credentials", "client_id": APP.client_id, "audience": AUDIENCE}
    assert client.post(paths.TOKEN, data={**data, "client_secret": SECRET}).status_code == 500
    entry = tenant.journal.entries()[-1]
    assert (entry.client_id, entry.audiences, entry.status) == (APP.client_id, (AUDIENCE,), 500)
    assert entry.fault == "boom"
    assert SECRET not in repr(tenant.journal.entries())


def test_a_request_that_started_before_a_clear_is_not_recorded_after_it() -> None:
    journal = Journal()
    before = journal.generation
    journal.clear()  # what reset() does between two tests
    journal.record(method="GET", path="/x", status=200, started=time.monotonic(), generation=before)
    assert len(journal) == 0
    journal.record(
        method="GET", path="/y", status=200, started=time.monotonic(), generation=journal.generation
    )
    assert [e.path for e in journal.entries()] == ["/y"]

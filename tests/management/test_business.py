"""The business and the environment's settings are written through the store: another
worker reads an update at once, and a bad one changes nothing."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from mockauth.http.app import create_app
from mockauth.tenant.config import default_config
from mockauth.tenant.sqlite import open_store
from mockauth.tenant.tenant import Tenant
from tests.management.kit import ISSUER, ORG, bearer


def test_a_second_worker_reads_what_the_first_wrote(tmp_path: Path) -> None:
    first = Tenant(default_config(), issuer=ISSUER, keys_dir=tmp_path, workers=2)
    store = open_store(tmp_path, instance=first.store.instance)
    second = Tenant(issuer=ISSUER, keys_dir=tmp_path, store=store, seed=False)
    at_first = TestClient(create_app(first))
    at_second = TestClient(create_app(second))
    headers = bearer(first)
    for path, body in (
        ("/business", {"business_name": "Acme", "timezone_key": "london_greenwich_mean_time"}),
        ("/passkey", {"policy": "mandatory"}),
        (f"/organization/{ORG}/invites", {"email": "sam@example.com", "roles": []}),
    ):
        method = {"/business": "PATCH", "/passkey": "PUT"}.get(path, "POST")
        sent = at_first.request(method, "/api/v1" + path, json=body, headers=headers)
        assert sent.status_code in (200, 201), sent.text
    business = at_second.get("/api/v1/business", headers=headers).json()["business"]
    assert (business["name"], business["timezone"]) == (
        "Acme",
        "London (Greenwich Mean Time) [+00:00]",
    )
    assert at_second.get("/api/v1/passkey", headers=headers).json()["policy"] == "mandatory"
    invites = at_second.get(f"/api/v1/organization/{ORG}/invites", headers=headers).json()
    assert [i["email"] for i in invites["invites"]] == ["sam@example.com"]
    first.reset()  # back to the config: the business too
    assert at_second.get("/api/v1/business", headers=headers).json()["business"]["name"] == (
        "mockauth"
    )
    second.close()
    first.close()

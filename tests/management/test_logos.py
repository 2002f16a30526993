"""Logo uploads (multipart/form-data): an image's file name is kept by type; anything else
is Kinde's 400, never a 500; deleting a logo that is not there is a bodyless 204."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockauth.tenant.tenant import Tenant
from tests.management.kit import ORG, bearer, make

PNG = b"\x89PNG\r\n\x1a\n" + bytes(16)
SVG = b'\xef\xbb\xbf <?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'


@pytest.fixture
def served() -> Iterator[tuple[Tenant, TestClient]]:
    tenant, client = make()
    yield tenant, client
    tenant.close()


def test_an_image_is_kept_by_its_file_name(served: Any) -> None:
    tenant, client = served
    sent = client.put(
        "/api/v1/environment/logos/dark",
        files={"logo": ("../x/acme.svg", SVG)},
        headers=bearer(tenant),
    )
    assert sent.status_code == 200, sent.text
    assert dict(tenant.config.environment.logos) == {"dark": "acme.svg"}
    org = client.post(
        f"/api/v1/organizations/{ORG}/logos/light",
        files={"logo": ("o.png", PNG, "image/png")},
        headers=bearer(tenant),
    )
    assert org.status_code == 200, org.text
    read = client.get(f"/api/v1/organizations/{ORG}/logos", headers=bearer(tenant)).json()
    assert read["logos"] == [
        {"type": "light", "file_name": "o.png", "path": f"/logo?p_org_code={ORG}"}
    ]
    for _ in range(2):
        gone = client.delete(f"/api/v1/organizations/{ORG}/logos/light", headers=bearer(tenant))
    assert gone.status_code == 204 and gone.content == b""


FORM = "multipart/form-data; boundary=x"


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"files": {"logo": ("notes.txt", b"hello")}},
        {"files": {"logo": ("empty.png", b"")}},
        {"files": {"image": ("o.png", PNG)}},
        {"content": b"--x\r\nnot a form", "headers": {"Content-Type": FORM}},
        {"content": b"\xff" * 100, "headers": {"Content-Type": FORM}},
        {"json": {"logo": "aGVsbG8="}},
    ],
    ids=["text", "empty", "other field", "broken form", "bytes", "json"],
)
def test_what_is_not_an_image_upload_is_400(served: Any, request_kwargs: dict[str, Any]) -> None:
    tenant, client = served
    before = tenant.store.entities()
    headers = {**bearer(tenant), **request_kwargs.pop("headers", {})}
    sent = client.put("/api/v1/environment/logos/light", headers=headers, **request_kwargs)
    assert sent.status_code == 400, sent.text
    assert tenant.store.entities() == before

"""Fixtures of the tests that drive Kinde's Python management client: an HTTPS server per
module (``kinde_server``) and the client for its first app (``kinde``), trusting its CA.
The test extra installs ``kinde-python-sdk``: a missing client is an error, not a skip."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from mockauth.http.server import ServerThread

if TYPE_CHECKING:
    from kinde_sdk.management import ManagementClient


@pytest.fixture(scope="module")
def kinde_server() -> Iterator[ServerThread]:
    with ServerThread(tls=True) as running:
        yield running


@pytest.fixture(scope="module")
def kinde(kinde_server: ServerThread) -> Iterator[ManagementClient]:
    from kinde_sdk.management import ManagementClient
    from kinde_sdk.management.management_token_manager import ManagementTokenManager

    assert kinde_server.tls is not None
    bundle = str(kinde_server.tls.bundle)
    with pytest.MonkeyPatch.context() as env:
        # The token goes through requests (REQUESTS_CA_BUNDLE), the calls through urllib3.
        env.setenv("REQUESTS_CA_BUNDLE", bundle)
        env.setenv("SSL_CERT_FILE", bundle)
        ManagementTokenManager.reset_instances()
        app = kinde_server.tenant.config.apps[0]
        host = urlsplit(kinde_server.url).netloc  # a bare host: the client adds https://
        yield ManagementClient(host, app.client_id, app.client_secret)
        ManagementTokenManager.reset_instances()

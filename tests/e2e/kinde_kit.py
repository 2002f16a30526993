"""Kinde's Python management client pointed at a ServerThread over HTTPS (the test extra
installs ``kinde-python-sdk``; a missing client is an error, not a skip)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from kinde_sdk.management import ManagementClient
from kinde_sdk.management.management_token_manager import ManagementTokenManager

from mockauth.http.server import ServerThread


@contextmanager
def management_client(server: ServerThread) -> Iterator[ManagementClient]:
    """The client for the server's first app, trusting the server's CA."""
    assert server.tls is not None
    bundle = str(server.tls.bundle)
    with pytest.MonkeyPatch.context() as env:
        # The token goes through requests (REQUESTS_CA_BUNDLE), the calls through urllib3.
        env.setenv("REQUESTS_CA_BUNDLE", bundle)
        env.setenv("SSL_CERT_FILE", bundle)
        ManagementTokenManager.reset_instances()
        app = server.tenant.config.apps[0]
        host = urlsplit(server.url).netloc  # the client takes a bare host and adds https://
        yield ManagementClient(host, app.client_id, app.client_secret)
        ManagementTokenManager.reset_instances()

"""Asking a running server about itself: its issuer (discovery), keys (JWKS) and apps (admin
API), for `mockauth token`, `env` and `postman`. Over HTTPS the keys dir's local CA is
trusted besides Python's CAs, so a client on the server's keys dir needs no SSL_CERT_FILE."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mockauth.admin.client import AdminClient
from mockauth.http.tls import tls_files

TIMEOUT = 10.0


def tls_context(url: str, keys_dir: str | Path | None) -> ssl.SSLContext | None:
    """For an https ``url``: Python's trusted CAs plus ``keys_dir``'s local CA, if it has one."""
    if urlsplit(url).scheme != "https":
        return None
    context = ssl.create_default_context()
    ca = tls_files(keys_dir).ca_cert if keys_dir is not None else None
    if ca is not None and ca.is_file():
        context.load_verify_locations(cafile=ca)
    return context


def client_for(
    url: str, *, secret: str | None = None, keys_dir: str | Path | None = None
) -> AdminClient:
    """A client of the server at ``url``; ValueError for a URL that is not http(s)."""
    return AdminClient(url, secret=secret, timeout=TIMEOUT, context=tls_context(url, keys_dir))


@dataclass(frozen=True)
class RunningServer:
    """What `env` and `postman` need from a server: its issuer and its apps' tables."""

    url: str
    issuer: str
    apps: list[dict[str, Any]]


def describe(client: AdminClient) -> RunningServer:
    """Ask the server; raises the client's errors (unreachable, refused, not mockauth)."""
    issuer = str(client.discovery()["issuer"])
    return RunningServer(url=client.url, issuer=issuer, apps=client.apps())


def ca_bundle(keys_dir: str | Path) -> Path:
    """The bundle a TLS server on ``keys_dir`` writes at each start (its clients trust it)."""
    return tls_files(keys_dir).bundle.resolve()

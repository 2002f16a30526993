"""Tenant: everything a request needs, in one object that create_app receives."""

from __future__ import annotations

import json
from pathlib import Path

from mockauth.clock import Clock
from mockauth.config import App, ServerConfig, default_config
from mockauth.grants import GRANTS
from mockauth.keys import KeyStore
from mockauth.paths import discovery_document
from mockauth.tokens import TokenFactory


class Tenant:
    """A mock Kinde business: config resolved for one issuer, keys, clock and token factory."""

    def __init__(
        self,
        config: ServerConfig | None = None,
        *,
        issuer: str,
        keys: KeyStore | None = None,
        keys_dir: str | Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        if issuer.endswith("/"):
            raise ValueError(f"issuer must not end with '/': {issuer!r}")
        base = config or default_config()
        self.issuer = base.issuer or issuer
        self.config = base.with_issuer(self.issuer)
        self.keys = keys or KeyStore(keys_dir)
        self.clock = clock or Clock()
        self.tokens = TokenFactory(issuer=self.issuer, keys=self.keys, clock=self.clock)
        self.discovery_bytes = json.dumps(discovery_document(self.issuer, GRANTS)).encode()
        self._apps = {app.client_id: app for app in self.config.apps}

    def app(self, client_id: str) -> App | None:
        """The configured app with this client id."""
        return self._apps.get(client_id)

"""Test helpers for a mockauth tenant: what the pytest fixtures hand to a test.

:class:`MockAuth` drives a running server (``ServerThread``) or any tenant with a URL;
:class:`MockAuthASGI` drives the in-process app. Both work without pytest too::

    with ServerThread() as server:
        auth = MockAuth(server.tenant, server.url)
        token = auth.token()
"""

from __future__ import annotations

import importlib
import ssl
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

import jwt
from starlette.applications import Starlette

from mockauth import paths
from mockauth.faults.badtokens import BAD_TOKENS, bad_token
from mockauth.http.tls import BUNDLE
from mockauth.issuance import login_app, login_tokens, m2m_token
from mockauth.tenant.apps import App
from mockauth.tenant.tenant import Tenant
from mockauth.testing.tenant_controls import InjectedFault as InjectedFault  # fault() returns one
from mockauth.testing.tenant_controls import TenantControls
from mockauth.validator.validator import TokenValidator

if TYPE_CHECKING:
    import pytest
    from starlette.testclient import TestClient


class MockAuth(TenantControls):
    """Drive a mockauth tenant from a test: mint good and bad tokens, inject faults, move
    the clock, rotate keys, read the request journal, give a Kinde SDK its environment.
    (Faults, keys, the journal and reset are :class:`TenantControls`, in tenant_controls.py.)

    ``client_id=None`` everywhere means the only M2M app; ``audience=None`` that app's
    first API. Tokens are minted through the token endpoint's own issuance code, without
    HTTP: no fault applies to them and the journal does not record them.
    """

    def __init__(self, tenant: Tenant, url: str, *, ca_file: Path | None = None) -> None:
        self.tenant = tenant
        self.url = url
        self.clock = tenant.clock
        # The CA certificate an HTTPS server's clients must trust; None over HTTP.
        self.ca_file = ca_file

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server (its CA over HTTPS; the system's
        otherwise)."""
        return ssl.create_default_context(cafile=self.ca_file)

    # --- addresses ---

    @property
    def issuer(self) -> str:
        return self.tenant.issuer

    @property
    def token_url(self) -> str:
        return self.url + paths.TOKEN

    @property
    def jwks_url(self) -> str:
        return self.url + paths.JWKS

    @property
    def discovery_url(self) -> str:
        return self.url + paths.DISCOVERY

    # --- apps ---

    def get_app(self, client_id: str | None = None) -> App:
        """The app with this client id, or the only M2M app; LookupError otherwise."""
        apps = self.tenant.config.apps
        if client_id is None:
            m2m = [a for a in apps if a.type == "m2m"]
            if len(m2m) != 1:
                ids = ", ".join(a.client_id for a in m2m) or "none"
                raise LookupError(
                    f"{len(m2m)} M2M apps are configured ({ids}): pass client_id=... to choose"
                )
            return m2m[0]
        app = self.tenant.app(client_id)
        if app is None:
            known = ", ".join(a.client_id for a in apps) or "none"
            raise LookupError(f"no app has the client_id {client_id!r} (configured: {known})")
        return app

    @property
    def client_id(self) -> str:
        """The only M2M app's client id."""
        return self.get_app().client_id

    @property
    def client_secret(self) -> str:
        """The only M2M app's client secret."""
        return self.get_app().client_secret or ""

    def default_audience(self, client_id: str | None = None) -> str:
        """The first API the app is granted (config order)."""
        app = self.get_app(client_id)
        if not app.apis:
            raise LookupError(f"app {app.client_id!r} is granted no API: pass audience=...")
        return next(iter(app.apis))

    # --- tokens ---

    def token_response(
        self,
        client_id: str | None = None,
        audience: str | Sequence[str] | None = None,
        scopes: str | Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """The token endpoint's success body for a client_credentials request.

        ``scopes``: a subset of the granted ones (default: all); OAuthError as on the wire
        when the app is not granted the audience or a scope.
        """
        app = self.get_app(client_id)
        if app.type != "m2m":
            raise ValueError(f"app {app.client_id!r} is a {app.type} app, not an M2M app")
        if audience is None:
            audiences = [self.default_audience(app.client_id)]
        else:
            audiences = [audience] if isinstance(audience, str) else list(audience)
        scope = scopes if scopes is None or isinstance(scopes, str) else " ".join(scopes)
        return m2m_token(self.tenant, app, audiences, scope)

    def token(
        self,
        client_id: str | None = None,
        audience: str | Sequence[str] | None = None,
        scopes: str | Iterable[str] | None = None,
    ) -> str:
        """A real M2M access token, as the token endpoint would issue it now."""
        token: str = self.token_response(client_id, audience, scopes)["access_token"]
        return token

    def user_token_response(
        self,
        user: str | None = None,
        *,
        client_id: str | None = None,
        audience: str | Sequence[str] | None = None,
        scopes: str | Iterable[str] = "openid profile email offline",
        org_code: str | None = None,
    ) -> dict[str, Any]:
        """The token endpoint's success body after a user login (authorization code).

        ``user``: an email or id (default: the first configured user); ``client_id``: a web
        app or SPA (default: the first in the config). ``audience=None`` asks for no API, as an SDK
        does unless given an audience. OAuthError as the authorization or token endpoint
        would answer it (``access_denied`` for an unknown user, say).
        """
        app = login_app(self.tenant, client_id)
        return login_tokens(
            self.tenant,
            app,
            user=user,
            audiences=[audience] if isinstance(audience, str) else list(audience or ()),
            scopes=scopes.split() if isinstance(scopes, str) else list(scopes),
            org_code=org_code,
        )

    def user_token(
        self,
        user: str | None = None,
        *,
        client_id: str | None = None,
        audience: str | Sequence[str] | None = None,
        scopes: str | Iterable[str] = "openid profile email offline",
        org_code: str | None = None,
    ) -> str:
        """A real user access token, as a login through the web app or SPA would get now."""
        body = self.user_token_response(
            user, client_id=client_id, audience=audience, scopes=scopes, org_code=org_code
        )
        token: str = body["access_token"]
        return token

    @property
    def bad_token_names(self) -> tuple[str, ...]:
        return tuple(BAD_TOKENS)

    def bad_token(
        self,
        fault: str,
        /,
        *,
        client_id: str | None = None,
        audience: str | Sequence[str] | None = None,
        scopes: str | Iterable[str] | None = None,
        **params: Any,
    ) -> str:
        """A token with exactly one fault (a ``BAD_TOKENS`` name such as ``expired``,
        ``wrong_audience``, ``unknown_kid``, ``alg_none``); ``params`` go to its builder."""
        if fault not in BAD_TOKENS:
            raise KeyError(f"unknown bad token {fault!r}; known: {', '.join(BAD_TOKENS)}")
        good = self.token(client_id, audience, scopes)
        return bad_token(self.tenant.tokens, _claims(good), fault, **params)

    # --- environment ---

    def env(self, client_id: str | None = None, audience: str | None = None) -> dict[str, str]:
        """The environment variables a Kinde SDK reads, pointing at this server; over HTTPS
        also those that make Python, requests and Node trust its CA, naming a bundle of the
        CAs this machine trusts and the server's."""
        app = self.get_app(client_id)
        values = {
            "KINDE_HOST": self.url,
            "KINDE_DOMAIN": self.url,
            "KINDE_ISSUER_URL": self.issuer,
            "KINDE_CLIENT_ID": app.client_id,
            "KINDE_CLIENT_SECRET": app.client_secret or "",
            "KINDE_AUDIENCE": audience or self.default_audience(app.client_id),
        }
        if self.ca_file is not None:
            # The bundle (this machine's CAs and ours) keeps other HTTPS in the process working.
            bundle = str(self.ca_file.with_name(BUNDLE))
            names = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
            values |= dict.fromkeys(names, bundle)
        return values

    def apply_env(
        self,
        monkeypatch: pytest.MonkeyPatch,
        client_id: str | None = None,
        audience: str | None = None,
    ) -> dict[str, str]:
        """Set :meth:`env` in ``os.environ`` through ``monkeypatch`` (undone after the test)."""
        values = self.env(client_id, audience)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        return values

    # --- validation ---

    def validator(self, audience: str | None = None, **options: Any) -> TokenValidator:
        """A TokenValidator for this issuer, fetching the server's JWKS. ``options`` go to
        TokenValidator (``leeway``, ``clock``, ...); ``refetch_interval`` defaults to 0 (None
        too) so every rotation is picked up at once, however close together: TokenValidator's
        own 30 s suits production, not a suite that rotates keys. Its clock is real time
        unless ``clock=mockauth.clock``.
        """
        if options.get("refetch_interval") is None:
            options["refetch_interval"] = 0.0
        if self.ca_file is not None:
            options.setdefault("ssl_context", self.ssl_context())
        return TokenValidator(
            issuer=self.issuer,
            audience=self._validator_audience(audience),
            jwks_url=self.jwks_url,
            **options,
        )

    def _validator_audience(self, audience: str | None) -> str:
        if audience is not None:
            return audience
        try:
            return self.default_audience()
        except LookupError as exc:
            raise LookupError(f"{exc}; or give the validator audience=...") from None


class MockAuthASGI(MockAuth):
    """:class:`MockAuth` for the in-process app: requests never touch a socket.

    ``client()`` is Starlette's TestClient (sync); ``async_client()`` an httpx
    ``AsyncClient`` on ``ASGITransport`` (httpx, else httpx2). A ``close`` or ``truncated``
    fault raises ``mockauth.http.middleware.ConnectionDropped`` in process, as there is no
    connection to close; avoid ``hang`` (it waits for its full timeout).
    """

    def __init__(self, app: Starlette) -> None:
        tenant = cast(Tenant, app.state.tenant)
        super().__init__(tenant, tenant.issuer)
        self.app = app

    def client(self, **options: Any) -> TestClient:
        """A Starlette TestClient on the app, its base URL the issuer."""
        # TestClient runs on httpx (or httpx2) too; without either, starlette's own
        # RuntimeError would not say what mockauth needs: ours, as for async_client().
        httpx_module()
        with warnings.catch_warnings():
            # Starlette prefers httpx2 and warns when it falls back to httpx: not our user's
            # problem, and fatal under filterwarnings = error.
            warnings.filterwarnings("ignore", message=r".*httpx.*starlette\.testclient")
            from starlette.testclient import TestClient

        options.setdefault("base_url", self.url)
        return TestClient(self.app, **options)

    def transport(self) -> Any:
        """An ``httpx.ASGITransport`` on the app, for a client you build yourself."""
        return httpx_module().ASGITransport(app=self.app)

    def async_client(self, **options: Any) -> Any:
        """An ``httpx.AsyncClient`` on the app (use ``async with``), base URL the issuer."""
        options.setdefault("base_url", self.url)
        return httpx_module().AsyncClient(transport=self.transport(), **options)

    def validator(self, audience: str | None = None, **options: Any) -> TokenValidator:
        """A TokenValidator reading the tenant's keys in process (no JWKS fetch), again
        for each unknown kid (``refetch_interval`` 0 unless given)."""
        return TokenValidator(
            issuer=self.issuer,
            audience=self._validator_audience(audience),
            jwks=self.tenant.keys,
            **options,
        )


def httpx_module() -> ModuleType:
    """httpx if installed, else httpx2 (same API); ImportError naming both otherwise."""
    for name in ("httpx", "httpx2"):
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # installed, but something it imports is missing
                raise
    raise ImportError("mockauth's in-process clients need httpx: pip install httpx (or httpx2)")


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims

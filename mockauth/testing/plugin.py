"""pytest plugin: a mock Kinde server for the test session, reset before every test.

Registered through the ``pytest11`` entry point, so installing mockauth is enough::

    def test_client_retries(mockauth):
        with mockauth.fault(endpoint="token", effect="error", status=503, times=1):
            assert my_client(mockauth.env()).fetch_token()
        assert len(mockauth.token_requests()) == 2

Fixtures, each overridable in a ``conftest.py``:

- ``mockauth_config`` (session): the ServerConfig both servers start from (the embedded
  default config); an override may return a ServerConfig, a TOML path, or None (the default);
- ``mockauth_tls`` (session): False; an override returning True makes ``mockauth_server``
  speak HTTPS with a certificate from a local CA (``mockauth.ca_file``; ``mockauth.env()``
  then points SSL_CERT_FILE, REQUESTS_CA_BUNDLE and NODE_EXTRA_CA_CERTS at it);
- ``mockauth_server`` (session): a real server (``ServerThread``) on a free 127.0.0.1 port,
  keys in a temporary dir, stopped at the end of the session;
- ``mockauth`` (function): a ``MockAuth`` helper bound to ``mockauth_server``;
- ``mockauth_asgi_app`` (session): the ASGI app of an in-process tenant, no socket;
- ``mockauth_asgi`` (function): a ``MockAuthASGI`` helper bound to that app.

The function fixtures reset the tenant (faults, clock, journal, runtime apps and APIs)
before the test, apply any ``@pytest.mark.mockauth(...)``, and reset it again afterwards.
Keys are never reset: a rotation lasts for the rest of the session, as on a real server.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from mockauth.errors import ConfigError
from mockauth.faults.rules import FaultRule
from mockauth.http.app import create_app
from mockauth.http.server import ServerThread
from mockauth.tenant.apis import Api
from mockauth.tenant.apps import App
from mockauth.tenant.config import ServerConfig, default_config, load_config
from mockauth.tenant.people import Org, User
from mockauth.tenant.tenant import Tenant
from mockauth.testing.helpers import MockAuth, MockAuthASGI

ConfigSource = ServerConfig | str | os.PathLike[str] | None
# The in-process tenant's issuer and base URL (RFC 2606 reserves .test; no request leaves).
IN_PROCESS_URL = "http://mockauth.test"
MARKER = "mockauth"
MARKER_KEYS = (
    "apis",
    "apps",
    "remove_apps",
    "orgs",
    "users",
    "faults",
    "clock_offset",
    "frozen_at",
)
MARKER_HELP = (
    "mockauth(apis=[...], apps=[...], remove_apps=[...], orgs=[...], users=[...], faults=[...], "
    "clock_offset=s, frozen_at=epoch): change the mockauth tenant for one test (undone after it)"
)


# The fixtures that apply the marker; a marked test must use one (directly or through
# another fixture), or its marker would change nothing.
MARKER_FIXTURES = ("mockauth", "mockauth_asgi")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> Iterator[Any]:
    """A ``mockauth`` marker on a test that uses neither fixture is a collection error naming
    the test (it would be silently ignored, even when invalid)."""
    made = yield
    items = made if isinstance(made, list) else [made]
    for item in items:
        if not isinstance(item, pytest.Function) or item.get_closest_marker(MARKER) is None:
            continue
        if not any(name in item.fixturenames for name in MARKER_FIXTURES):
            raise collector.CollectError(
                f"@pytest.mark.{MARKER} on {item.nodeid}: the test uses no mockauth fixture "
                f"({' or '.join(MARKER_FIXTURES)}), so the marker would change nothing"
            )
    return made


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mockauth_config() -> ConfigSource:
    """The config the servers start from: the embedded default config.

    Override it in a ``conftest.py`` (keep it session-scoped) to return a ServerConfig, a
    TOML path, or None (the default config too)::

        @pytest.fixture(scope="session")
        def mockauth_config():
            return Path(__file__).parent / "mockauth.toml"
    """
    return default_config()


@pytest.fixture(scope="session")
def mockauth_tls() -> bool:
    """Whether ``mockauth_server`` speaks HTTPS (False). Override it to return True for
    clients that insist on https://; they must trust ``mockauth.ca_file``."""
    return False


@pytest.fixture(scope="session")
def mockauth_server(
    mockauth_config: ConfigSource, mockauth_tls: bool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    """A real mockauth server on a free 127.0.0.1 port for the whole session."""
    keys_dir = tmp_path_factory.mktemp("mockauth-keys")
    config = resolve_config(mockauth_config)
    with ServerThread(config, keys_dir=keys_dir, tls=mockauth_tls) as server:
        yield server


@pytest.fixture
def mockauth(mockauth_server: ServerThread, request: pytest.FixtureRequest) -> Iterator[MockAuth]:
    """A :class:`MockAuth` helper on ``mockauth_server``, the tenant reset around the test."""
    helper = MockAuth(mockauth_server.tenant, mockauth_server.url, ca_file=mockauth_server.ca_file)
    with _fresh_tenant(helper.tenant, request.node):
        yield helper


@pytest.fixture(scope="session")
def mockauth_asgi_app(mockauth_config: ConfigSource) -> Starlette:
    """The ASGI app of an in-process tenant (keys in memory, no socket)."""
    return create_app(Tenant(resolve_config(mockauth_config), issuer=IN_PROCESS_URL))


@pytest.fixture
def mockauth_asgi(
    mockauth_asgi_app: Starlette, request: pytest.FixtureRequest
) -> Iterator[MockAuthASGI]:
    """A :class:`MockAuthASGI` helper on ``mockauth_asgi_app``, reset around the test."""
    helper = MockAuthASGI(mockauth_asgi_app)
    with _fresh_tenant(helper.tenant, request.node):
        yield helper


def resolve_config(source: ConfigSource) -> ServerConfig:
    """A ServerConfig from what ``mockauth_config`` returned."""
    if source is None:
        return default_config()
    if isinstance(source, ServerConfig):
        return source
    if isinstance(source, str | os.PathLike):
        return load_config(Path(source))
    raise TypeError(
        f"mockauth_config must return a ServerConfig, a path or None, not {type(source).__name__}"
    )


# --- the marker ----------------------------------------------------------------------------


@contextlib.contextmanager
def _fresh_tenant(tenant: Tenant, node: pytest.Item | pytest.Collector) -> Iterator[None]:
    tenant.reset()
    try:
        # Farthest first (module, class, function), so the test's own marker wins.
        for mark in reversed(list(node.iter_markers(MARKER))):
            try:
                apply_marker(tenant, mark)
            except (ConfigError, LookupError, TypeError, ValueError) as exc:
                pytest.fail(f"@pytest.mark.{MARKER} on {node.nodeid}: {exc}", pytrace=False)
        yield
    finally:
        tenant.reset()


def apply_marker(tenant: Tenant, mark: pytest.Mark) -> None:
    """Apply one ``@pytest.mark.mockauth(...)``: APIs, then apps, removals, orgs, users,
    faults, clock."""
    if mark.args:
        raise TypeError(f"takes keyword arguments only ({', '.join(MARKER_KEYS)})")
    kw = mark.kwargs
    unknown = sorted(set(kw) - set(MARKER_KEYS))
    if unknown:
        raise TypeError(f"unknown argument {unknown[0]!r} (allowed: {', '.join(MARKER_KEYS)})")
    source = f"@pytest.mark.{MARKER}"
    for api in _items(kw.get("apis")):
        tenant.put_api(api, source=f"{source}(apis=...)")
    for app in _items(kw.get("apps")):
        tenant.put_app(app, source=f"{source}(apps=...)")
    for client_id in _items(kw.get("remove_apps")):
        if tenant.app(client_id) is None:
            raise LookupError(f"remove_apps: no app has the client_id {client_id!r}")
        tenant.remove_app(client_id)
    for org in _items(kw.get("orgs")):
        tenant.put_org(org, source=f"{source}(orgs=...)")
    for user in _items(kw.get("users")):
        tenant.put_user(user, source=f"{source}(users=...)")
    tenant.faults.add(*_items(kw.get("faults")))
    if kw.get("clock_offset") is not None and kw.get("frozen_at") is not None:
        raise ValueError("give clock_offset or frozen_at, not both")
    if kw.get("clock_offset") is not None:
        tenant.clock.set_offset(float(kw["clock_offset"]))
    if kw.get("frozen_at") is not None:
        tenant.clock.freeze(float(kw["frozen_at"]))


def _items(value: object) -> list[Any]:
    """A marker value as a list: one item (a table, an App, a string) or a sequence of them."""
    if value is None:
        return []
    if isinstance(value, str | Mapping | App | Api | FaultRule | User | Org):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    raise TypeError(f"expected a list, not {value!r}")

"""Run the app under uvicorn: in the foreground for the CLI, in a thread for tests."""

from __future__ import annotations

import contextlib
import copy
import http.client
import ipaddress
import logging
import os
import secrets
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.types import ASGIApp

from mockauth import paths
from mockauth.http.app import create_app
from mockauth.http.connections import handshake_loop
from mockauth.http.fast import protocol_class
from mockauth.http.limits import HEAD_TIMEOUT, IDLE_TIMEOUT, MAX_HEADER_BYTES, HeaderLimit, Limits
from mockauth.http.net import DEFAULT_HOST, DEFAULT_PORT, base_url, is_loopback
from mockauth.http.tls import TlsFiles, ensure_tls
from mockauth.http.workers import Supervisor, worker_env
from mockauth.http.workers import worker_app as _worker_app  # noqa: F401  (its old name)
from mockauth.statedir import default_state_dir
from mockauth.tenant.config import ServerConfig, default_config, load_config
from mockauth.tenant.tenant import Tenant
from mockauth.tokens.keys import KeyStore

log = logging.getLogger("mockauth")


@dataclass(frozen=True, kw_only=True)
class ServeOptions:
    """What `mockauth serve` takes; every field has a MOCKAUTH_* environment variable."""

    config_path: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # The state dir: keys, seal key, store, TLS CA (default: the per-user one, statedir.py).
    keys_dir: str = field(default_factory=lambda: str(default_state_dir()))
    issuer: str | None = None
    workers: int = 1
    log_level: str = "warning"
    # Bearer secret for the admin API; generated when None and the host is not loopback.
    admin_secret: str | None = None
    # HTTPS with a certificate from the keys dir's local CA (tls.py).
    tls: bool = False
    # A page at the authorization endpoint to pick who signs in; None: as the config says.
    login_page: bool | None = None
    # Timeouts and the connection cap (README: Limits and timeouts).
    limits: Limits = field(default_factory=Limits)


def admin_secret_for(host: str, configured: str | None) -> str | None:
    """The admin API's bearer secret: the configured one, else a fresh one beyond loopback."""
    if configured is not None or is_loopback(host):
        return configured
    return secrets.token_urlsafe(32)


def certificate_for(keys_dir: str | Path, host: str, issuer: str | None) -> TlsFiles:
    """The TLS files for a server bound to ``host``: its certificate names that host, the
    issuer's, and, on a wildcard bind, this machine's name and outward addresses."""
    hosts = [host]
    if issuer:
        hosts.append(urlsplit(issuer).hostname or "")
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).is_unspecified:
            hosts += [socket.gethostname(), *outward_addresses()]
    return ensure_tls(keys_dir, [h for h in hosts if h])


def outward_addresses() -> list[str]:
    """The addresses this machine sends from by default (IPv4, IPv6), found without DNS or
    traffic: connecting a UDP socket only picks a route."""
    found = []
    for family, target in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect((target, 9))
                found.append(str(probe.getsockname()[0]))
        except OSError:
            continue  # no route of that family
    return found


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind and listen before the app exists, so port 0 resolves to the real port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _uvicorn_config(
    app: ASGIApp | str,
    *,
    log_level: str,
    limits: Limits,
    workers: int = 1,
    tls: TlsFiles | None = None,
) -> uvicorn.Config:
    # uvloop + httptools: the plain asyncio loop adds ~44 ms per request with workers (Nagle);
    # the protocol answers JWKS and token requests without ASGI (fast.py). With TLS, the
    # loop ends handshakes at the head timeout (connections.py).
    loop: Any = handshake_loop(limits.head_timeout) if tls else "auto"
    return uvicorn.Config(
        app,
        loop=loop,
        http=protocol_class(),
        ws="none",  # no WebSocket endpoints: an Upgrade request is answered as plain HTTP
        # Without httptools, let h11 read headers up to our limit so the answer is the same 431.
        h11_max_incomplete_event_size=MAX_HEADER_BYTES + 16 * 1024,
        lifespan="off",
        log_level=log_level,
        # At info, a line per request (the fast path stands down to let uvicorn write it).
        access_log=log_level in ("info", "debug"),
        log_config=_log_config(),
        server_header=False,
        proxy_headers=False,  # the issuer comes from config, never from forwarded headers
        workers=workers,
        factory=isinstance(app, str),
        timeout_graceful_shutdown=2,
        timeout_keep_alive=limits.idle_timeout,  # type: ignore[arg-type]  # a float works
        ssl_certfile=str(tls.cert) if tls else None,  # its key is in the same file
    )


class HideQuery(logging.Filter):
    """Access lines without query strings: a client may put its secret in one."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn's access call: (client, method, path with query, HTTP version, status).
        if isinstance(args, tuple) and len(args) == 5 and "?" in str(args[2]):
            record.args = (*args[:2], str(args[2]).split("?", 1)[0] + "?<query hidden>", *args[3:])
        return True


def _log_config() -> dict[str, Any]:
    # uvicorn's, with access lines on stderr beside the rest of its log (stdout carries only
    # the start-up block, which scripts read) and no query strings.
    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config.setdefault("filters", {})["hide_query"] = {"()": HideQuery}
    config["loggers"]["uvicorn.access"]["filters"] = ["hide_query"]
    return config


def wait_until_serving(
    url: str, timeout: float = 30.0, *, ca_file: Path | None = None
) -> str | None:
    """Poll the health endpoint until the server answers (None) or the timeout passes (why
    it did not answer); an https ``url`` is checked against the CA certificate ``ca_file``."""
    parts = urlsplit(url)
    context = ssl.create_default_context(cafile=ca_file) if parts.scheme == "https" else None
    deadline = time.monotonic() + timeout
    problem = "no answer"
    while time.monotonic() < deadline:
        conn = (
            http.client.HTTPSConnection(parts.netloc, timeout=2, context=context)
            if context
            else http.client.HTTPConnection(parts.netloc, timeout=2)
        )
        try:
            conn.request("GET", paths.HEALTH)
            status = conn.getresponse().status
            if status == 200:
                return None
            problem = f"HTTP {status}"
        except OSError as exc:
            problem = str(exc) or type(exc).__name__
        finally:
            conn.close()
        time.sleep(0.02)
    return problem


def serve(options: ServeOptions, *, on_ready: Callable[[Tenant, str], None]) -> None:
    """Run in the foreground until interrupted; call on_ready once requests are accepted."""
    config = load_config(options.config_path) if options.config_path else default_config()
    if options.issuer:  # the flag wins over the file
        config = replace(config, issuer=options.issuer)
    if options.login_page is not None:  # the flag wins over the file, either way
        config = replace(config, login_page=options.login_page)
    # First: a host no certificate can name is refused before anything is written.
    tls = certificate_for(options.keys_dir, options.host, config.issuer) if options.tls else None
    keys = KeyStore(options.keys_dir)  # creates the key once, under the dir lock
    sock = bind_socket(options.host, options.port)
    url = base_url(options.host, sock.getsockname()[1], tls=options.tls)
    tenant = Tenant(
        config,
        issuer=url,
        keys=keys,
        workers=options.workers,
        admin_secret=admin_secret_for(options.host, options.admin_secret),
    )

    def announce() -> None:
        problem = wait_until_serving(url, ca_file=tls.ca_cert if tls else None)
        if problem is None:
            on_ready(tenant, url)
        else:  # else a script waiting for the start-up block waits in silence
            log.error("mockauth: %s%s did not answer as it should: %s", url, paths.HEALTH, problem)

    threading.Thread(target=announce, daemon=True).start()
    try:
        _run(options, tenant, sock, tls)
    finally:
        tenant.close()  # its tenant data goes; spent ids stay in the state dir


def _run(options: ServeOptions, tenant: Tenant, sock: socket.socket, tls: TlsFiles | None) -> None:
    if options.workers > 1:
        keys_dir = Path(options.keys_dir).resolve()
        os.environ.update(worker_env(tenant, keys_dir, options.workers, options.limits))
        uv = _uvicorn_config(
            "mockauth.http.workers:worker_app",
            log_level=options.log_level,
            limits=options.limits,
            workers=options.workers,
            tls=tls,
        )
        Supervisor(uv, sockets=[sock]).run()
    else:
        app = HeaderLimit(create_app(tenant), options.limits)
        # uvicorn re-raises SIGINT after its graceful shutdown; Ctrl-C is how serve ends, not
        # an abort (click would print "Aborted!" and exit 1).
        with contextlib.suppress(KeyboardInterrupt):
            uv = _uvicorn_config(app, log_level=options.log_level, limits=options.limits, tls=tls)
            uvicorn.Server(uv).run(sockets=[sock])


class ServerThread:
    """A real uvicorn server in a background thread, on a free port by default.

    >>> with ServerThread(config) as server:
    ...     httpx.post(server.url + "/oauth2/token", data=...)

    ``tls=True`` serves HTTPS with a certificate from the keys dir's local CA (a temporary
    one without a keys dir); clients trust ``ca_file``. ``head_timeout``, ``idle_timeout``
    and ``max_connections`` are those of `mockauth serve` (README: Limits and timeouts;
    ``max_connections=None``: its default).
    """

    def __init__(
        self,
        config: ServerConfig | None = None,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        keys: KeyStore | None = None,
        keys_dir: str | Path | None = None,
        issuer: str | None = None,
        admin_secret: str | None = None,
        tls: bool = False,
        head_timeout: float = HEAD_TIMEOUT,
        idle_timeout: float = IDLE_TIMEOUT,
        max_connections: int | None = None,
    ) -> None:
        cap = {} if max_connections is None else {"max_connections": max_connections}
        self.limits = Limits(head_timeout=head_timeout, idle_timeout=idle_timeout, **cap)
        self.tls: TlsFiles | None = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        if tls:
            where = keys_dir or (keys.keys_dir if keys is not None else None)
            if where is None:
                self._scratch = tempfile.TemporaryDirectory(prefix="mockauth-tls-")
                where = self._scratch.name
            try:
                self.tls = certificate_for(where, host, issuer)
            except BaseException:
                self._cleanup()
                raise
        try:
            self._sock = bind_socket(host, port)
        except BaseException:
            self._cleanup()
            raise
        self.url = base_url(host, self._sock.getsockname()[1], tls=tls)
        try:
            self.tenant = Tenant(
                config or default_config(),
                issuer=issuer or self.url,
                keys=keys,
                keys_dir=keys_dir,
                admin_secret=admin_secret_for(host, admin_secret),
            )
        except BaseException:
            self._sock.close()  # a bad issuer or keys dir must not leak the bound socket
            self._cleanup()
            raise
        self.app = create_app(self.tenant)
        uv = _uvicorn_config(
            HeaderLimit(self.app, self.limits),
            log_level="warning",
            limits=self.limits,
            tls=self.tls,
        )
        self._server = uvicorn.Server(uv)
        self._thread = threading.Thread(target=self._run, name="mockauth-server", daemon=True)

    @property
    def issuer(self) -> str:
        return self.tenant.issuer

    @property
    def ca_file(self) -> Path | None:
        """The CA certificate an HTTPS server's clients must trust; None over HTTP."""
        return self.tls.ca_cert if self.tls else None

    def _run(self) -> None:
        self._server.run(sockets=[self._sock])

    def start(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()  # __exit__ will not run: release the thread and the socket here
                raise RuntimeError("mockauth server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        with contextlib.suppress(OSError):
            self._sock.close()
        self.tenant.close()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

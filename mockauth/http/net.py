"""Small network helpers shared by the server, the admin client and the JWKS fetcher: where
a server is (its default address, its URL, the one the environment names) and loopback."""

from __future__ import annotations

import ipaddress
import os
import urllib.request
from typing import Any
from urllib.parse import urlsplit

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8400


def is_loopback(host: str | None) -> bool:
    """True when only this machine can be ``host``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is an error (urllib raises HTTPError): answers come from the URL we were given,
    never from another host or scheme, and credentials are never sent on to one."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def opener_for(url: str, *handlers: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
    """An opener that follows no redirects and, for a loopback URL, uses no proxy (a proxy
    cannot reach this machine's loopback)."""
    chosen = [*handlers, NoRedirects()]
    if is_loopback(urlsplit(url).hostname):
        chosen.append(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener(*chosen)


def base_url(host: str, port: int, *, tls: bool = False) -> str:
    """The server's own URL; wildcard binds are reached through loopback."""
    scheme = "https" if tls else "http"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return f"{scheme}://{host}:{port}"
    if addr.is_unspecified:
        addr = ipaddress.ip_address("::1" if addr.version == 6 else "127.0.0.1")
    shown = f"[{addr}]" if addr.version == 6 else str(addr)
    return f"{scheme}://{shown}:{port}"


_TRUE = ("1", "true", "t", "yes", "y", "on")
_FALSE = ("", "0", "false", "f", "no", "n", "off")


def url_from_env() -> str:
    """The URL `mockauth serve` has in this environment: MOCKAUTH_HOST, MOCKAUTH_PORT and
    MOCKAUTH_TLS, else the defaults. ValueError, naming the variable, for a MOCKAUTH_PORT that
    is no port (or 0) and a MOCKAUTH_TLS that is not a boolean."""
    host = os.environ.get("MOCKAUTH_HOST", "").strip() or DEFAULT_HOST
    port = os.environ.get("MOCKAUTH_PORT", "").strip()
    number = int(port) if port.isdigit() and len(port) < 6 else -1
    if port and not 0 < number < 65536:
        where = "any free port: it does not say which" if number == 0 else "not a port number"
        raise ValueError(f"MOCKAUTH_PORT = {port!r} is {where}; pass --url or set MOCKAUTH_URL")
    number = number if port else DEFAULT_PORT
    flag = os.environ.get("MOCKAUTH_TLS", "")
    if flag.strip().lower() not in _TRUE + _FALSE:
        raise ValueError(
            f"MOCKAUTH_TLS = {flag!r} is not a boolean (1/0, true/false, yes/no, on/off)"
        )
    return base_url(host, number, tls=flag.strip().lower() in _TRUE)

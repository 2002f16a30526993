"""Small network helpers shared by the server, the admin client and the JWKS fetcher."""

from __future__ import annotations

import ipaddress
import urllib.request
from typing import Any
from urllib.parse import urlsplit


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

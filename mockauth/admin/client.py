"""A small client for a running server's admin API (stdlib urllib only); the CLI uses it.

>>> admin = AdminClient("http://127.0.0.1:8400")
>>> admin.add_faults({"endpoint": "token", "effect": "error", "status": 503, "times": 1})
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from mockauth import paths
from mockauth.errors import MockAuthError
from mockauth.http.net import DEFAULT_HOST, DEFAULT_PORT, base_url, opener_for

DEFAULT_URL = base_url(DEFAULT_HOST, DEFAULT_PORT)
DEFAULT_TIMEOUT = 30.0


class AdminClientError(MockAuthError):
    """The admin API could not be used; the root of the client's errors."""


class AdminUnreachableError(AdminClientError):
    """No HTTP answer at all: refused, unknown host, timed out, or not an admin API answer."""

    def __init__(self, url: str, reason: str, *, message: str | None = None) -> None:
        super().__init__(message or f"cannot reach the mockauth server at {url}: {reason}")
        self.url = url
        self.reason = reason


class NotMockAuthError(AdminUnreachableError):
    """An HTTP answer, but not from a mockauth admin API: its body is not JSON (an HTML 404
    from another server, a proxy's error page), whatever its status. ``status``: that status."""

    def __init__(self, url: str, status: int) -> None:
        message = f"the answer from {url} is not JSON (is this a mockauth server?)"
        super().__init__(url, f"HTTP {status}, not JSON", message=message)
        self.status = status


class AdminResponseError(AdminClientError):
    """The server answered with an error status; ``error`` and ``description`` from its body."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{description} [HTTP {status} {error}]")
        self.status = status
        self.error = error
        self.description = description


class AdminClient:
    """Calls the admin API under ``<url>/_mockauth/``; answers are the server's JSON."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        secret: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        context: ssl.SSLContext | None = None,
    ) -> None:
        """``context``: the TLS context for an https ``url`` (default: Python's, which
        SSL_CERT_FILE sets)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL")
        self.url = url.rstrip("/")
        self.secret = secret
        self.timeout = timeout
        # No redirects: the admin secret must never be sent on to another host.
        handlers = [urllib.request.HTTPSHandler(context=context)] if context else []
        self._opener = opener_for(url, *handlers)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        query: Mapping[str, object] | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON answer or raise an AdminClientError."""
        target = self.url + path
        wanted = {k: str(v) for k, v in (query or {}).items() if v is not None}
        if wanted:
            target += "?" + urlencode(wanted)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.secret:
            headers["Authorization"] = f"Bearer {self.secret}"
        req = urllib.request.Request(target, data=data, headers=headers, method=method)
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                return self._decode(resp.status, resp.read())
        except urllib.error.HTTPError as exc:
            with exc:
                raise self._refusal(exc.code, exc.read()) from None
        except TimeoutError:
            raise AdminUnreachableError(self.url, f"no answer within {self.timeout:g} s") from None
        except urllib.error.URLError as exc:
            raise AdminUnreachableError(self.url, _reason(exc.reason)) from None
        except (OSError, ValueError) as exc:  # reset mid-answer, malformed status line, ...
            raise AdminUnreachableError(self.url, _reason(exc)) from None

    def _decode(self, status: int, raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except ValueError:
            raise NotMockAuthError(self.url, status) from None

    def _refusal(self, status: int, raw: bytes) -> AdminClientError:
        # Every answer of the admin API is JSON, errors included: a page that is not is from
        # something else at that URL, and its status (an HTML 404) says nothing of ours.
        try:
            doc = json.loads(raw)
        except ValueError:
            return NotMockAuthError(self.url, status)
        if not isinstance(doc, dict) or not isinstance(doc.get("error"), str):
            text = raw.decode("utf-8", "replace").strip()[:200]
            return AdminResponseError(status, "http_error", text or f"HTTP {status}")
        description = doc.get("error_description")
        return AdminResponseError(status, doc["error"], str(description or doc["error"]))

    # --- one method per admin operation ---

    def health(self) -> dict[str, Any]:
        return dict(self.request("GET", paths.HEALTH))

    def faults(self) -> list[dict[str, Any]]:
        return list(self.request("GET", paths.ADMIN_FAULTS)["faults"])

    def add_faults(self, rules: object) -> list[dict[str, Any]]:
        """One rule (a mapping) or a list of rules: the server adds all of them or none."""
        return list(self.request("POST", paths.ADMIN_FAULTS, body=rules)["faults"])

    def delete_fault(self, rule_id: str) -> dict[str, Any]:
        path = f"{paths.ADMIN_FAULTS}/{quote(rule_id, safe='')}"
        return dict(self.request("DELETE", path)["deleted"])

    def clear_faults(self) -> int:
        return int(self.request("DELETE", paths.ADMIN_FAULTS)["deleted"])

    def keys(self) -> dict[str, Any]:
        return dict(self.request("GET", paths.ADMIN_KEYS))

    def rotate_keys(self, *, overlap: float | None = None) -> dict[str, Any]:
        body = {} if overlap is None else {"overlap": overlap}
        return dict(self.request("POST", paths.ADMIN_KEYS + "/rotate", body=body))

    def retire_keys(self, kid: str | None = None) -> dict[str, Any]:
        """Retire one key, or (``kid=None``) every published key but the active one."""
        body = {} if kid is None else {"kid": kid}
        return dict(self.request("POST", paths.ADMIN_KEYS + "/retire", body=body))

    def clock(self) -> dict[str, Any]:
        return dict(self.request("GET", paths.ADMIN_CLOCK))

    def set_clock(self, **change: object) -> dict[str, Any]:
        """Exactly one of offset=, advance=, frozen_at=, freeze=True (seconds)."""
        return dict(self.request("PUT", paths.ADMIN_CLOCK, body=change))

    def reset_clock(self) -> dict[str, Any]:
        return dict(self.request("DELETE", paths.ADMIN_CLOCK))

    def journal(self, **filters: object) -> list[dict[str, Any]]:
        """Filters: path, client_id, status, fault, since, limit (None: not filtered)."""
        return list(self.request("GET", paths.ADMIN_JOURNAL, query=filters)["entries"])

    def clear_journal(self) -> int:
        return int(self.request("DELETE", paths.ADMIN_JOURNAL)["deleted"])

    def reset(self) -> None:
        self.request("POST", paths.ADMIN_RESET)

    def apps(self) -> list[dict[str, Any]]:
        """The tenant's apps as config tables, secrets included."""
        return list(self.request("GET", paths.ADMIN_APPS)["apps"])

    # --- the server's public documents (no admin secret needed) ---

    def discovery(self) -> dict[str, Any]:
        return dict(self.request("GET", paths.DISCOVERY))

    def jwks(self) -> dict[str, Any]:
        return dict(self.request("GET", paths.JWKS))


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__

"""The authorization request, checked: its parameters, PKCE, and where it may redirect.

What the authorization endpoint and the code grant check before anyone signs in; no state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import urlencode, urlsplit, urlunsplit

from mockauth.errors import (
    InvalidGrantError,
    InvalidRequestError,
    UnauthorizedClientError,
    UnsupportedResponseTypeError,
    shown,
)
from mockauth.tenant.config import App

OIDC_SCOPES = ("openid", "profile", "email", "offline", "address", "phone")
RESPONSE_MODES = ("query", "fragment", "form_post")
MAX_NONCE = 1024  # it is sealed into the code, and codes have a size limit
_VERIFIER_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}\Z")


@dataclass(frozen=True)
class Redirect:
    """Where the authorization endpoint sends the browser, and how."""

    uri: str
    params: dict[str, str]
    mode: str = "query"

    def location(self) -> str:
        """The redirect URL for the query and fragment modes."""
        parts = urlsplit(self.uri)
        encoded = urlencode(self.params)
        if self.mode == "fragment":
            return urlunsplit(parts._replace(fragment=encoded))
        query = f"{parts.query}&{encoded}" if parts.query else encoded
        return urlunsplit(parts._replace(query=query))

    def form_post_page(self) -> str:
        """The auto-submitting page of ``response_mode=form_post`` (OAuth 2.0 Form Post)."""
        fields = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
            for k, v in self.params.items()
        )
        return (
            "<!doctype html><html><head><title>Signing in</title></head>"
            '<body onload="document.forms[0].submit()">'
            f'<form method="post" action="{escape(self.uri)}">{fields}'
            "<noscript><button>Continue</button></noscript></form></body></html>"
        )


def repeated_names(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """The parameters sent more than once, in order (RFC 6749 3.1: none may be)."""
    seen: set[str] = set()
    repeated: list[str] = []
    for name, _ in pairs:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


def checked(
    app: App, params: Mapping[str, str]
) -> tuple[str | None, str | None, list[str], list[str]]:
    """An authorization request's code challenge, nonce, audiences and granted scopes, or
    the OAuthError to redirect with; who signs in is decided after."""
    if params.get("response_type") != "code":
        raise UnsupportedResponseTypeError()
    challenge = _challenge(app, params)
    nonce = params.get("nonce")
    if nonce is not None and len(nonce) > MAX_NONCE:
        raise InvalidRequestError(f"The nonce must be at most {MAX_NONCE} characters.")
    audiences = list(dict.fromkeys(params.get("audience", "").split()))
    for audience in audiences:
        if audience not in app.apis:
            raise UnauthorizedClientError(
                f"The client is not authorized for the audience {shown(audience)!r}."
            )
    # Scopes Kinde does not know (offline_access, say) are dropped, not refused.
    scopes = [s for s in dict.fromkeys(params.get("scope", "").split()) if s in OIDC_SCOPES]
    return challenge, nonce, audiences, scopes


def _challenge(app: App, params: Mapping[str, str]) -> str | None:
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is None:
        if app.client_secret is None:
            raise InvalidRequestError(
                "Public clients (spa apps) must use PKCE: send code_challenge with "
                "code_challenge_method=S256."
            )
        if method is not None:
            raise InvalidRequestError("code_challenge_method was sent without code_challenge.")
        return None
    if method != "S256":
        raise InvalidRequestError("The code_challenge_method must be S256.")
    if not re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge):
        raise InvalidRequestError(
            "The code_challenge must be the 43-character base64url SHA-256 of the verifier."
        )
    return challenge


def check_verifier(challenge: str | None, verifier: str | None) -> None:
    if challenge is None:
        if verifier is not None:
            raise InvalidGrantError(
                "A code_verifier was sent, but the authorization request had no code_challenge."
            )
        return
    if verifier is None:
        raise InvalidGrantError(
            "The code_verifier is missing: the authorization request used PKCE."
        )
    if not _VERIFIER_RE.match(verifier):
        raise InvalidGrantError("The code_verifier must be 43 to 128 unreserved characters.")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    if not hmac.compare_digest(expected, challenge):
        raise InvalidGrantError("The code_verifier does not match the code_challenge.")


def same_redirect_uri(given: str, registered: str) -> bool:
    """RFC 6749 exact matching, except that an http(s) origin with an empty path equals the
    same with ``/`` (RFC 3986 6.2.3): WHATWG URL parsers add the slash (openid-client 6)."""
    if given == registered:
        return True
    short, long = sorted((given, registered), key=len)
    scheme, _, rest = short.partition("://")
    bare_origin = scheme in ("http", "https") and not any(c in rest for c in "/?#")
    return bare_origin and long == short + "/"

"""TokenFactory: the one place Kinde-shaped claims are assembled and signed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mockauth.config import App
from mockauth.keys import KeyStore, b64url


def encode_segment(obj: Mapping[str, Any]) -> str:
    """One compact JWS segment: JSON without spaces, base64url without padding."""
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


class TokenFactory:
    """Builds and signs tokens for one issuer with the store's active key."""

    def __init__(self, *, issuer: str, keys: KeyStore, clock: Callable[[], int]) -> None:
        self.issuer = issuer
        self.keys = keys
        self.clock = clock
        self._headers: dict[str, str] = {}

    def m2m_claims(
        self, app: App, audiences: Sequence[str], scopes: Sequence[str], *, lifetime: int
    ) -> dict[str, Any]:
        """Claims of a Kinde v2 M2M access token (client credentials), keys in Kinde's order."""
        iat = self.clock()
        claims: dict[str, Any] = {
            "aud": list(audiences),
            "azp": app.client_id,
            "exp": iat + lifetime,
            "gty": ["client_credentials"],
            "iat": iat,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
        }
        if app.org_code:
            claims["org_code"] = app.org_code
        claims["scope"] = " ".join(scopes)
        claims["scp"] = list(scopes)
        claims["v"] = "2"
        for name, value in app.claims.items():
            claims[name] = value
        return claims

    def sign(self, claims: Mapping[str, Any], *, header: Mapping[str, Any] | None = None) -> str:
        """Sign claims with the active key: header alg RS256, kid, typ JWT.

        ``header`` replaces the standard header (bad-token builders use it to drop the kid).
        """
        kid = self.keys.active_kid
        if header is not None:
            encoded = encode_segment(header)
        else:
            cached = self._headers.get(kid)
            if cached is None:
                cached = encode_segment({"alg": "RS256", "kid": kid, "typ": "JWT"})
                self._headers = {kid: cached}
            encoded = cached
        signing_input = f"{encoded}.{encode_segment(claims)}"
        signed_kid, signature = self.keys.sign(signing_input.encode("ascii"))
        if signed_kid != kid:  # rotated between reading the kid and signing
            return self.sign(claims, header=header)
        return f"{signing_input}.{b64url(signature)}"

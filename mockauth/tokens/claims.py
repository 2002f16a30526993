"""TokenFactory: the one place Kinde-shaped claims are assembled and signed."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mockauth.tenant import access
from mockauth.tenant.apps import App
from mockauth.tenant.catalog import Catalog
from mockauth.tenant.people import Org, User
from mockauth.tokens.encoding import b64url, encode_segment
from mockauth.tokens.keys import KeyStore

# The jti this server puts in tokens: a uuid4. Anything else did not come from us.
JTI_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")


class TokenFactory:
    """Builds and signs tokens for one issuer with the store's active key."""

    def __init__(self, *, issuer: str, keys: KeyStore, clock: Callable[[], int]) -> None:
        self.issuer = issuer
        self.keys = keys
        self.clock = clock
        self._headers: dict[str, str] = {}

    def m2m_claims(
        self,
        app: App,
        audiences: Sequence[str],
        scopes: Sequence[str],
        *,
        lifetime: int,
        catalog: Catalog | None = None,
        org: Org | None = None,
    ) -> dict[str, Any]:
        """Claims of a Kinde v2 M2M access token (client credentials), keys in Kinde's order.

        ``catalog`` and ``org`` (the app's organisation): for the feature flags an app that
        opts in (``include_claims``) carries."""
        iat = self.clock()
        claims: dict[str, Any] = {"aud": list(audiences)}
        if "application_properties" in app.include_claims:
            claims["application_properties"] = access.property_claims(app.properties)
        claims |= {
            "azp": app.client_id,
            "exp": iat + lifetime,
        }
        if "feature_flags" in app.include_claims:
            claims["feature_flags"] = access.flag_claims(catalog or Catalog(), org, None)
        claims |= {
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

    def user_access_claims(
        self,
        app: App,
        user: User,
        *,
        org: Org | None,
        audiences: Sequence[str],
        scopes: Sequence[str],
        lifetime: int,
        iat: int | None = None,
        jti: str | None = None,
        catalog: Catalog | None = None,
    ) -> dict[str, Any]:
        """Claims of a Kinde user access token (authorization code or refresh).

        ``catalog``: the tenant's roles, permissions and flags, which the token reflects as
        they are now (flags resolve environment, then ``org``, then ``user``).

        ``iat`` and ``jti`` rebuild a token already issued: the signature is deterministic,
        so the same claims and key give the same token, as Kinde's refresh returns it.
        """
        iat = self.clock() if iat is None else iat
        catalog = catalog or Catalog()
        org_code = org.code if org is not None else None
        claims: dict[str, Any] = {
            "aud": list(audiences),
            "azp": app.client_id,
            "exp": iat + lifetime,
            "feature_flags": access.flag_claims(catalog, org, user),
            "iat": iat,
            "iss": self.issuer,
            "jti": jti or str(uuid.uuid4()),
        }
        if org is not None:
            claims["org_code"] = org.code
            if org.name:
                claims["org_name"] = org.name
            if "organization_properties" in app.include_claims:
                claims["organization_properties"] = access.property_claims(org.properties)
        claims["permissions"] = access.permission_keys(catalog, user, org_code)
        roles = access.roles(catalog, user, org_code)
        if roles:
            claims["roles"] = roles
        claims["scp"] = list(scopes)
        claims["sub"] = user.id
        if "user_properties" in app.include_claims:
            claims["user_properties"] = access.property_claims(user.properties)
        for name, value in user.claims.items():
            claims[name] = value
        return claims

    def id_claims(
        self,
        app: App,
        user: User,
        *,
        access_token: str,
        auth_time: int,
        nonce: str | None,
        lifetime: int,
        updated_at: int,
        orgs: Sequence[Org] = (),
    ) -> dict[str, Any]:
        """Claims of a Kinde ID token, with ``at_hash`` binding it to its access token;
        ``orgs``: the user's organisations, for an app that opts in to ``organizations``."""
        iat = self.clock()
        digest = hashlib.sha256(access_token.encode("ascii")).digest()
        claims: dict[str, Any] = {
            "at_hash": b64url(digest[:16]),
            "aud": [self.issuer, app.client_id],
            "auth_time": auth_time,
            "azp": app.client_id,
            "email": user.email,
            "email_verified": user.email_verified,
            "exp": iat + lifetime,
            "family_name": user.family_name,
            "given_name": user.given_name,
            "iat": iat,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "name": user.name,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        claims["org_codes"] = list(user.orgs)
        if "organizations" in app.include_claims:
            claims["organizations"] = [{"id": o.code, "name": o.name} for o in orgs]
        claims["picture"] = user.picture
        if user.username is not None:
            claims["preferred_username"] = user.username
        claims["sub"] = user.id
        claims["updated_at"] = updated_at
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

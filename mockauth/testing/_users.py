"""The composite strategies for users' access tokens (the authorization code flow's).

Private: use ``user_tokens`` and ``missing_permission_tokens`` of ``mockauth.testing.strategies``.
"""

from __future__ import annotations

import string
from types import MappingProxyType

from hypothesis import strategies as st

from mockauth.errors import InsufficientPermissionError
from mockauth.oauth.authorize import OIDC_SCOPES
from mockauth.tenant.apps import App
from mockauth.tenant.people import Org, User
from mockauth.testing._cases import Target, TokenCase
from mockauth.testing._draws import (
    _AUDIENCES,
    _ORG_HEX,
    Claims,
    _factory,
    _lifetime_and_age,
    _now,
    _subsets,
)
from mockauth.tokens.claims import TokenFactory

_HEX32 = st.integers(0, 16**32 - 1).map("{:032x}".format)
_NAMES = st.text(string.ascii_letters, max_size=12)


@st.composite
def _users(draw: st.DrawFn, permissions: list[str]) -> User:
    user_id = draw(_HEX32)
    return User(
        id=f"kp_{user_id}",
        email=f"user-{user_id[:8]}@example.com",
        given_name=draw(_NAMES),
        family_name=draw(_NAMES),
        permissions=tuple(permissions),
    )


@st.composite
def _user_claims(draw: st.DrawFn, target: Target, now: int) -> Claims:
    """Claims of a user's access token the target accepts at ``now``."""
    extra = [p for p in target.permissions if p not in target.required_permissions]
    permissions = [*target.required_permissions, *draw(_subsets(extra))]
    user = draw(_users(draw(st.permutations(permissions))))
    app = App(name="generated", type="spa", client_id=draw(_HEX32))
    org = draw(_ORG_HEX)
    others = [
        a for a in draw(st.lists(_AUDIENCES, max_size=2, unique=True)) if a != target.audience
    ]
    lifetime, age = draw(_lifetime_and_age(target))
    factory = TokenFactory(issuer=target.issuer, keys=target.keys, clock=lambda: now - age)
    claims = factory.user_access_claims(
        app,
        user,
        org=None if org is None else Org(code=f"org_{org}"),
        audiences=draw(st.permutations([target.audience, *draw(_subsets(others))])),
        scopes=draw(_subsets(list(OIDC_SCOPES))),
        lifetime=lifetime,
    )
    claims["jti"] = str(draw(st.uuids(version=4)))
    return claims


@st.composite
def valid_user_tokens(draw: st.DrawFn, target: Target) -> TokenCase:
    now = _now(target)
    claims = draw(_user_claims(target, now))
    return TokenCase(token=_factory(target, now).sign(claims), target=target, claims=claims)


@st.composite
def missing_permission_tokens(draw: st.DrawFn, target: Target) -> TokenCase:
    required = target.required_permissions
    now = _now(target)
    claims = draw(_user_claims(target, now))
    drop = tuple(draw(st.lists(st.sampled_from(required), min_size=1, unique=True)))
    token = _factory(target, now).sign(
        {**claims, "permissions": [p for p in claims["permissions"] if p not in drop]}
    )
    granted = tuple(p for p in claims["permissions"] if p not in drop)
    return TokenCase(
        token=token,
        target=target,
        claims=claims,
        fault="missing_permissions",
        error=InsufficientPermissionError,
        error_attributes=MappingProxyType(
            {
                "required": required,
                "granted": granted,
                "missing": tuple(p for p in required if p in drop),
            }
        ),
        detail=MappingProxyType({"drop": drop}),
    )

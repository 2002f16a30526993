"""Hypothesis strategies for valid and faulty Kinde access tokens, to fuzz your own API.

Describe what your API accepts as a ``Target``, then draw ``TokenCase`` objects: each holds a
token, the fault it carries (``None`` for a valid one), the error a correct validator must
raise and the attributes that error must carry, and the HTTP status a correct API answers::

    from hypothesis import given
    from mockauth.testing.strategies import Target, bad_tokens, m2m_tokens

    target = Target.for_tenant(server.tenant, audience="https://api.example.com",
                               required_scopes=("read:calendar",))

    @given(case=m2m_tokens(target) | bad_tokens(target))
    def test_my_api(case):
        answer = client.get("/events", headers={"Authorization": f"Bearer {case.token}"})
        assert answer.status_code == case.http_status, case.fault

With ``Target(now=None)`` tokens are built against the real clock, with margins of a minute,
so use them promptly. With a fixed ``now`` they are exact to the second: give the validator
under test the same clock (``target.validator()`` does).

Every fault family of ``mockauth.faults.badtokens.BAD_TOKENS`` has a strategy here (``FAULTS``),
and ``bad_tokens(target)`` draws from all of them. For endpoints users call, give the
target ``required_permissions`` and draw ``user_tokens`` and ``missing_permission_tokens``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hypothesis import strategies as st

from mockauth.testing._cases import Target as Target
from mockauth.testing._cases import TokenCase as TokenCase
from mockauth.testing._draws import _AUDIENCES, _FAULTS, _ISSUERS, _SCOPES, _subsets, _valid
from mockauth.testing._draws import REAL_CLOCK_MARGIN as REAL_CLOCK_MARGIN
from mockauth.testing._draws import TEN_YEARS as TEN_YEARS
from mockauth.testing._draws import Claims as Claims
from mockauth.testing._users import missing_permission_tokens as _missing_permission_tokens
from mockauth.testing._users import valid_user_tokens
from mockauth.tokens.keys import KeyStore


def issuers() -> st.SearchStrategy[str]:
    """Issuer URLs: Kinde business domains, custom domains and local servers (no '/' at end)."""
    return _ISSUERS


def audiences() -> st.SearchStrategy[str]:
    """API audiences: URLs mostly, sometimes arbitrary identifiers without whitespace."""
    return _AUDIENCES


def scopes() -> st.SearchStrategy[str]:
    """RFC 6749 scope tokens, Kinde-style (``read:calendar``) or arbitrary."""
    return _SCOPES


@st.composite
def targets(draw: st.DrawFn, keys: KeyStore | Sequence[KeyStore]) -> Target:
    """Generated validator settings: issuer, audience, scopes, required subset, leeway and a
    fixed clock, signed with ``keys`` (or one of them). Key generation is slow, so keys are
    given, not drawn."""
    pool = [keys] if isinstance(keys, KeyStore) else list(keys)
    defined = draw(st.lists(scopes(), max_size=6, unique=True))
    required = draw(_subsets(defined))
    return Target(
        issuer=draw(issuers()),
        audience=draw(audiences()),
        keys=draw(st.sampled_from(pool)),
        scopes=tuple(defined),
        required_scopes=tuple(required),
        leeway=draw(st.sampled_from([0, 0, 1, 30, 60, 300])),
        now=draw(st.integers(1_000_000_000, 4_000_000_000)),
    )


def m2m_tokens(target: Target) -> st.SearchStrategy[TokenCase]:
    """Valid Kinde v2 M2M access tokens the target accepts (fault and error are None)."""
    return _valid(target)


def user_tokens(target: Target) -> st.SearchStrategy[TokenCase]:
    """Valid Kinde users' access tokens the target accepts: ``sub``, ``permissions``
    holding the target's ``required_permissions``, OIDC scopes in ``scp``. The target must
    require no scopes (users' tokens carry none of an API's)."""
    if target.required_scopes:
        raise ValueError(
            "users' tokens carry permissions, not API scopes: use a Target with "
            "required_permissions and no required_scopes"
        )
    return valid_user_tokens(target)


def missing_permission_tokens(target: Target) -> st.SearchStrategy[TokenCase]:
    """Users' tokens lacking one or more required permissions
    -> InsufficientPermissionError(.missing); the API answers 403."""
    user_tokens(target)  # the same checks
    if not target.required_permissions:
        raise ValueError("missing_permissions needs a target with required_permissions")
    return _missing_permission_tokens(target)


FAULTS: tuple[str, ...] = tuple(_FAULTS)


def bad_tokens(target: Target, faults: Iterable[str] | None = None) -> st.SearchStrategy[TokenCase]:
    """Faulty tokens, one fault each, from ``faults`` (default: every family that applies;
    ``missing_scopes`` needs required scopes)."""
    names = list(faults) if faults is not None else list(_applicable(target))
    unknown = [n for n in names if n not in _FAULTS]
    if unknown or not names:
        raise ValueError(f"unknown or no faults {unknown}; known: {', '.join(FAULTS)}")
    if "missing_scopes" in names and not target.required_scopes:
        raise ValueError("missing_scopes needs a target with required_scopes")
    return st.one_of([_FAULTS[name](target) for name in names])


def _applicable(target: Target) -> Iterable[str]:
    return (f for f in FAULTS if f != "missing_scopes" or target.required_scopes)


def expired_tokens(target: Target) -> st.SearchStrategy[TokenCase]:
    """Expired by any amount at or past the leeway -> TokenExpiredError(.expired_at)."""
    return bad_tokens(target, ["expired"])


def not_yet_valid_tokens(target: Target) -> st.SearchStrategy[TokenCase]:
    """``nbf`` and ``iat`` beyond now + leeway -> TokenNotYetValidError(.valid_from)."""
    return bad_tokens(target, ["not_yet_valid"])


def wrong_audience_tokens(target: Target) -> st.SearchStrategy[TokenCase]:
    """``aud`` without the target's audience (near misses too) -> InvalidAudienceError."""
    return bad_tokens(target, ["wrong_audience"])


def wrong_issuer_tokens(target: Target) -> st.SearchStrategy[TokenCase]:
    """``iss`` another issuer (trailing '/', case, scheme...) -> InvalidIssuerError."""
    return bad_tokens(target, ["wrong_issuer"])


def missing_scope_tokens(target: Target) -> st.SearchStrategy[TokenCase]:
    """One or more required scopes not granted -> InsufficientScopeError(.missing)."""
    return bad_tokens(target, ["missing_scopes"])


def tampered_tokens(target: Target) -> st.SearchStrategy[TokenCase]:
    """Payload edited after signing, a signature bit flipped, or the signature cut short
    -> InvalidSignatureError."""
    return bad_tokens(target, ["tampered_payload", "tampered_signature", "truncated_signature"])


def unknown_kid_tokens(target: Target) -> st.SearchStrategy[TokenCase]:
    """A ``kid`` the JWKS does not hold, or none at all -> UnknownKeyError(.kid)."""
    return bad_tokens(target, ["unknown_kid", "missing_kid"])


def disallowed_algorithm_tokens(target: Target) -> st.SearchStrategy[TokenCase]:
    """``alg: none`` in any spelling, or HS256 keyed with the public key
    -> DisallowedAlgorithmError(.algorithm)."""
    return bad_tokens(target, ["alg_none", "hs256_public_key"])


def malformed_tokens(target: Target) -> st.SearchStrategy[TokenCase]:
    """Not a JWS: wrong segment count, bad base64, non-JSON parts, garbage
    -> MalformedTokenError."""
    return bad_tokens(target, ["malformed"])

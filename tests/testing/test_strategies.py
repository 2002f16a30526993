"""The shipped strategies themselves: what they draw, checked independently of TokenValidator
(with PyJWT), their settings checks, and the real-clock mode users fuzz live APIs with."""

from __future__ import annotations

import base64
import json
import re
import time
from types import MappingProxyType
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockauth.errors import (
    InsufficientPermissionError,
    InsufficientScopeError,
    TokenExpiredError,
    TokenValidationError,
    UnknownKeyError,
)
from mockauth.faults import badtokens
from mockauth.tenant.apis import SCOPE_RE
from mockauth.tenant.apps import App
from mockauth.tenant.config import default_config
from mockauth.tenant.tenant import Tenant
from mockauth.testing.strategies import (
    FAULTS,
    Target,
    TokenCase,
    audiences,
    bad_tokens,
    disallowed_algorithm_tokens,
    expired_tokens,
    issuers,
    m2m_tokens,
    malformed_tokens,
    missing_permission_tokens,
    missing_scope_tokens,
    not_yet_valid_tokens,
    scopes,
    tampered_tokens,
    unknown_kid_tokens,
    user_tokens,
    wrong_audience_tokens,
    wrong_issuer_tokens,
)
from mockauth.tokens.keys import KeyStore
from mockauth.validator.validator import TokenValidator

NOW = 1_700_000_000
KEYS = KeyStore()  # one RSA key for the module: strategies are built at import time
TARGET = Target(
    issuer="https://acme.kinde.com",
    audience="https://api.example.com",
    keys=KEYS,
    scopes=("read:calendar", "update:event", "delete:event"),
    required_scopes=("read:calendar", "update:event"),
    leeway=30,
    now=NOW,
)
M2M_CLAIMS = {"aud", "azp", "exp", "gty", "iat", "iss", "jti", "scope", "scp", "v"}


def segment(token: str, index: int) -> Any:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def pyjwt_decode(case: TokenCase, now: int) -> dict[str, Any]:
    """An independent check: PyJWT with the target's key, audience, issuer and clock."""
    public = case.target.keys.public_key(case.target.keys.active_kid)
    assert public is not None
    claims: dict[str, Any] = jwt.decode(
        case.token,
        public,
        algorithms=["RS256"],
        audience=case.target.audience,
        issuer=case.target.issuer,
        leeway=case.target.leeway,
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert claims["exp"] + case.target.leeway > now >= claims["iat"] - case.target.leeway
    return claims


@given(case=m2m_tokens(TARGET))
def test_m2m_tokens_are_kinde_shaped_and_verify_with_pyjwt(case: TokenCase) -> None:
    claims = pyjwt_decode(case, NOW)
    assert claims == case.claims
    assert M2M_CLAIMS <= set(claims) <= M2M_CLAIMS | {"org_code", "permissions"}
    assert claims["v"] == "2" and claims["gty"] == ["client_credentials"]
    assert claims["scp"] == claims["scope"].split()
    assert set(TARGET.required_scopes) <= set(claims["scp"]) <= set(TARGET.scopes)
    assert TARGET.audience in claims["aud"]
    assert segment(case.token, 0) == {"alg": "RS256", "kid": KEYS.active_kid, "typ": "JWT"}
    assert (case.fault, case.error, case.http_status, case.valid) == (None, None, 200, True)


FAMILY_STRATEGIES = [
    (expired_tokens, {"expired"}),
    (not_yet_valid_tokens, {"not_yet_valid"}),
    (wrong_audience_tokens, {"wrong_audience"}),
    (wrong_issuer_tokens, {"wrong_issuer"}),
    (missing_scope_tokens, {"missing_scopes"}),
    (tampered_tokens, {"tampered_payload", "tampered_signature", "truncated_signature"}),
    (unknown_kid_tokens, {"unknown_kid", "missing_kid"}),
    (disallowed_algorithm_tokens, {"alg_none", "hs256_public_key"}),
    (malformed_tokens, {"malformed"}),
]


@pytest.mark.parametrize(
    ("strategy", "faults"), FAMILY_STRATEGIES, ids=[s.__name__ for s, _ in FAMILY_STRATEGIES]
)
@given(data=st.data())
def test_family_strategies_draw_only_their_faults(
    strategy: Any, faults: set[str], data: st.DataObject
) -> None:
    case = data.draw(strategy(TARGET))
    assert case.fault in faults
    assert case.error is badtokens.BAD_TOKENS[case.fault].error
    assert case.http_status == (403 if case.fault == "missing_scopes" else 401)
    assert not case.valid


def test_family_strategies_cover_every_fault() -> None:
    covered = set().union(*(faults for _, faults in FAMILY_STRATEGIES))
    assert covered == set(FAULTS) == set(badtokens.BAD_TOKENS)


CLAIM_FAULTS = {
    "expired": {"exp", "iat"},
    "not_yet_valid": {"exp", "iat", "nbf"},
    "wrong_audience": {"aud"},
    "wrong_issuer": {"iss"},
    "missing_scopes": {"scope", "scp"},
}


@given(case=bad_tokens(TARGET))
def test_bad_tokens_carry_their_fault_and_only_that(case: TokenCase) -> None:
    public = KEYS.public_key(KEYS.active_kid)
    assert public is not None
    if case.fault in CLAIM_FAULTS:
        # Still correctly signed (PyJWT verifies it); only the fault's claims differ.
        claims = jwt.decode(case.token, public, algorithms=["RS256"], options=NO_CLAIM_CHECKS)
        changed = {
            k for k in claims.keys() | case.claims.keys() if claims.get(k) != case.claims.get(k)
        }
        assert changed and changed <= CLAIM_FAULTS[case.fault]
    elif case.fault in {"unknown_kid", "missing_kid"}:
        assert segment(case.token, 0).get("kid") not in KEYS.published_kids
    else:
        with pytest.raises(jwt.PyJWTError):
            jwt.decode(case.token, public, algorithms=["RS256"], options=NO_CLAIM_CHECKS)


NO_CLAIM_CHECKS: Any = {
    "verify_aud": False,
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
}


@given(case=missing_scope_tokens(TARGET))
def test_missing_scope_cases_name_exactly_what_is_missing(case: TokenCase) -> None:
    attrs = case.error_attributes
    granted = segment(case.token, 1)["scp"]
    assert attrs["granted"] == tuple(granted)
    assert attrs["missing"] == tuple(s for s in TARGET.required_scopes if s not in granted)
    assert attrs["missing"] and attrs["required"] == TARGET.required_scopes


@given(case=expired_tokens(TARGET))
def test_expired_cases_are_expired_by_at_least_the_leeway(case: TokenCase) -> None:
    exp = segment(case.token, 1)["exp"]
    assert case.error_attributes["expired_at"] == exp
    assert exp + TARGET.leeway <= NOW


@given(case=not_yet_valid_tokens(TARGET))
def test_not_yet_valid_cases_start_beyond_the_leeway(case: TokenCase) -> None:
    payload = segment(case.token, 1)
    assert payload["nbf"] == payload["iat"] == case.error_attributes["valid_from"]
    assert payload["nbf"] > NOW + TARGET.leeway


@given(case=unknown_kid_tokens(TARGET))
def test_unknown_kids_are_never_published(case: TokenCase) -> None:
    kid = segment(case.token, 0).get("kid")
    assert kid == case.error_attributes["kid"]
    assert kid not in KEYS.published_kids


def is_compact_jws(token: str) -> bool:
    """Three base64url segments, each in its one canonical spelling, header and payload
    JSON objects."""
    parts = token.split(".")
    if len(parts) != 3 or not all(re.fullmatch(r"[A-Za-z0-9_-]*", p) for p in parts):
        return False
    for part in parts:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != part:
            return False
    try:
        return isinstance(segment(token, 0), dict) and isinstance(segment(token, 1), dict)
    except ValueError:
        return False


@given(case=malformed_tokens(TARGET))
def test_malformed_cases_are_not_compact_jws(case: TokenCase) -> None:
    assert not is_compact_jws(case.token)


@given(issuer=issuers(), audience=audiences(), scope=scopes())
def test_config_strategies_draw_valid_settings(issuer: str, audience: str, scope: str) -> None:
    assert issuer.startswith(("https://", "http://")) and not issuer.endswith("/")
    assert audience and not any(c.isspace() for c in audience)
    assert SCOPE_RE.match(scope)


def test_matches_checks_the_exact_class_and_every_attribute() -> None:
    case = TokenCase(
        token="t",
        target=TARGET,
        claims={},
        fault="missing_scopes",
        error=InsufficientScopeError,
        error_attributes=MappingProxyType({"missing": ("b",)}),
    )
    assert case.matches(InsufficientScopeError("", required=("a", "b"), granted=("a",)))
    assert not case.matches(InsufficientScopeError("", required=("b", "c"), granted=()))
    assert not case.matches(TokenValidationError("wrong class"))
    assert not TokenCase(token="t", target=TARGET, claims={}).matches(UnknownKeyError("", kid="k"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scopes": ("has space",)},
        {"required_scopes": ("a", "a")},
        {"required_scopes": ('quote"',)},
        {"leeway": -1},
    ],
)
def test_target_refuses_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Target(**{"issuer": "https://a.kinde.com", "audience": "x", "keys": KEYS, **kwargs})


def test_bad_tokens_refuses_unknown_or_inapplicable_faults() -> None:
    no_required = Target(issuer="https://a.kinde.com", audience="x", keys=KEYS, now=NOW)
    with pytest.raises(ValueError, match="known: expired"):
        bad_tokens(TARGET, ["nope"])
    with pytest.raises(ValueError):
        bad_tokens(TARGET, [])
    with pytest.raises(ValueError, match="required_scopes"):
        missing_scope_tokens(no_required)


@given(case=bad_tokens(Target(issuer="https://a.kinde.com", audience="x", keys=KEYS, now=NOW)))
def test_bad_tokens_skip_missing_scopes_without_required_scopes(case: TokenCase) -> None:
    assert case.fault != "missing_scopes"


# --- a tenant's apps, and the real clock ---

TENANT = Tenant(default_config(), issuer="http://127.0.0.1:8400", keys=KEYS)
LIVE = Target.for_tenant(
    TENANT, audience="https://api.example.com", required_scopes=["read:calendar"]
)


def test_for_tenant_takes_issuer_keys_and_granting_apps() -> None:
    assert (LIVE.issuer, LIVE.keys, LIVE.now) == (TENANT.issuer, KEYS, None)
    assert LIVE.scopes == ("read:calendar", "update:event", "delete:event")
    assert [a.client_id for a in LIVE.apps] == [default_config().apps[0].client_id]
    with pytest.raises(ValueError, match="no app is granted"):
        Target.for_tenant(TENANT, audience="https://nobody.example", required_scopes=["x"])


@given(case=m2m_tokens(LIVE))
def test_tenant_tokens_are_what_the_tenant_would_issue(case: TokenCase) -> None:
    claims = pyjwt_decode(case, int(time.time()))
    app = TENANT.app(claims["azp"])
    assert isinstance(app, App)
    assert set(claims["scp"]) <= set(app.apis[LIVE.audience])
    assert set(claims["aud"]) <= set(app.apis)


@given(case=m2m_tokens(LIVE) | bad_tokens(LIVE))
def test_real_clock_cases_hold_against_a_real_clock_validator(case: TokenCase) -> None:
    validator = LIVE.validator()
    if case.valid:
        assert validator.validate(case.token, case.required_scopes).raw == case.claims
        return
    with pytest.raises(TokenValidationError) as info:
        validator.validate(case.token, case.required_scopes)
    assert case.matches(info.value), (case.fault, info.value)


@given(case=m2m_tokens(LIVE))
def test_real_clock_tokens_keep_a_minute_of_margin(case: TokenCase) -> None:
    now = time.time()
    assert case.claims["exp"] - now >= 59
    assert case.claims["iat"] <= now
    at_expiry = TokenValidator(
        issuer=LIVE.issuer, audience=LIVE.audience, jwks=KEYS, clock=lambda: case.claims["exp"]
    )
    with pytest.raises(TokenExpiredError):
        at_expiry.validate(case.token)


# --- users' tokens ---

USER_TARGET = Target(
    issuer="https://acme.kinde.com",
    audience="https://api.example.com",
    keys=KEYS,
    permissions=("read:calendar", "update:event", "delete:event"),
    required_permissions=("update:event",),
    leeway=30,
    now=NOW,
)
USER_CLAIMS = {
    "aud",
    "azp",
    "exp",
    "feature_flags",
    "iat",
    "iss",
    "jti",
    "permissions",
    "scp",
    "sub",
}


@given(case=user_tokens(USER_TARGET))
def test_user_tokens_are_kinde_shaped_and_carry_the_required_permissions(
    case: TokenCase,
) -> None:
    claims = pyjwt_decode(case, NOW)
    assert claims == case.claims
    assert USER_CLAIMS <= set(claims) <= USER_CLAIMS | {"org_code"}
    assert claims["sub"].startswith("kp_") and "gty" not in claims
    assert set(USER_TARGET.required_permissions) <= set(claims["permissions"])
    assert set(claims["permissions"]) <= set(USER_TARGET.permissions)
    assert set(claims["scp"]) <= {"openid", "profile", "email", "offline", "address", "phone"}
    validated = USER_TARGET.validator().validate(
        case.token, required_permissions=case.required_permissions
    )
    assert validated.subject == claims["sub"] and case.http_status == 200


@given(case=missing_permission_tokens(USER_TARGET))
def test_missing_permission_cases_are_refused_with_exactly_what_is_missing(
    case: TokenCase,
) -> None:
    assert (case.fault, case.http_status) == ("missing_permissions", 403)
    with pytest.raises(InsufficientPermissionError) as info:
        USER_TARGET.validator().validate(case.token, required_permissions=case.required_permissions)
    assert case.matches(info.value)
    assert info.value.missing and set(info.value.missing) <= set(USER_TARGET.required_permissions)


def test_user_strategies_refuse_targets_they_cannot_serve() -> None:
    with pytest.raises(ValueError, match="permissions, not API scopes"):
        user_tokens(TARGET)
    with pytest.raises(ValueError, match="required_permissions"):
        missing_permission_tokens(Target(issuer="https://a.kinde.com", audience="x", keys=KEYS))


def test_for_tenant_takes_the_permissions_its_users_hold() -> None:
    target = Target.for_tenant(
        TENANT, audience="https://api.example.com", required_permissions=["read:calendar"]
    )
    assert target.required_permissions == ("read:calendar",)
    assert target.permissions == ("update:event",)


@given(case=bad_tokens(USER_TARGET))
def test_bad_tokens_hold_for_a_permissions_target(case: TokenCase) -> None:
    with pytest.raises(TokenValidationError) as info:
        USER_TARGET.validator().validate(case.token, required_permissions=case.required_permissions)
    assert case.matches(info.value), (case.fault, info.value)
    assert case.http_status == 401

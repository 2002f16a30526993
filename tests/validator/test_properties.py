"""Property suite: TokenValidator against mockauth's own strategies (what users get is what we
test with), over generated configs, clocks and claims, and against the real running server."""

from __future__ import annotations

import functools
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mockauth.errors import (
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidIssuerError,
    TokenExpiredError,
    TokenNotYetValidError,
    TokenValidationError,
)
from mockauth.faults.badtokens import BAD_TOKENS
from mockauth.http.server import ServerThread
from mockauth.tenant.config import default_config
from mockauth.testing.strategies import (
    FAULTS,
    Target,
    TokenCase,
    bad_tokens,
    issuers,
    m2m_tokens,
    scopes,
    targets,
)
from mockauth.tokens.keys import KeyStore
from mockauth.validator.validator import TokenClaims, TokenValidator

pytestmark = pytest.mark.e2e  # its tests start real servers


@functools.cache
def key_pool() -> tuple[KeyStore, ...]:
    # RSA key generation is slow: two stores serve every generated config.
    return (KeyStore(), KeyStore())


def _targets() -> st.SearchStrategy[Target]:
    return targets(key_pool())


def _has_required_scopes(target: Target) -> bool:
    return bool(target.required_scopes)


def _not_yet_valid(target: Target) -> st.SearchStrategy[TokenCase]:
    return bad_tokens(target, ["not_yet_valid"])


# Named functions, not lambdas: hypothesis reads a lambda's source to describe it.
TARGETS = st.deferred(_targets)
VALID = TARGETS.flatmap(m2m_tokens)
FAULTY = TARGETS.flatmap(bad_tokens)


def validate(
    case: TokenCase, now: float | None = None, required: list[str] | None = None
) -> TokenClaims:
    clock_at = case.target.now if now is None else now
    assert clock_at is not None  # generated targets have a fixed clock
    validator = TokenValidator(
        issuer=case.target.issuer,
        audience=case.target.audience,
        jwks=case.target.keys,
        leeway=case.target.leeway,
        clock=lambda: clock_at,
    )
    return validator.validate(case.token, case.required_scopes if required is None else required)


@given(case=VALID)
def test_every_valid_token_is_accepted_and_its_claims_round_trip(case: TokenCase) -> None:
    claims = case.claims
    result = validate(case)
    assert dict(result.raw) == claims
    assert result.issuer == case.target.issuer
    assert result.audiences == tuple(claims["aud"])
    assert case.target.audience in result.audiences
    assert result.scopes == tuple(claims["scp"]) == tuple(claims["scope"].split())
    assert set(case.required_scopes) <= set(result.scopes)
    assert result.client_id == claims["azp"]
    assert result.org_code == claims.get("org_code")
    assert result.permissions == tuple(claims.get("permissions", ()))
    assert result.subject is None
    assert (result.expires_at, result.issued_at) == (claims["exp"], claims["iat"])


@given(case=FAULTY)
def test_every_faulty_token_gets_exactly_its_error(case: TokenCase) -> None:
    assert case.fault is not None and case.fault in BAD_TOKENS
    with pytest.raises(TokenValidationError) as info:
        validate(case)
    error = info.value
    assert type(error) is case.error is BAD_TOKENS[case.fault].error
    for name, expected in case.error_attributes.items():
        assert getattr(error, name) == expected, name
    assert case.matches(error)


# The test above spreads its examples over all families; this one makes sure every family is
# drawn on every run, with a share of the profile's examples each so CI stays fast.
@pytest.mark.parametrize("fault", FAULTS)
@settings(max_examples=max(10, settings().max_examples // 8))
@given(data=st.data())
def test_each_fault_family_alone_gets_its_error(fault: str, data: st.DataObject) -> None:
    target = data.draw(TARGETS)
    if fault == "missing_scopes" and not target.required_scopes:
        target = data.draw(TARGETS.filter(_has_required_scopes))
    case = data.draw(bad_tokens(target, [fault]))
    with pytest.raises(TokenValidationError) as info:
        validate(case)
    assert case.fault == fault
    assert case.matches(info.value), (type(info.value), vars(info.value))


@given(case=VALID, data=st.data())
def test_expiry_is_exact_at_the_boundary(case: TokenCase, data: st.DataObject) -> None:
    exp, leeway = case.claims["exp"], case.target.leeway
    assert validate(case, now=exp + leeway - 1).expires_at == exp
    late = data.draw(st.integers(exp + leeway, exp + leeway + 10**9))
    with pytest.raises(TokenExpiredError) as info:
        validate(case, now=late)
    assert info.value.expired_at == exp


@given(case=TARGETS.flatmap(_not_yet_valid))
def test_not_before_is_exact_at_the_boundary(case: TokenCase) -> None:
    start, leeway = case.error_attributes["valid_from"], case.target.leeway
    assert validate(case, now=start - leeway)
    with pytest.raises(TokenNotYetValidError):
        validate(case, now=start - leeway - 1)


@given(case=VALID, data=st.data())
def test_any_clock_decides_exactly_as_exp_iat_and_leeway_say(
    case: TokenCase, data: st.DataObject
) -> None:
    exp, iat, leeway = case.claims["exp"], case.claims["iat"], case.target.leeway
    now = data.draw(st.integers(iat - leeway - 100, exp + leeway + 100) | st.integers(0, 2**33))
    if now >= exp + leeway:
        with pytest.raises(TokenExpiredError):
            validate(case, now=now)
    elif iat > now + leeway:
        with pytest.raises(TokenNotYetValidError):
            validate(case, now=now)
    else:
        assert validate(case, now=now).raw["jti"] == case.claims["jti"]


@given(case=VALID, data=st.data())
def test_missing_is_exactly_the_required_scopes_not_granted(
    case: TokenCase, data: st.DataObject
) -> None:
    granted = tuple(case.claims["scp"])
    pool = sorted(set(granted) | {"x:extra", "read:other"})
    required = data.draw(st.lists(st.sampled_from(pool) | scopes(), unique=True, max_size=6))
    expected_missing = tuple(s for s in required if s not in granted)
    if not expected_missing:
        assert validate(case, required=required).scopes == granted
        return
    with pytest.raises(InsufficientScopeError) as info:
        validate(case, required=required)
    assert info.value.missing == expected_missing
    assert info.value.granted == granted
    assert info.value.required == tuple(required)


# --- tokens issued by the real running mock server, JWKS over HTTP ---

APP = default_config().apps[0]
API = "https://api.example.com"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread() as running:
        yield running


@pytest.fixture(scope="module")
def validators(server: ServerThread) -> dict[str, TokenValidator]:
    """One validator per audience the default app is granted, fetching the JWKS over HTTP."""
    return {
        audience: TokenValidator(issuer=server.issuer, audience=audience)
        for audience in (API, server.issuer + "/api")
    }


def fetch_token(server: ServerThread, audience: str, scope: list[str]) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": APP.client_id,
        "client_secret": APP.client_secret or "",
        "audience": audience,
        "scope": " ".join(scope),
    }
    request = urllib.request.Request(
        server.url + "/oauth2/token", data=urllib.parse.urlencode(form).encode()
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        token: str = json.loads(response.read())["access_token"]
    return token


@st.composite
def server_requests(draw: st.DrawFn, server: ServerThread) -> tuple[str, list[str]]:
    """An audience the default app is granted and a non-empty subset of its scopes there."""
    audience = draw(st.sampled_from([API, server.issuer + "/api"]))
    granted = list(APP.apis[API] if audience == API else APP.apis["{issuer}/api"])
    return audience, draw(st.lists(st.sampled_from(granted), min_size=1, unique=True))


@given(data=st.data())
def test_server_tokens_pass_and_stop_passing_when_anything_differs(
    server: ServerThread, validators: dict[str, TokenValidator], data: st.DataObject
) -> None:
    audience, scope = data.draw(server_requests(server))
    token = fetch_token(server, audience, scope)
    validator = validators[audience]
    required = data.draw(st.lists(st.sampled_from(scope), unique=True))
    claims = validator.validate(token, required)
    assert (claims.client_id, claims.scopes, claims.audiences) == (
        APP.client_id,
        tuple(scope),
        (audience,),
    )

    other = next(v for a, v in validators.items() if a != audience)
    with pytest.raises(InvalidAudienceError) as aud_error:
        other.validate(token)
    assert aud_error.value.actual == [audience]

    issuer = data.draw(issuers())
    assume(issuer != server.issuer)
    stranger = TokenValidator(issuer=issuer, audience=audience, jwks_url=validator.jwks_url)
    with pytest.raises(InvalidIssuerError) as iss_error:
        stranger.validate(token)
    assert iss_error.value.actual == server.issuer

    extra = [s for s in data.draw(st.lists(scopes(), min_size=1, max_size=3)) if s not in scope]
    assume(extra)
    with pytest.raises(InsufficientScopeError) as scope_error:
        validator.validate(token, [*required, *extra])
    assert scope_error.value.missing == tuple(dict.fromkeys(extra))


@given(data=st.data())
def test_strategy_tokens_for_the_running_server_pass_its_jwks(
    server: ServerThread, validators: dict[str, TokenValidator], data: st.DataObject
) -> None:
    target = Target.for_tenant(server.tenant, audience=API, required_scopes=("read:calendar",))
    case = data.draw(m2m_tokens(target) | bad_tokens(target))
    validator = validators[API]
    if case.valid:
        assert dict(validator.validate(case.token, case.required_scopes).raw) == case.claims
        return
    with pytest.raises(TokenValidationError) as info:
        validator.validate(case.token, case.required_scopes)
    assert case.matches(info.value), (case.fault, info.value)

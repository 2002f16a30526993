"""Hypothesis strategies for valid and faulty Kinde access tokens, to fuzz your own API.

Describe what your API accepts as a ``Target``, then draw ``TokenCase`` objects: each holds a
token, the fault it carries (``None`` for a valid one), the error a correct validator must
raise and the attributes that error must carry, and the HTTP status a correct API answers::

    from hypothesis import given
    from mockauth.strategies import Target, bad_tokens, m2m_tokens

    target = Target.for_tenant(server.tenant, audience="https://api.example.com",
                               required_scopes=("read:calendar",))

    @given(case=m2m_tokens(target) | bad_tokens(target))
    def test_my_api(case):
        answer = client.get("/events", headers={"Authorization": f"Bearer {case.token}"})
        assert answer.status_code == case.http_status, case.fault

With ``Target(now=None)`` tokens are built against the real clock, with margins of a minute,
so use them promptly. With a fixed ``now`` they are exact to the second: give the validator
under test the same clock (``target.validator()`` does).

Every fault family of ``mockauth.badtokens.BAD_TOKENS`` has a strategy here (``FAULTS``),
and ``bad_tokens(target)`` draws from all of them.
"""

from __future__ import annotations

import base64
import json
import string
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from hypothesis import assume
from hypothesis import strategies as st

from mockauth import badtokens
from mockauth.config import SCOPE_RE, App
from mockauth.errors import TokenValidationError
from mockauth.keys import KeyStore
from mockauth.tokens import TokenFactory, encode_segment
from mockauth.validator import TokenValidator

if TYPE_CHECKING:
    from mockauth.state import Tenant

Claims = dict[str, Any]
TEN_YEARS = 10 * 365 * 86_400
REAL_CLOCK_MARGIN = 60  # seconds kept between a drawn token and the real clock
_SCOPE_CHARS = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"\\')
_TOKEN_CHARS = "".join(chr(c) for c in range(0x21, 0x7F))  # what an Authorization header carries


@dataclass(frozen=True, kw_only=True)
class Target:
    """What the API under test accepts: the settings of its validator.

    ``scopes`` are the API's scopes a valid token may hold besides ``required_scopes`` (the
    scopes the endpoint under test demands). ``apps``, when given, are the clients valid
    tokens are issued to (their grants on ``audience`` decide the scopes); otherwise the
    strategies invent clients. ``now`` is the time the validator sees; ``None`` means the
    real clock.
    """

    issuer: str
    audience: str
    keys: KeyStore
    scopes: tuple[str, ...] = ()
    required_scopes: tuple[str, ...] = ()
    leeway: int = 0
    now: int | None = None
    apps: tuple[App, ...] = ()

    def __post_init__(self) -> None:
        for scope in (*self.scopes, *self.required_scopes):
            if not SCOPE_RE.match(scope):
                raise ValueError(f"not a scope token: {scope!r}")
        if len(set(self.required_scopes)) != len(self.required_scopes):
            raise ValueError(f"required_scopes has duplicates: {self.required_scopes}")
        if self.leeway < 0:
            raise ValueError(f"leeway must be >= 0, not {self.leeway}")
        if self.apps and not self._grants():
            raise ValueError(
                f"no app is granted {self.required_scopes} on {self.audience!r}; "
                "valid tokens cannot be drawn"
            )

    @classmethod
    def for_tenant(
        cls,
        tenant: Tenant,
        *,
        audience: str,
        required_scopes: Sequence[str] = (),
        leeway: int = 0,
        now: int | None = None,
    ) -> Target:
        """A target for tokens as the tenant issues them: its issuer, keys, apps and grants."""
        api = next((a for a in tenant.config.apis if a.audience == audience), None)
        return cls(
            issuer=tenant.issuer,
            audience=audience,
            keys=tenant.keys,
            scopes=api.scopes if api is not None else (),
            required_scopes=tuple(required_scopes),
            leeway=leeway,
            now=now,
            apps=tuple(a for a in tenant.config.apps if a.type == "m2m"),
        )

    def validator(self) -> TokenValidator:
        """A TokenValidator for this target: in-process keys, the target's clock and leeway."""
        now = self.now
        clock: Callable[[], float] = time.time if now is None else (lambda: now)
        return TokenValidator(
            issuer=self.issuer,
            audience=self.audience,
            jwks=self.keys,
            leeway=self.leeway,
            clock=clock,
        )

    def _grants(self) -> list[tuple[App, tuple[str, ...]]]:
        """(app, its scopes on the audience) for each app that can hold the required scopes."""
        return [
            (app, app.apis[self.audience])
            for app in self.apps
            if self.audience in app.apis
            and set(self.required_scopes) <= set(app.apis[self.audience])
        ]


@dataclass(frozen=True, kw_only=True)
class TokenCase:
    """A drawn token and what a correct validator does with it.

    ``claims`` are the claims of the good token the case was built from (for a valid case,
    exactly the claims signed). ``error`` is the TokenValidationError subclass a correct
    validator raises (``None``: it accepts), ``error_attributes`` the values that error
    must carry (e.g. ``missing``), and ``detail`` the fault's parameters.
    """

    token: str
    target: Target
    claims: Mapping[str, Any]
    fault: str | None = None
    error: type[TokenValidationError] | None = None
    error_attributes: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    detail: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def valid(self) -> bool:
        return self.fault is None

    @property
    def required_scopes(self) -> tuple[str, ...]:
        """The scopes to demand when validating (the target's)."""
        return self.target.required_scopes

    @property
    def http_status(self) -> int:
        """What a correct API answers: 200, 403 for missing scopes, else 401 (RFC 6750)."""
        if self.fault is None:
            return 200
        return 403 if self.fault == "missing_scopes" else 401

    def matches(self, exc: BaseException) -> bool:
        """True if ``exc`` is exactly the expected error with the expected attributes."""
        if self.error is None or type(exc) is not self.error:
            return False
        return all(getattr(exc, k, _ABSENT) == v for k, v in self.error_attributes.items())


_ABSENT = object()


# --- configs ---

_HOSTS = ("kinde.com", "au.kinde.com", "eu.kinde.com", "us.kinde.com", "auth.example.org")
_LOWER = string.ascii_lowercase


# Strategies are built once, from named functions: hypothesis describes lambdas by parsing
# their source, which costs milliseconds every time a strategy is built inside a draw.
def _kinde_issuer(sub: str, host: str) -> str:
    return f"https://{sub}.{host}"


def _local_issuer(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def _api_url(word: str, path: str) -> str:
    return f"https://{word}.example.com{path}"


def _kinde_scope(verb: str, thing: str) -> str:
    return f"{verb}:{thing}"


def _hex11(value: int) -> str:
    return f"{value:011x}"


def _not_a_jws(text: str) -> bool:
    return text.count(".") != 2


_ISSUERS = st.builds(
    _kinde_issuer, st.text(_LOWER + string.digits, min_size=1, max_size=12), st.sampled_from(_HOSTS)
) | st.builds(_local_issuer, st.integers(1, 65_535))
_AUDIENCES = st.builds(
    _api_url, st.text(_LOWER, min_size=1, max_size=10), st.sampled_from(["", "/v1"])
) | st.text(_SCOPE_CHARS, min_size=1, max_size=30)
_SCOPES = st.builds(
    _kinde_scope,
    st.sampled_from(["read", "create", "update", "delete"]),
    st.text(_LOWER, min_size=1, max_size=10),
) | st.text(_SCOPE_CHARS, min_size=1, max_size=20)
_ORG_HEX = st.none() | st.integers(0, 16**11 - 1).map(_hex11)
_GARBAGE = st.text(_TOKEN_CHARS, max_size=120).filter(_not_a_jws)


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


# --- valid tokens ---


def _now(target: Target) -> int:
    return int(time.time()) if target.now is None else target.now


def _margin(target: Target) -> int:
    return REAL_CLOCK_MARGIN if target.now is None else 0


@st.composite
def _apps(draw: st.DrawFn) -> App:
    client_id = f"{draw(st.integers(0, 2**128 - 1)):032x}"
    org = draw(_ORG_HEX)
    perms = draw(st.none() | st.lists(scopes(), max_size=3, unique=True))
    return App(
        name="generated",
        client_id=client_id,
        org_code=None if org is None else f"org_{org}",
        claims=MappingProxyType({} if perms is None else {"permissions": perms}),
    )


@st.composite
def _claims(draw: st.DrawFn, target: Target, now: int) -> Claims:
    """Claims of a token the target accepts at ``now``."""
    if target.apps:
        app, granted = draw(st.sampled_from(target._grants()))
        others = [a for a in app.apis if a != target.audience]
    else:
        app, granted = draw(_apps()), tuple(dict.fromkeys(target.scopes + target.required_scopes))
        others = draw(st.lists(audiences(), max_size=2, unique=True))
    extra = [s for s in granted if s not in target.required_scopes]
    chosen = [*target.required_scopes, *(draw(_subsets(extra)))]
    others = [a for a in others if a != target.audience]
    auds = [target.audience, *draw(_subsets(others))]
    margin, leeway = _margin(target), target.leeway
    lifetime = draw(st.integers(1 + 2 * margin, TEN_YEARS))
    age = draw(st.integers(0 if margin else -leeway, lifetime + leeway - 1 - margin))
    factory = TokenFactory(issuer=target.issuer, keys=target.keys, clock=lambda: now - age)
    claims = factory.m2m_claims(
        app, draw(st.permutations(auds)), draw(st.permutations(chosen)), lifetime=lifetime
    )
    claims["jti"] = str(draw(st.uuids(version=4)))
    return claims


def _subsets(items: Sequence[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(items), unique=True) if items else st.just([])


def _factory(target: Target, now: int) -> TokenFactory:
    return TokenFactory(issuer=target.issuer, keys=target.keys, clock=lambda: now)


@st.composite
def _valid(draw: st.DrawFn, target: Target) -> TokenCase:
    now = _now(target)
    claims = draw(_claims(target, now))
    return TokenCase(token=_factory(target, now).sign(claims), target=target, claims=claims)


def m2m_tokens(target: Target) -> st.SearchStrategy[TokenCase]:
    """Valid Kinde v2 M2M access tokens the target accepts (fault and error are None)."""
    return _valid(target)


# --- faulty tokens: one strategy per BAD_TOKENS family ---


def _case(
    target: Target, claims: Claims, fault: str, token: str, detail: Mapping[str, Any], **attrs: Any
) -> TokenCase:
    return TokenCase(
        token=token,
        target=target,
        claims=claims,
        fault=fault,
        error=badtokens.BAD_TOKENS[fault].error,
        error_attributes=MappingProxyType(attrs),
        detail=MappingProxyType(dict(detail)),
    )


def _seconds(low: int) -> st.SearchStrategy[int]:
    """An amount of seconds from ``low``, often right at it."""
    return st.integers(low, low + 3) | st.integers(low, low + TEN_YEARS)


@st.composite
def _expired(draw: st.DrawFn, target: Target) -> TokenCase:
    now = _now(target)
    claims = draw(_claims(target, now))
    by = draw(_seconds(target.leeway))
    token = badtokens.expired(_factory(target, now), claims, by=by)
    return _case(target, claims, "expired", token, {"by": by}, expired_at=now - by)


@st.composite
def _not_yet_valid(draw: st.DrawFn, target: Target) -> TokenCase:
    now = _now(target)
    claims = draw(_claims(target, now))
    by = draw(_seconds(target.leeway + 1 + _margin(target)))
    token = badtokens.not_yet_valid(_factory(target, now), claims, by=by)
    return _case(target, claims, "not_yet_valid", token, {"by": by}, valid_from=now + by)


def _near_misses(value: str) -> list[str]:
    """Values a sloppy comparison would take for ``value``."""
    swapped = value.replace("https://", "http://", 1) if "https://" in value else "https://" + value
    return [value + "/", value.upper(), value[:-1], swapped, value + ".evil.example", " " + value]


@st.composite
def _wrong_audience(draw: st.DrawFn, target: Target) -> TokenCase:
    now = _now(target)
    claims = draw(_claims(target, now))
    audience = draw(st.sampled_from(_near_misses(target.audience)) | audiences())
    assume(audience != target.audience)
    token = badtokens.wrong_audience(_factory(target, now), claims, audience=audience)
    return _case(
        target,
        claims,
        "wrong_audience",
        token,
        {"audience": audience},
        expected=target.audience,
        actual=[audience],
    )


@st.composite
def _wrong_issuer(draw: st.DrawFn, target: Target) -> TokenCase:
    now = _now(target)
    claims = draw(_claims(target, now))
    issuer = draw(st.sampled_from(_near_misses(target.issuer)) | issuers())
    assume(issuer != target.issuer)
    token = badtokens.wrong_issuer(_factory(target, now), claims, issuer=issuer)
    detail = {"issuer": issuer}
    return _case(
        target, claims, "wrong_issuer", token, detail, expected=target.issuer, actual=issuer
    )


@st.composite
def _missing_scopes(draw: st.DrawFn, target: Target) -> TokenCase:
    now = _now(target)
    claims = draw(_claims(target, now))
    required = target.required_scopes
    drop = tuple(draw(st.lists(st.sampled_from(required), min_size=1, unique=True)))
    token = badtokens.missing_scopes(_factory(target, now), claims, drop=drop)
    granted = tuple(s for s in claims["scp"] if s not in drop)
    missing = tuple(s for s in required if s in drop)
    return _case(
        target,
        claims,
        "missing_scopes",
        token,
        {"drop": drop},
        required=required,
        granted=granted,
        missing=missing,
    )


@st.composite
def _tampered_payload(draw: st.DrawFn, target: Target) -> TokenCase:
    now = _now(target)
    claims = draw(_claims(target, now))
    token = badtokens.tampered_payload(_factory(target, now), claims)
    assume(token.split(".")[1] != encode_segment(claims))  # the forgery changed something
    return _case(target, claims, "tampered_payload", token, {})


@st.composite
def _tampered_signature(draw: st.DrawFn, target: Target) -> TokenCase:
    now = _now(target)
    claims = draw(_claims(target, now))
    byte = draw(st.integers(0, 255))
    token = badtokens.tampered_signature(_factory(target, now), claims, byte=byte)
    return _case(target, claims, "tampered_signature", token, {"byte": byte})


@st.composite
def _truncated_signature(draw: st.DrawFn, target: Target) -> TokenCase:
    now = _now(target)
    claims = draw(_claims(target, now))
    keep = draw(st.integers(0, 255))
    token = badtokens.truncated_signature(_factory(target, now), claims, keep=keep)
    return _case(target, claims, "truncated_signature", token, {"keep": keep})


@st.composite
def _unknown_kid(draw: st.DrawFn, target: Target) -> TokenCase:
    now = _now(target)
    claims = draw(_claims(target, now))
    published = target.keys.published_kids
    made_up = st.sampled_from([k.upper() for k in published]) | st.text(_TOKEN_CHARS, max_size=40)
    kid = draw(st.none() | made_up)  # None: signed by a stranger's key
    token = badtokens.unknown_kid(_factory(target, now), claims, kid=kid)
    kid = _header(token)["kid"]
    assume(kid not in published)
    return _case(target, claims, "unknown_kid", token, {"kid": kid}, kid=kid)


@st.composite
def _missing_kid(draw: st.DrawFn, target: Target) -> TokenCase:
    now = _now(target)
    claims = draw(_claims(target, now))
    token = badtokens.missing_kid(_factory(target, now), claims)
    return _case(target, claims, "missing_kid", token, {}, kid=None)


@st.composite
def _alg_none(draw: st.DrawFn, target: Target) -> TokenCase:
    now = _now(target)
    claims = draw(_claims(target, now))
    alg = draw(st.sampled_from(["none", "None", "NONE", "nOnE"]))
    token = badtokens.alg_none(_factory(target, now), claims, alg=alg)
    return _case(target, claims, "alg_none", token, {"alg": alg}, algorithm=alg)


@st.composite
def _hs256_public_key(draw: st.DrawFn, target: Target) -> TokenCase:
    now = _now(target)
    claims = draw(_claims(target, now))
    token = badtokens.hs256_public_key(_factory(target, now), claims)
    return _case(target, claims, "hs256_public_key", token, {}, algorithm="HS256")


@st.composite
def _malformed(draw: st.DrawFn, target: Target) -> TokenCase:
    now = _now(target)
    claims = draw(_claims(target, now))
    variant = draw(st.none() | st.integers(0, 7))
    if variant is None:
        token = draw(_GARBAGE)
        detail: dict[str, Any] = {"garbage": True}
    else:
        token = badtokens.malformed(_factory(target, now), claims, variant=variant)
        detail = {"variant": variant}
    return _case(target, claims, "malformed", token, detail)


def _header(token: str) -> dict[str, Any]:
    head = token.split(".")[0]
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    return value


_FAULTS: Mapping[str, Callable[[Target], st.SearchStrategy[TokenCase]]] = {
    "expired": _expired,
    "not_yet_valid": _not_yet_valid,
    "wrong_audience": _wrong_audience,
    "wrong_issuer": _wrong_issuer,
    "missing_scopes": _missing_scopes,
    "tampered_payload": _tampered_payload,
    "tampered_signature": _tampered_signature,
    "truncated_signature": _truncated_signature,
    "unknown_kid": _unknown_kid,
    "missing_kid": _missing_kid,
    "alg_none": _alg_none,
    "hs256_public_key": _hs256_public_key,
    "malformed": _malformed,
}
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

"""The composite strategies behind ``mockauth.testing.strategies``: config building blocks, the
claims of valid tokens, and one strategy per ``BAD_TOKENS`` fault family (``_FAULTS``).

Private: use the public functions of ``mockauth.testing.strategies``.
"""

from __future__ import annotations

import base64
import json
import string
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from mockauth.faults import badtokens
from mockauth.tenant.apps import App
from mockauth.testing._cases import Target, TokenCase
from mockauth.tokens.claims import TokenFactory
from mockauth.tokens.encoding import encode_segment

Claims = dict[str, Any]
TEN_YEARS = 10 * 365 * 86_400
REAL_CLOCK_MARGIN = 60  # seconds kept between a drawn token and the real clock
_SCOPE_CHARS = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"\\')
_TOKEN_CHARS = "".join(chr(c) for c in range(0x21, 0x7F))  # what an Authorization header carries


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


# --- valid tokens ---


def _now(target: Target) -> int:
    return int(time.time()) if target.now is None else target.now


def _margin(target: Target) -> int:
    return REAL_CLOCK_MARGIN if target.now is None else 0


@st.composite
def _apps(draw: st.DrawFn) -> App:
    client_id = f"{draw(st.integers(0, 2**128 - 1)):032x}"
    org = draw(_ORG_HEX)
    perms = draw(st.none() | st.lists(_SCOPES, max_size=3, unique=True))
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
        others = draw(st.lists(_AUDIENCES, max_size=2, unique=True))
    extra = [s for s in granted if s not in target.required_scopes]
    chosen = [*target.required_scopes, *(draw(_subsets(extra)))]
    others = [a for a in others if a != target.audience]
    auds = [target.audience, *draw(_subsets(others))]
    lifetime, age = draw(_lifetime_and_age(target))
    factory = TokenFactory(issuer=target.issuer, keys=target.keys, clock=lambda: now - age)
    claims = factory.m2m_claims(
        app, draw(st.permutations(auds)), draw(st.permutations(chosen)), lifetime=lifetime
    )
    claims["jti"] = str(draw(st.uuids(version=4)))
    return claims


@st.composite
def _lifetime_and_age(draw: st.DrawFn, target: Target) -> tuple[int, int]:
    """A lifetime and an age (seconds since iat) the target accepts now."""
    margin, leeway = _margin(target), target.leeway
    lifetime = draw(st.integers(1 + 2 * margin, TEN_YEARS))
    age = draw(st.integers(0 if margin else -leeway, lifetime + leeway - 1 - margin))
    return lifetime, age


def _subsets(items: Sequence[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(items), unique=True) if items else st.just([])


def _factory(target: Target, now: int) -> TokenFactory:
    return TokenFactory(issuer=target.issuer, keys=target.keys, clock=lambda: now)


@st.composite
def _valid(draw: st.DrawFn, target: Target) -> TokenCase:
    now = _now(target)
    claims = draw(_claims(target, now))
    return TokenCase(token=_factory(target, now).sign(claims), target=target, claims=claims)


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
    audience = draw(st.sampled_from(_near_misses(target.audience)) | _AUDIENCES)
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
    issuer = draw(st.sampled_from(_near_misses(target.issuer)) | _ISSUERS)
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
    variant = draw(st.none() | st.integers(0, 8))
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

"""Token attacks on TokenValidator as a table: one row per attack, the crafted token and the
exact error the validator must raise, with the attributes that say why.

Tokens are signed with real RSA keys wherever a signature can be made, so a row fails if the
check that stops it is removed: the token would validate, or fail later with another error.
A decoy JWKS host serves an attacker's key at the ``jku``/``x5u`` URLs; no row may reach it.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from mockauth.errors import (
    DisallowedAlgorithmError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    MalformedTokenError,
    TokenExpiredError,
    TokenNotYetValidError,
    TokenValidationError,
    UnknownKeyError,
)
from mockauth.faults import badtokens
from mockauth.tenant.apps import App
from mockauth.tokens.claims import TokenFactory
from mockauth.tokens.encoding import b64url, encode_segment
from mockauth.tokens.jwks import public_jwk
from mockauth.tokens.keys import KeyStore
from mockauth.validator.segments import MAX_TOKEN_LENGTH
from mockauth.validator.validator import TokenValidator

ISSUER = "https://acme.kinde.com"
AUDIENCE = "https://api.example.com"
NOW = 1_700_000_000
LEEWAY = 30
APP = App(name="Backend", client_id="db7910a2cb5ef186a47f64aa64eb7783", client_secret=None)
ATTACKER_KID = "attacker-key-1"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
DROP = object()  # a claim or header member to leave out


class Decoy:
    """A JWKS host serving the attacker's key under ATTACKER_KID, counting requests."""

    def __init__(self, body: bytes) -> None:
        self.requests = 0
        decoy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                decoy.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@dataclass(frozen=True)
class Kit:
    """What the rows build tokens from: the issuer's keys, an attacker's, and the decoy."""

    keys: KeyStore
    attacker: KeyStore
    decoy: Decoy

    @property
    def kid(self) -> str:
        return self.keys.active_kid

    @property
    def factory(self) -> TokenFactory:
        """The issuer's token factory, for the shared bad-token builders."""
        return TokenFactory(issuer=ISSUER, keys=self.keys, clock=lambda: NOW)

    def claims(self, **changes: Any) -> dict[str, Any]:
        claims = self.factory.m2m_claims(APP, [AUDIENCE], ("read:calendar",), lifetime=3600)
        return _changed(claims, changes)

    def header(self, **changes: Any) -> dict[str, Any]:
        return _changed({"alg": "RS256", "kid": self.kid, "typ": "JWT"}, changes)

    def signed(self, head: str, payload: str, *, by: KeyStore | None = None) -> str:
        """Segments as given, RS256-signed by the issuer's active key (or ``by``'s)."""
        _, signature = (by or self.keys).sign(f"{head}.{payload}".encode())
        return f"{head}.{payload}.{b64url(signature)}"

    def token(self, header: Mapping[str, Any] | None = None, **claims: Any) -> str:
        head = encode_segment(header if header is not None else self.header())
        return self.signed(head, encode_segment(self.claims(**claims)))

    def attacker_jwk(self) -> dict[str, str]:
        key = self.attacker.public_key(self.attacker.active_kid)
        assert key is not None
        return public_jwk(key, ATTACKER_KID)


def _changed(base: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**base, **changes}
    return {name: value for name, value in merged.items() if value is not DROP}


# --- builders a row needs more than a line for ---


def raw_json(text: str) -> str:
    """A segment of exactly this JSON text (for duplicates, NaN, escapes json.dumps avoids)."""
    return b64url(text.encode())


def with_unused_bits(obj: Mapping[str, Any]) -> str:
    """``obj`` as a segment whose last character has unused bits (its length is not 0 mod 4)."""
    segment = encode_segment(obj)
    # JSON of 3n bytes leaves no bits unused; a member of 7 bytes (,"f":"") changes that.
    return segment if len(segment) % 4 else encode_segment({**obj, "f": ""})


def respell(segment: str, bits: int) -> str:
    """The same bytes, the last character's unused low bits set to ``bits``."""
    unused = {2: 0b1111, 3: 0b11}[len(segment) % 4]
    assert 0 < bits <= unused, "no such spelling"
    return segment[:-1] + ALPHABET[ALPHABET.index(segment[-1]) | bits]


def respelled_signature(bits: int) -> Callable[[Kit], str]:
    def build(kit: Kit) -> str:
        head, payload, signature = kit.token().split(".")
        return f"{head}.{payload}.{respell(signature, bits)}"

    return build


def respelled_segment(part: int, bits: int) -> Callable[[Kit], str]:
    """Header (0) or payload (1) respelled, and the respelled signing input signed."""

    def build(kit: Kit) -> str:
        segments = [with_unused_bits(kit.header()), with_unused_bits(kit.claims())]
        unused = {2: 0b1111, 3: 0b11}[len(segments[part]) % 4]
        segments[part] = respell(segments[part], min(bits, unused))
        return kit.signed(*segments)

    return build


def padded_segment(part: int) -> Callable[[Kit], str]:
    """Header (0) or payload (1) with base64 padding, signed as sent."""

    def build(kit: Kit) -> str:
        segments = [with_unused_bits(kit.header()), with_unused_bits(kit.claims())]
        segments[part] += "=" * (-len(segments[part]) % 4)
        return kit.signed(*segments)

    return build


def in_signature(change: Callable[[str], str]) -> Callable[[Kit], str]:
    def build(kit: Kit) -> str:
        head, payload, signature = kit.token().split(".")
        changed = change(signature)
        assert changed != signature
        return f"{head}.{payload}.{changed}"

    return build


def standard_alphabet(kit: Kit) -> str:
    """The signature in base64's standard alphabet (+ and / for - and _)."""
    # A 342-character signature lacks both about once in 50,000: take another jti then.
    signed = (t.split(".") for t in iter(kit.token, None))
    head, payload, signature = next(parts for parts in signed if {"-", "_"} & set(parts[2]))
    return f"{head}.{payload}.{signature.translate(str.maketrans('-_', '+/'))}"


def fullwidth(char: str) -> str:
    """The fullwidth form of an ASCII letter or digit (Unicode NFKC maps it back)."""
    return chr(ord(char) + 0xFEE0) if char.isalnum() else char


def hs256(secret: Callable[[Kit], bytes]) -> Callable[[Kit], str]:
    """HS256 keyed with a form of the issuer's public key (the key-confusion attack)."""

    def build(kit: Kit) -> str:
        signing_input = f"{encode_segment(kit.header(alg='HS256'))}.{encode_segment(kit.claims())}"
        mac = hmac.new(secret(kit), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64url(mac)}"

    return build


def public_bytes(
    encoding: serialization.Encoding, form: serialization.PublicFormat
) -> Callable[[Kit], bytes]:
    def secret(kit: Kit) -> bytes:
        key = kit.keys.public_key(kit.kid)
        assert key is not None
        return key.public_bytes(encoding, form)

    return secret


def jwk_json(kit: Kit) -> bytes:
    key = kit.keys.public_key(kit.kid)
    assert key is not None
    return json.dumps(public_jwk(key, kit.kid)).encode()


def attacker_signed(kid: str | None, **members: Callable[[Kit], Any]) -> Callable[[Kit], str]:
    """Signed by the attacker's key, ``kid`` its own (None: the issuer's), pointing at it by
    the header members given (each built from the kit)."""

    def build(kit: Kit) -> str:
        extra = {name: make(kit) for name, make in members.items()}
        header = kit.header(kid=kid or kit.kid, **extra)
        return kit.signed(encode_segment(header), encode_segment(kit.claims()), by=kit.attacker)

    return build


def attacker_certificate(kit: Kit) -> list[str]:
    """x5c: a self-signed certificate of the attacker's key, as base64 DER."""
    private = kit.attacker._keys[kit.attacker.active_kid].private
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme.kinde.com")])
    start = datetime.datetime(2023, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(private, hashes.SHA256())
    )
    return [base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()]


def another_tokens(part: str) -> Callable[[Kit], str]:
    """A good token with one segment taken from another good token (other scopes)."""

    def build(kit: Kit) -> str:
        head, payload, signature = kit.token().split(".")
        o_head, o_payload, o_signature = kit.token(
            header=kit.header(typ=DROP), scp=["admin"], scope="admin"
        ).split(".")
        if part == "payload":
            return f"{head}.{o_payload}.{signature}"
        if part == "header":
            return f"{o_head}.{payload}.{signature}"
        return f"{head}.{payload}.{o_signature}"

    return build


def kid_like_the_real_one(change: Callable[[str], str]) -> Callable[[Kit], str]:
    def build(kit: Kit) -> str:
        kid = change(kit.kid)
        assert kid != kit.kid
        return kit.token(header=kit.header(kid=kid))

    return build


def oversized(kit: Kit) -> str:
    token = kit.token(padding="x" * MAX_TOKEN_LENGTH)
    assert len(token) > MAX_TOKEN_LENGTH
    return token


# Past any recursion limit, yet well within MAX_TOKEN_LENGTH once encoded.
DEEP = 20_000


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def payload_text(kit: Kit, text: str, **changes: Any) -> str:
    """The good claims (with ``changes``) as JSON text, ``text`` spliced in as the last members."""
    return json.dumps(kit.claims(**changes), separators=(",", ":"))[:-1] + "," + text + "}"


# --- the table ---

Attributes = Mapping[str, Any] | Callable[[Kit], Mapping[str, Any]]


@dataclass(frozen=True)
class Attack:
    name: str
    build: Callable[[Kit], object]
    error: type[TokenValidationError]
    attributes: Attributes = field(default_factory=dict)


def _algorithm(alg: object) -> dict[str, object]:
    return {"algorithm": alg}


def _issuer(actual: object) -> dict[str, object]:
    return {"expected": ISSUER, "actual": actual}


def _audience(actual: object) -> dict[str, object]:
    return {"expected": AUDIENCE, "actual": actual}


PEM, DER = serialization.Encoding.PEM, serialization.Encoding.DER
SPKI, PKCS1 = serialization.PublicFormat.SubjectPublicKeyInfo, serialization.PublicFormat.PKCS1

ALGORITHM_ATTACKS = [
    *(
        Attack(
            f"alg {alg}, unsigned",
            lambda kit, alg=alg: badtokens.alg_none(kit.factory, kit.claims(), alg=alg),
            DisallowedAlgorithmError,
            _algorithm(alg),
        )
        for alg in ("none", "None", "NONE", "nOnE")
    ),
    Attack(
        "alg none, the real signature kept",
        lambda kit: kit.token(header=kit.header(alg="none")),
        DisallowedAlgorithmError,
        _algorithm("none"),
    ),
    Attack(
        "alg missing",
        lambda kit: kit.token(header=kit.header(alg=DROP)),
        DisallowedAlgorithmError,
        _algorithm(None),
    ),
    Attack(
        "alg a list",
        lambda kit: kit.token(header=kit.header(alg=["RS256"])),
        DisallowedAlgorithmError,
        _algorithm(["RS256"]),
    ),
    Attack(
        "HS256 keyed with the public key PEM",
        lambda kit: badtokens.hs256_public_key(kit.factory, kit.claims()),
        DisallowedAlgorithmError,
        _algorithm("HS256"),
    ),
    Attack(
        "HS256 keyed with the public key PEM (PKCS#1)",
        hs256(public_bytes(PEM, PKCS1)),
        DisallowedAlgorithmError,
        _algorithm("HS256"),
    ),
    Attack(
        "HS256 keyed with the public key DER",
        hs256(public_bytes(DER, SPKI)),
        DisallowedAlgorithmError,
        _algorithm("HS256"),
    ),
    Attack(
        "HS256 keyed with the public JWK",
        hs256(jwk_json),
        DisallowedAlgorithmError,
        _algorithm("HS256"),
    ),
    # A valid RS256 signature under another algorithm's name: only the name is wrong.
    *(
        Attack(
            f"{alg} header",
            lambda kit, alg=alg: kit.token(header=kit.header(alg=alg)),
            DisallowedAlgorithmError,
            _algorithm(alg),
        )
        for alg in ("RS384", "RS512", "PS256", "ES256", "rs256", "RS256 ")
    ),
]

KEY_ATTACKS = [
    Attack(
        "kid missing",
        lambda kit: kit.token(header=kit.header(kid=DROP)),
        UnknownKeyError,
        {"kid": None},
    ),
    Attack(
        "kid null",
        lambda kit: kit.token(header=kit.header(kid=None)),
        UnknownKeyError,
        {"kid": None},
    ),
    Attack(
        "kid unknown, the attacker's key",
        attacker_signed(ATTACKER_KID),
        UnknownKeyError,
        {"kid": ATTACKER_KID},
    ),
    Attack("kid the issuer's, the attacker's key", attacker_signed(None), InvalidSignatureError),
    *(
        Attack(
            f"kid {name}",
            lambda kit, kid=kid: kit.token(header=kit.header(kid=kid)),
            UnknownKeyError,
            {"kid": kid},
        )
        for name, kid in (
            ("path traversal", "../../../../../../etc/passwd"),
            ("absolute path", "/dev/zero"),
            ("URL", "https://evil.example/jwks#key"),
            ("very long", "k" * 40_000),
            ("empty", ""),
        )
    ),
    *(
        Attack(
            f"kid {name}",
            kid_like_the_real_one(change),
            UnknownKeyError,
            lambda kit, change=change: {"kid": change(kit.kid)},
        )
        for name, change in (
            ("a path to the real one", lambda kid: f"./{kid}"),
            ("a traversal to the real one", lambda kid: f"keys/../{kid}"),
            ("the real one in another case", str.swapcase),
            ("the real one and a NUL", lambda kid: f"{kid}\x00"),
            ("the real one and a space", lambda kid: f"{kid} "),
        )
    ),
    *(
        Attack(
            f"kid {name}",
            lambda kit, kid=kid: kit.token(header=kit.header(kid=kid)),
            MalformedTokenError,
        )
        for name, kid in (("a number", 7), ("a list", ["k"]), ("an object", {"kid": "k"}))
    ),
    # Keys named by the token itself are never fetched nor used: still the configured set.
    Attack(
        "jwk header with the attacker's key",
        attacker_signed(ATTACKER_KID, jwk=Kit.attacker_jwk),
        UnknownKeyError,
        {"kid": ATTACKER_KID},
    ),
    Attack(
        "jwk header with the attacker's key, the issuer's kid",
        attacker_signed(None, jwk=lambda kit: {**kit.attacker_jwk(), "kid": kit.kid}),
        InvalidSignatureError,
    ),
    Attack(
        "jku header to the attacker's JWKS",
        attacker_signed(ATTACKER_KID, jku=lambda kit: kit.decoy.url),
        UnknownKeyError,
        {"kid": ATTACKER_KID},
    ),
    Attack(
        "jku header to the attacker's JWKS, the issuer's kid",
        attacker_signed(None, jku=lambda kit: kit.decoy.url),
        InvalidSignatureError,
    ),
    Attack(
        "x5u header to the attacker's host",
        attacker_signed(ATTACKER_KID, x5u=lambda kit: kit.decoy.url),
        UnknownKeyError,
        {"kid": ATTACKER_KID},
    ),
    Attack(
        "x5c header with the attacker's certificate",
        attacker_signed(ATTACKER_KID, x5c=attacker_certificate),
        UnknownKeyError,
        {"kid": ATTACKER_KID},
    ),
    Attack(
        "x5c header with the attacker's certificate, the issuer's kid",
        attacker_signed(None, x5c=attacker_certificate),
        InvalidSignatureError,
    ),
    Attack(
        "crit header",
        lambda kit: kit.token(header=kit.header(crit=["exp"], exp=NOW + 60)),
        MalformedTokenError,
    ),
    Attack(
        "crit b64: an unencoded payload (RFC 7797)",
        lambda kit: kit.token(header=kit.header(crit=["b64"], b64=False)),
        MalformedTokenError,
    ),
]

# The same bytes spelled another way: 4 unused bits in a 2048-bit signature's last character.
ENCODING_ATTACKS = [
    *(
        Attack(
            f"signature respelled, unused bits {bits:04b}",
            respelled_signature(bits),
            MalformedTokenError,
        )
        for bits in range(1, 16)
    ),
    *(
        Attack(
            f"{part} respelled, unused bits {bits:b}",
            respelled_segment(i, bits),
            MalformedTokenError,
        )
        for i, part in enumerate(("header", "payload"))
        for bits in (1, 3)
    ),
    Attack(
        "signature padded", in_signature(lambda s: s + "=" * (-len(s) % 4)), MalformedTokenError
    ),
    Attack("header padded", padded_segment(0), MalformedTokenError),
    Attack("payload padded", padded_segment(1), MalformedTokenError),
    Attack("signature in the standard alphabet", standard_alphabet, MalformedTokenError),
    Attack(
        "space in the signature", in_signature(lambda s: s[:50] + " " + s[50:]), MalformedTokenError
    ),
    Attack("newline after the signature", in_signature(lambda s: s + "\n"), MalformedTokenError),
    Attack(
        "CRLF in the signature",
        in_signature(lambda s: s[:64] + "\r\n" + s[64:]),
        MalformedTokenError,
    ),
    Attack(
        "tab before the payload",
        lambda kit: kit.token().replace(".", ".\t", 1),
        MalformedTokenError,
    ),
    # A decoder that skips what is not base64 drops the first; NFKC turns the second back.
    Attack(
        "non-ASCII letter added to the signature",
        in_signature(lambda s: s[:100] + "\u0410" + s[100:]),
        MalformedTokenError,
    ),
    Attack(
        "signature letters in their fullwidth forms",
        in_signature(lambda s: "".join(fullwidth(c) for c in s)),
        MalformedTokenError,
    ),
    Attack(
        "a 4th segment",
        lambda kit: kit.token() + "." + kit.token().split(".")[2],
        MalformedTokenError,
    ),
    Attack("a 4th, empty segment", lambda kit: kit.token() + ".", MalformedTokenError),
    Attack("JWE-like 5 segments", lambda kit: kit.token() + ".AAAA.AAAA", MalformedTokenError),
    Attack("no signature segment", lambda kit: kit.token().rsplit(".", 1)[0], MalformedTokenError),
]

SIGNATURE_ATTACKS = [
    Attack("empty signature", in_signature(lambda s: ""), InvalidSignatureError),
    Attack(
        "truncated signature",
        lambda kit: badtokens.truncated_signature(kit.factory, kit.claims()),
        InvalidSignatureError,
    ),
    Attack(
        "signature bit flipped",
        lambda kit: badtokens.tampered_signature(kit.factory, kit.claims(), byte=100),
        InvalidSignatureError,
    ),
    Attack(
        "payload edited after signing",
        lambda kit: badtokens.tampered_payload(kit.factory, kit.claims()),
        InvalidSignatureError,
    ),
    Attack("signature of another token", another_tokens("signature"), InvalidSignatureError),
    Attack("payload of another token", another_tokens("payload"), InvalidSignatureError),
    Attack("header of another token", another_tokens("header"), InvalidSignatureError),
]

CLAIM_ATTACKS = [
    Attack(
        "expired at the leeway's edge",
        lambda kit: kit.token(exp=NOW - LEEWAY),
        TokenExpiredError,
        {"expired_at": NOW - LEEWAY},
    ),
    Attack(
        "expired long ago",
        lambda kit: kit.token(iat=NOW - 90_000, exp=NOW - 86_400),
        TokenExpiredError,
        {"expired_at": NOW - 86_400},
    ),
    Attack(
        "exp hugely negative",
        lambda kit: kit.token(exp=-(10**400)),
        TokenExpiredError,
        {"expired_at": -(10**400)},
    ),
    Attack(
        "nbf in the future beyond the leeway",
        lambda kit: kit.token(nbf=NOW + LEEWAY + 1),
        TokenNotYetValidError,
        {"valid_from": NOW + LEEWAY + 1},
    ),
    Attack(
        "iat in the future beyond the leeway",
        lambda kit: kit.token(iat=NOW + LEEWAY + 1),
        TokenNotYetValidError,
        {"valid_from": NOW + LEEWAY + 1},
    ),
    *(
        Attack(f"exp {name}", lambda kit, exp=exp: kit.token(exp=exp), MalformedTokenError)
        for name, exp in (
            ("missing", DROP),
            ("a string", str(NOW + 3600)),
            ("a boolean", True),
            ("a list", [NOW + 3600]),
        )
    ),
    *(
        Attack(
            f"{claim} {literal}",
            lambda kit, claim=claim, literal=literal: kit.signed(
                encode_segment(kit.header()),
                raw_json(payload_text(kit, f'"{claim}":{literal}', **{claim: DROP})),
            ),
            MalformedTokenError,
        )
        for claim, literal in (
            ("exp", "NaN"),
            ("exp", "Infinity"),
            ("exp", "1e999"),  # huge: json reads it as inf
            ("exp", "-1e999"),
            ("nbf", "NaN"),
            ("iat", "1e999"),
        )
    ),
    *(
        Attack(
            f"iss {name}",
            lambda kit, iss=iss: kit.token(iss=iss),
            InvalidIssuerError,
            _issuer(None if iss is DROP else iss),
        )
        for name, iss in (
            ("with a trailing slash", ISSUER + "/"),
            ("in upper case", ISSUER.upper()),
            ("with a host in upper case", "https://ACME.kinde.com"),
            ("over http", ISSUER.replace("https://", "http://")),
            ("of another tenant", "https://evil.kinde.com"),
            ("with a path", ISSUER + "/other"),
            ("as a suffix", "https://acme.kinde.com.evil.example"),
            ("with a space", " " + ISSUER),
            ("in a list", [ISSUER]),
            ("missing", DROP),
        )
    ),
    *(
        Attack(
            f"aud {name}",
            lambda kit, aud=aud: kit.token(aud=aud),
            InvalidAudienceError,
            _audience(None if aud is DROP else aud),
        )
        for name, aud in (
            ("another API, a string", "https://other.example.com"),
            ("another API, a list", ["https://other.example.com"]),
            ("with a trailing slash, a string", AUDIENCE + "/"),
            ("with a trailing slash, a list", [AUDIENCE + "/"]),
            ("in upper case", AUDIENCE.upper()),
            ("over http", AUDIENCE.replace("https://", "http://")),
            ("an empty list", []),
            ("a nested list", [[AUDIENCE]]),
            ("a list with a number", [AUDIENCE, 1]),
            ("an object", {AUDIENCE: True}),
            ("missing", DROP),
        )
    ),
]

# Of duplicate member names the last counts (RFC 7515 4, RFC 7519 4), as in PyJWT: each row
# puts the bad value last, so a parser that kept the first would let the token through.
JSON_ATTACKS = [
    Attack(
        "header alg duplicated, none last",
        lambda kit: kit.signed(
            raw_json(f'{{"alg":"RS256","kid":"{kit.kid}","alg":"none"}}'),
            encode_segment(kit.claims()),
        ),
        DisallowedAlgorithmError,
        _algorithm("none"),
    ),
    Attack(
        "header kid duplicated, unknown last",
        lambda kit: kit.signed(
            raw_json(f'{{"alg":"RS256","kid":"{kit.kid}","kid":"other"}}'),
            encode_segment(kit.claims()),
        ),
        UnknownKeyError,
        {"kid": "other"},
    ),
    Attack(
        "payload iss duplicated, another tenant last",
        lambda kit: kit.signed(
            encode_segment(kit.header()),
            raw_json(payload_text(kit, '"iss":"https://evil.kinde.com"')),
        ),
        InvalidIssuerError,
        _issuer("https://evil.kinde.com"),
    ),
    Attack(
        "payload exp duplicated, the past last",
        lambda kit: kit.signed(
            encode_segment(kit.header()), raw_json(payload_text(kit, f'"exp":{NOW - 3600}'))
        ),
        TokenExpiredError,
        {"expired_at": NOW - 3600},
    ),
    Attack(
        "lone surrogate in the header",
        lambda kit: kit.token(header=kit.header(kid=kit.kid + "\ud800")),
        MalformedTokenError,
    ),
    Attack(
        "lone surrogate in a claim",
        lambda kit: kit.token(sub="kp_\udc00"),
        MalformedTokenError,
    ),
    Attack(
        "lone surrogate in a member name",
        lambda kit: kit.token(**{"\ud83d": "x"}),
        MalformedTokenError,
    ),
    Attack(
        "surrogate as UTF-8 bytes",
        lambda kit: kit.signed(
            encode_segment(kit.header()),
            b64url(payload_text(kit, '"sub":"x"').encode().replace(b'"x"', b'"\xed\xa0\x80"')),
        ),
        MalformedTokenError,
    ),
    Attack(
        "payload in Latin-1",
        lambda kit: kit.signed(
            encode_segment(kit.header()),
            b64url(payload_text(kit, '"name":"Jos\u00e9"').encode("latin-1")),
        ),
        MalformedTokenError,
    ),
    Attack(
        "payload after a byte order mark",
        lambda kit: kit.signed(
            encode_segment(kit.header()),
            b64url(b"\xef\xbb\xbf" + payload_text(kit, '"x":1').encode()),
        ),
        MalformedTokenError,
    ),
    Attack(
        "header nested deeply, unsigned",
        lambda kit: raw_json('{"alg":' + nested(DEEP) + "}") + f".{encode_segment(kit.claims())}.",
        MalformedTokenError,
    ),
    Attack(
        "payload nested deeply",
        lambda kit: kit.signed(
            encode_segment(kit.header()), raw_json(payload_text(kit, f'"x":{nested(DEEP)}'))
        ),
        MalformedTokenError,
    ),
    Attack(
        "header a JSON list",
        lambda kit: kit.signed(raw_json(f'["RS256","{kit.kid}"]'), encode_segment(kit.claims())),
        MalformedTokenError,
    ),
    Attack(
        "payload a JSON string",
        lambda kit: kit.signed(encode_segment(kit.header()), raw_json('"claims"')),
        MalformedTokenError,
    ),
]

SHAPE_ATTACKS = [
    Attack("token over the maximum length", oversized, MalformedTokenError),
    Attack("token empty", lambda kit: "", MalformedTokenError),
    Attack("token as bytes", lambda kit: kit.token().encode(), MalformedTokenError),
    Attack("token None", lambda kit: None, MalformedTokenError),
    Attack("token a number", lambda kit: 42, MalformedTokenError),
    Attack("token a list of segments", lambda kit: kit.token().split("."), MalformedTokenError),
]

ATTACKS = (
    ALGORITHM_ATTACKS
    + KEY_ATTACKS
    + ENCODING_ATTACKS
    + SIGNATURE_ATTACKS
    + CLAIM_ATTACKS
    + JSON_ATTACKS
    + SHAPE_ATTACKS
)


@pytest.fixture(scope="module")
def kit() -> Iterator[Kit]:
    attacker = KeyStore()
    key = attacker.public_key(attacker.active_kid)
    assert key is not None
    decoy = Decoy(json.dumps({"keys": [public_jwk(key, ATTACKER_KID)]}).encode())
    try:
        yield Kit(keys=KeyStore(), attacker=attacker, decoy=decoy)
    finally:
        decoy.close()


def validator(kit: Kit) -> TokenValidator:
    return TokenValidator(
        issuer=ISSUER, audience=AUDIENCE, jwks=kit.keys, leeway=LEEWAY, clock=lambda: NOW
    )


def test_the_names_are_unique() -> None:
    names = [attack.name for attack in ATTACKS]
    assert len(set(names)) == len(names)


def test_the_good_token_and_near_misses_validate(kit: Kit) -> None:
    # Each row changes one thing in these, so its error is that thing's.
    checker = validator(kit)
    assert checker.validate(kit.token()).client_id == APP.client_id
    assert checker.validate(kit.token(exp=NOW - LEEWAY + 1, nbf=NOW + LEEWAY, iat=NOW + LEEWAY))
    assert checker.validate(kit.token(aud=AUDIENCE)).audiences == (AUDIENCE,)
    assert checker.validate(kit.token(aud=["https://other.example.com", AUDIENCE]))
    unusual = [with_unused_bits(kit.header()), with_unused_bits(kit.claims())]
    assert checker.validate(kit.signed(*unusual))  # the rows' canonical spellings
    assert len(kit.token().split(".")[2]) % 4 == 2  # 2048 bits: 4 unused, 15 respellings


def test_only_the_size_row_is_refused_for_its_size(kit: Kit) -> None:
    tokens = {attack.name: attack.build(kit) for attack in ATTACKS}
    oversized = [n for n, t in tokens.items() if isinstance(t, str) and len(t) > MAX_TOKEN_LENGTH]
    assert oversized == ["token over the maximum length"]


@pytest.mark.parametrize("attack", ATTACKS, ids=[attack.name for attack in ATTACKS])
def test_the_attack_is_refused_with_its_error(attack: Attack, kit: Kit) -> None:
    token = attack.build(kit)
    with pytest.raises(TokenValidationError) as info:
        validator(kit).validate(token)  # type: ignore[arg-type]  # rows send non-str too
    error = info.value
    assert type(error) is attack.error, error
    expected = attack.attributes(kit) if callable(attack.attributes) else attack.attributes
    for name, value in expected.items():
        assert getattr(error, name) == value, name
    assert kit.decoy.requests == 0  # keys named by the token are never fetched

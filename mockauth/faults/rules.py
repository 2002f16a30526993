"""Fault rules as data: where they apply (match), what they do (effect), how often
(frequency); parsed and validated from mappings. ``faultengine`` decides which rule fires,
``middleware`` carries the effect out.

A rule is written the same way in the config file (``[[faults]]``), in the admin API's JSON
and in Python (a mapping passed to :func:`parse_rule` or ``FaultEngine.add``)::

    {"endpoint": "token", "client_id": "...", "effect": "error", "status": 503, "times": 2}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mockauth import paths
from mockauth.errors import _MISSING, ConfigError
from mockauth.tenant.journal import RequestSummary
from mockauth.tenant.validate import CONTROLS, Bounds, Reader, Table, Text

# Endpoint names a rule can match, and the paths behind each ("any": every non-admin path).
ENDPOINTS: Mapping[str, tuple[str, ...]] = {
    "token": (paths.TOKEN,),
    "jwks": (paths.JWKS, paths.JWKS_JSON),
    "discovery": (paths.DISCOVERY,),
    "authorize": (paths.AUTHORIZE,),
    "userinfo": (paths.USERINFO, paths.USERINFO_V1),
    "introspect": (paths.INTROSPECT,),
    "revoke": (paths.REVOKE,),
    "logout": (paths.LOGOUT,),
    "device": (paths.DEVICE_AUTH, paths.DEVICE),
    "management": (),  # every path under MANAGEMENT (ENDPOINT_PREFIXES)
    "account": (),  # every path under ACCOUNT_API
    "any": (),
}
# Endpoints that are a whole tree of paths: Kinde's Management API and Account API.
ENDPOINT_PREFIXES: Mapping[str, str] = {
    "management": paths.MANAGEMENT + "/",
    "account": paths.ACCOUNT_API + "/",
}
# Each effect and the parameters it takes.
EFFECTS: Mapping[str, frozenset[str]] = {
    "latency": frozenset({"delay"}),
    "error": frozenset({"status", "error", "description"}),
    "throttle": frozenset({"retry_after", "description"}),
    "invalid_json": frozenset(),
    "truncated": frozenset(),
    "wrong_content_type": frozenset(),
    "html_error": frozenset({"status"}),
    "empty": frozenset(),
    "hang": frozenset({"timeout"}),
    "close": frozenset(),
    "bad_token": frozenset({"token"}),
    "jwks_empty": frozenset(),
    "jwks_missing_key": frozenset(),
}
# The tokens a bad_token fault can hand out: the names of badtokens.BAD_TOKENS, which pairs
# each with the error a validator must raise (named here so that parsing a rule needs no
# token machinery; a test holds the two equal).
BAD_TOKEN_NAMES = (
    "expired",
    "not_yet_valid",
    "wrong_audience",
    "wrong_issuer",
    "missing_scopes",
    "tampered_payload",
    "tampered_signature",
    "truncated_signature",
    "unknown_kid",
    "missing_kid",
    "alg_none",
    "hs256_public_key",
    "malformed",
)
# Effects that only make sense on one endpoint.
EFFECT_ENDPOINT = {"bad_token": "token", "jwks_empty": "jwks", "jwks_missing_key": "jwks"}
FORM_MATCHERS = ("client_id", "audience", "grant_type")
MATCH_KEYS = frozenset({"endpoint", "path", *FORM_MATCHERS})
# Every key a rule may have besides the frequency ones.
FAULT_FIELDS = MATCH_KEYS | {"id", "effect"} | frozenset().union(*EFFECTS.values())
ERROR_STATUSES = frozenset({*range(400, 500), 500, 502, 503, 504})
# The HTTP status each OAuth error code is usually answered with.
ERROR_STATUS = {
    "invalid_request": 400,
    "invalid_client": 401,
    "invalid_grant": 400,
    "unauthorized_client": 400,
    "unsupported_grant_type": 400,
    "invalid_scope": 400,
    "access_denied": 403,
    "invalid_token": 401,
    "server_error": 500,
    "temporarily_unavailable": 503,
}
MAX_DELAY = 120.0
MAX_HANG = 600.0
DEFAULT_HANG = 30.0
RULE_ID = Text("^[A-Za-z0-9_.:-]{1,64}$", "must be 1 to 64 letters, digits or _ . : -")
# RFC 6749 error chars.
ERROR_CODE = Text(
    "^[\\x21\\x23-\\x5b\\x5d-\\x7e]{1,64}$",
    "must be an OAuth error code such as invalid_client",
)
RULE_ID_RE = RULE_ID.regex
ERROR_CODE_RE = ERROR_CODE.regex
# What a matcher (client_id, audience, grant_type) or a description holds.
MATCH_TEXT = Text(
    f"^[^{CONTROLS}]+$", "must be non-empty text without control characters", max_length=1000
)
PATH = Text(
    f"^/(?!{paths.ADMIN[1:]})[^{CONTROLS}]*$",
    f"must start with '/' and not with {paths.ADMIN}, with no control characters",
    max_length=1000,
)
# Every number a rule takes, with its range.
DELAY = Bounds(0.0, MAX_DELAY)
TIMEOUT = Bounds(0.0, MAX_HANG)
RETRY_AFTER = Bounds(0, 86_400, integer=True)
HTML_STATUS = Bounds(400, 599, integer=True)
FREQUENCY: Mapping[str, Bounds] = {
    "times": Bounds(1, 10**9, integer=True),
    "every": Bounds(1, 10**9, integer=True),
    "probability": Bounds(0.0, 1.0, open_low=True),
    "seed": Bounds(0, 2**63 - 1, integer=True),
    "expires_in": Bounds(0.0, 10.0**9, open_low=True),
}
FREQUENCY_KEYS = frozenset(FREQUENCY)


@dataclass(frozen=True, kw_only=True)
class Match:
    """Which requests a rule applies to; form fields are only known on the token endpoint."""

    endpoint: str = "any"
    path: str | None = None
    client_id: str | None = None
    audience: str | None = None
    grant_type: str | None = None

    @property
    def needs_form(self) -> bool:
        return any(getattr(self, name) is not None for name in FORM_MATCHERS)

    def matches(self, request: RequestSummary) -> bool:
        if self.path is not None:
            if request.path != self.path:
                return False
        elif self.endpoint in ENDPOINT_PREFIXES:
            if not request.path.startswith(ENDPOINT_PREFIXES[self.endpoint]):
                return False
        elif self.endpoint != "any" and request.path not in ENDPOINTS[self.endpoint]:
            return False
        if self.client_id is not None and request.client_id != self.client_id:
            return False
        if self.grant_type is not None and request.grant_type != self.grant_type:
            return False
        return self.audience is None or self.audience in request.audiences


@dataclass(frozen=True, kw_only=True)
class Effect:
    """What happens; only the parameters of ``kind`` (see ``EFFECTS``) are set."""

    kind: str
    delay: tuple[float, float] | None = None  # latency: seconds, (low, high)
    status: int | None = None  # error, html_error
    error: str | None = None  # error: the OAuth error code
    description: str | None = None  # error, throttle
    retry_after: int | None = None  # throttle: seconds, in RateLimit-Reset and Retry-After
    timeout: float | None = None  # hang: seconds before the connection is closed
    token: str | None = None  # bad_token: a badtokens.BAD_TOKENS name


@dataclass(frozen=True, kw_only=True)
class Frequency:
    """How often: on every ``every``-th matching request, with probability ``probability``,
    at most ``times`` times, until ``expires_in`` seconds after the rule was added."""

    times: int | None = None
    every: int = 1
    probability: float = 1.0
    seed: int | None = None
    expires_in: float | None = None

    @property
    def stateless(self) -> bool:
        """True when firing does not depend on counters, draws or time (always fires)."""
        counted = self.times is not None or self.every != 1 or self.expires_in is not None
        return not counted and self.probability >= 1.0


@dataclass(frozen=True, kw_only=True)
class FaultRule:
    """One fault rule: where (``match``), what (``effect``) and how often (``frequency``)."""

    id: str = ""
    match: Match = field(default_factory=Match)
    effect: Effect
    frequency: Frequency = field(default_factory=Frequency)

    @property
    def uses_random(self) -> bool:
        delay = self.effect.delay
        return self.frequency.probability < 1.0 or (delay is not None and delay[0] != delay[1])

    def to_dict(self) -> dict[str, Any]:
        """The rule as written in config or JSON; ``parse_rule(rule.to_dict())`` round-trips."""
        out: dict[str, Any] = {"id": self.id} if self.id else {}
        if self.match.path is not None:
            out["path"] = self.match.path
        else:
            out["endpoint"] = self.match.endpoint
        for name in FORM_MATCHERS:
            if getattr(self.match, name) is not None:
                out[name] = getattr(self.match, name)
        out["effect"] = self.effect.kind
        for name in sorted(EFFECTS[self.effect.kind]):
            value = getattr(self.effect, name)
            if name == "delay" and value is not None:
                value = value[0] if value[0] == value[1] else list(value)
            if value is not None:
                out[name] = value
        defaults = Frequency()
        for name in ("times", "every", "probability", "seed", "expires_in"):
            value = getattr(self.frequency, name)
            if value != getattr(defaults, name):
                out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class Decision:
    """The rule that fired for a request, with its random latency already drawn."""

    rule: FaultRule
    delay: float = 0.0


# --- parsing -------------------------------------------------------------------------------


def parse_rule(data: object, *, source: str = "fault", key: str = "") -> FaultRule:
    """Validate one rule mapping; raise ConfigError naming ``source``, the key and the value."""
    reader = Table(Reader(source), data, key, what="rule")
    reader.only(FAULT_FIELDS | FREQUENCY_KEYS)
    kind = reader.choice("effect", EFFECTS, required=True)
    takes = ", ".join(sorted(EFFECTS[kind])) or "none"
    reader.only(
        MATCH_KEYS | FREQUENCY_KEYS | {"id", "effect"} | EFFECTS[kind],
        f"not a parameter of effect {kind!r} (it takes: {takes})",
    )
    rule_id = reader.string("id", RULE_ID, default="")
    match = _match(reader, kind)
    return FaultRule(id=rule_id, match=match, effect=_effect(reader, kind), frequency=_freq(reader))


def parse_rules(data: object, *, source: str = "fault", key: str = "") -> list[FaultRule]:
    """Validate a list of rule mappings; ids must be unique. All are valid, or none is used."""
    if not isinstance(data, list):
        raise ConfigError(source, key or "(rules)", data, "must be an array of fault rules")
    rules = [parse_rule(item, source=source, key=f"{key}[{i}]") for i, item in enumerate(data)]
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.id and rule.id in seen:
            raise Reader(source).conflict(f"{key}[{i}].id", rule.id, "duplicate fault id")
        seen.add(rule.id)
    return rules


def _match(reader: Table, kind: str) -> Match:
    path = reader.string("path", PATH)
    if path is not None and "endpoint" in reader.data:
        raise reader.fail("path", path, "give either endpoint or path, not both")
    form = {name: reader.string(name, MATCH_TEXT) for name in FORM_MATCHERS}
    needs_form = any(v is not None for v in form.values())
    # A rule on client, audience or grant type is about token requests unless it says so.
    default = EFFECT_ENDPOINT.get(kind) or ("token" if needs_form else "any")
    endpoint = reader.choice("endpoint", ENDPOINTS) or default
    where = _endpoint_of(endpoint, path)
    if needs_form and where != "token":
        name = next(n for n, v in form.items() if v is not None)
        raise reader.fail(name, form[name], "can only be matched on the token endpoint")
    wanted = EFFECT_ENDPOINT.get(kind)
    if wanted is not None and where != wanted:
        bad = ("path", path) if path is not None else ("endpoint", endpoint)
        raise reader.fail(*bad, f"effect {kind!r} only applies to the {wanted} endpoint")
    return Match(endpoint=endpoint, path=path, **form)


def _endpoint_of(endpoint: str, path: str | None) -> str:
    if path is None:
        return endpoint
    for name, prefix in ENDPOINT_PREFIXES.items():
        if path.startswith(prefix):
            return name
    return next((name for name, ps in ENDPOINTS.items() if path in ps), "any")


def _effect(reader: Table, kind: str) -> Effect:
    if kind == "latency":
        return Effect(kind=kind, delay=_delay(reader))
    if kind == "error":
        return _error_effect(reader)
    if kind == "throttle":
        retry = reader.bounded("retry_after", RETRY_AFTER, 1)
        return Effect(kind=kind, retry_after=retry, description=_description(reader))
    if kind == "html_error":
        return Effect(kind=kind, status=reader.bounded("status", HTML_STATUS, 502))
    if kind == "hang":
        return Effect(kind=kind, timeout=reader.bounded("timeout", TIMEOUT, DEFAULT_HANG))
    if kind == "bad_token":
        return Effect(kind=kind, token=reader.choice("token", BAD_TOKEN_NAMES, required=True))
    return Effect(kind=kind)


def _description(reader: Table) -> str | None:
    description: str | None = reader.string("description", MATCH_TEXT)
    return description


def _delay(reader: Table) -> tuple[float, float]:
    """Seconds, or a range [a, b] to draw from (its ends in either order)."""
    value = reader.data.get("delay", _MISSING)
    if isinstance(value, list):
        if len(value) != 2:
            raise reader.fail("delay", value, "a range must be [low, high] in seconds")
        ends = [
            reader.number_value(f"delay[{i}]", v, DELAY.low, DELAY.high)
            for i, v in enumerate(value)
        ]
        return (min(ends), max(ends))
    if value is _MISSING:
        raise reader.fail("delay", value, "required for effect 'latency' (seconds or [low, high])")
    seconds = reader.number_value("delay", value, DELAY.low, DELAY.high)
    return (seconds, seconds)


def _error_effect(reader: Table) -> Effect:
    code = reader.string("error", ERROR_CODE)
    default = ERROR_STATUS.get(code or "", 400) if code else None
    status = reader.integer("status", low=400, high=599, default=default)
    if status is None:
        raise reader.fail("status", _MISSING, "give status (4xx, 500, 502, 503, 504) or error")
    if status not in ERROR_STATUSES:
        raise reader.fail("status", status, "must be a 4xx status or one of 500, 502, 503, 504")
    if code is None:
        code = _default_code(status)
    return Effect(kind="error", status=status, error=code, description=_description(reader))


def _default_code(status: int) -> str:
    if status >= 500:
        return "temporarily_unavailable" if status == 503 else "server_error"
    by_status = {401: "invalid_client", 403: "access_denied", 404: "not_found"}
    return by_status.get(status, "invalid_request")


def _freq(reader: Table) -> Frequency:
    given = {name: reader.bounded(name, bounds) for name, bounds in FREQUENCY.items()}
    return Frequency(**{name: value for name, value in given.items() if value is not None})

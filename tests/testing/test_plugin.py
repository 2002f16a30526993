"""The pytest plugin, used the way a project that installs mockauth uses it: test files and
conftests written with ``pytester``, run by pytest, outcomes counted. A few direct tests at
the end use the fixtures in this session (the plugin is loaded through its entry point)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from mockauth.errors import ConfigError, InvalidScopeError, UnauthorizedClientError
from mockauth.tenant.config import default_config
from mockauth.testing.helpers import MockAuthASGI, httpx_module
from mockauth.testing.plugin import resolve_config

# A strict user project: unknown markers and any warning fail the run.
INI = """
[pytest]
addopts = --strict-markers -p no:cacheprovider
filterwarnings = error
"""
DEFAULT_ID = "db7910a2cb5ef186a47f64aa64eb7783"
DEFAULT_SECRET = "xQ4B4wc6gRUY6ziaDN1ti8EZKmMahPycjfeyPhInaflKHGTel1"
pytestmark = pytest.mark.e2e  # its tests start real servers (in pytester projects)
# What the user's test files import: whichever httpx they have, and a token request.
PRELUDE = """
import os
import time

import jwt
import pytest

try:
    import httpx
except ImportError:
    import httpx2 as httpx

from mockauth.faults.badtokens import BAD_TOKENS
from mockauth.errors import ConfigError, TokenExpiredError, UnknownKeyError

CALENDAR = "https://api.example.com"
DEFAULT_ID = "db7910a2cb5ef186a47f64aa64eb7783"


def form(auth, **extra):
    data = {
        "grant_type": "client_credentials",
        "client_id": auth.client_id,
        "client_secret": auth.client_secret,
        "audience": auth.default_audience(),
    }
    data.update(extra)
    return data


def fetch(auth, **extra):
    return httpx.post(auth.token_url, data=form(auth, **extra), timeout=10)


def verify(auth, token, audience=CALENDAR):
    key = jwt.PyJWKClient(auth.jwks_url).get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=auth.issuer)


def unverified(token):
    return jwt.decode(token, options={"verify_signature": False})
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeini(INI)
    # A user's project does not have this checkout on its path: here it would show pytest
    # the checkout's egg-info, and pytest would try to rewrite mockauth's own modules.
    root = str(Path(__file__).resolve().parents[2])
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in (root, "")])
    return pytester


def user_tests(body: str) -> str:
    return PRELUDE + body


# --- registration and defaults -------------------------------------------------------------


def test_entry_point_registers_fixtures_and_marker(project: pytest.Pytester) -> None:
    fixtures = project.runpytest_subprocess("--fixtures")
    for name in ("mockauth_config", "mockauth_server", "mockauth", "mockauth_asgi_app"):
        fixtures.stdout.fnmatch_lines([f"{name} [[]*scope*[]]*" if "_" in name else f"{name}*"])
    fixtures.stdout.fnmatch_lines(["mockauth_asgi*"])
    markers = project.runpytest_subprocess("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.mockauth(apis=*frozen_at=*"])


def test_default_config_serves_real_tokens(project: pytest.Pytester) -> None:
    project.makepyfile(
        user_tests(
            f"""
SEEN = []


def test_addresses(mockauth, mockauth_server):
    assert mockauth.url == mockauth_server.url
    assert mockauth.url.startswith("http://127.0.0.1:")
    assert mockauth.issuer == mockauth.url
    assert mockauth.token_url == mockauth.url + "/oauth2/token"
    assert mockauth.jwks_url == mockauth.url + "/.well-known/jwks"
    assert httpx.get(mockauth.discovery_url).json()["jwks_uri"] == mockauth.jwks_url
    assert mockauth.client_id == DEFAULT_ID
    assert mockauth.client_secret == "{DEFAULT_SECRET}"
    assert mockauth.default_audience() == CALENDAR
    SEEN.append(mockauth_server)


def test_one_server_for_the_session(mockauth_server):
    assert SEEN == [mockauth_server]


def test_minted_token_verifies_against_the_jwks(mockauth):
    claims = verify(mockauth, mockauth.token(scopes=["read:calendar"]))
    assert claims["azp"] == DEFAULT_ID
    assert claims["scp"] == ["read:calendar"]
    assert claims["gty"] == ["client_credentials"]


def test_minted_answer_matches_the_endpoint(mockauth):
    wire = fetch(mockauth).json()
    mine = mockauth.token_response()
    assert set(mine) == set(wire)
    assert (mine["scope"], mine["expires_in"]) == (wire["scope"], wire["expires_in"])
    assert unverified(mine["access_token"])["aud"] == unverified(wire["access_token"])["aud"]


def test_management_api_audience(mockauth):
    token = mockauth.token(audience=mockauth.issuer + "/api", scopes="read:users")
    assert verify(mockauth, token, audience=mockauth.issuer + "/api")["scp"] == ["read:users"]
"""
        )
    )
    project.runpytest_subprocess().assert_outcomes(passed=5)


# --- configuration -------------------------------------------------------------------------

CONFIG_TOML = """
issuer = "https://acme.kinde.com"

[[apis]]
audience = "https://orders.example.com"
scopes = ["read:orders", "write:orders"]

[[apps]]
name = "Order sync"
client_id = "0123456789abcdef0123456789abcdef"
client_secret = "OrderSecret1OrderSecret1OrderSecret1OrderSecret1"

[apps.apis]
"https://orders.example.com" = ["read:orders"]
"""
CUSTOM_TESTS = """
def test_custom_config(mockauth):
    assert mockauth.issuer == "https://acme.kinde.com"
    assert mockauth.url.startswith("http://127.0.0.1:")
    assert mockauth.client_id == "0123456789abcdef0123456789abcdef"
    env = mockauth.env()
    assert (env["KINDE_ISSUER_URL"], env["KINDE_HOST"]) == (mockauth.issuer, mockauth.url)
    answer = fetch(mockauth)
    assert answer.status_code == 200
    claims = verify(mockauth, answer.json()["access_token"], "https://orders.example.com")
    assert (claims["iss"], claims["scp"]) == ("https://acme.kinde.com", ["read:orders"])


def test_in_process_uses_it_too(mockauth_asgi):
    assert mockauth_asgi.issuer == "https://acme.kinde.com"
    assert mockauth_asgi.default_audience() == "https://orders.example.com"
"""


@pytest.mark.parametrize(
    "returns",
    [
        'Path(__file__).parent / "auth.toml"',
        'str(Path(__file__).parent / "auth.toml")',
        'load_config(Path(__file__).parent / "auth.toml")',
        'parse_config(Path(__file__).with_name("auth.toml").read_bytes(), source="mem")',
    ],
    ids=["path", "str", "load_config", "ServerConfig"],
)
def test_config_overridden_in_conftest(project: pytest.Pytester, returns: str) -> None:
    project.makefile(".toml", auth=CONFIG_TOML)
    project.makeconftest(
        f"""
from pathlib import Path

import pytest

from mockauth.tenant.config import load_config, parse_config


@pytest.fixture(scope="session")
def mockauth_config():
    return {returns}
"""
    )
    project.makepyfile(user_tests(CUSTOM_TESTS))
    project.runpytest().assert_outcomes(passed=2)


def test_mockauth_tls_serves_https_that_the_helper_trusts(project: pytest.Pytester) -> None:
    project.makeconftest(
        """
import pytest


@pytest.fixture(scope="session")
def mockauth_tls():
    return True
"""
    )
    project.makepyfile(
        user_tests(
            """
import ssl
import urllib.error
import urllib.request


def test_https_end_to_end(mockauth, monkeypatch):
    assert mockauth.url.startswith("https://127.0.0.1:")
    assert mockauth.issuer == mockauth.url
    answer = httpx.post(mockauth.token_url, data=form(mockauth), verify=mockauth.ssl_context())
    token = answer.json()["access_token"]
    assert mockauth.validator().validate(token).client_id == DEFAULT_ID
    env = mockauth.apply_env(monkeypatch)
    bundle = str(mockauth.ca_file.with_name("bundle.pem"))
    assert env["SSL_CERT_FILE"] == env["REQUESTS_CA_BUNDLE"] == env["NODE_EXTRA_CA_CERTS"] == bundle
    assert env["KINDE_HOST"].startswith("https://")
    # What an SDK's default context does once the environment names the CA.
    with urllib.request.urlopen(mockauth.jwks_url, timeout=10) as resp:
        assert resp.status == 200


def test_a_client_that_does_not_trust_the_ca_is_refused(mockauth):
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(mockauth.jwks_url, timeout=10)
"""
        )
    )
    project.runpytest_subprocess().assert_outcomes(passed=2)


def test_config_none_means_the_default(project: pytest.Pytester) -> None:
    project.makeconftest(
        """
import pytest

@pytest.fixture(scope="session")
def mockauth_config():
    return None
"""
    )
    project.makepyfile(
        user_tests("def test_default(mockauth):\n    assert mockauth.client_id == DEFAULT_ID\n")
    )
    project.runpytest().assert_outcomes(passed=1)


def test_bad_config_file_names_file_key_and_value(project: pytest.Pytester) -> None:
    project.makefile(".toml", auth=CONFIG_TOML.replace("0123456789abcdef" * 2, "not-hex"))
    project.makeconftest(
        """
from pathlib import Path

import pytest

@pytest.fixture(scope="session")
def mockauth_config():
    return Path(__file__).parent / "auth.toml"
"""
    )
    project.makepyfile(user_tests("def test_never_runs(mockauth):\n    pass\n"))
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*auth.toml: apps[[]0[]].client_id = 'not-hex': must be 32*"])


# --- the marker ----------------------------------------------------------------------------

MARKER_TESTS = """
BILLING = {"audience": "https://billing.example.com", "scopes": ["read:invoices"]}
WORKER = {
    "name": "Billing worker",
    "client_id": "1" * 32,
    "client_secret": "B" * 48,
    "apis": {"https://billing.example.com": ["read:invoices"]},
}


@pytest.mark.mockauth(apis=[BILLING], apps=[WORKER], remove_apps=[DEFAULT_ID])
def test_marker_replaces_the_apps(mockauth):
    assert mockauth.client_id == "1" * 32
    answer = fetch(mockauth)
    assert answer.status_code == 200
    assert answer.json()["scope"] == "read:invoices"


@pytest.mark.mockauth(apis=BILLING, apps=WORKER)
def test_marker_adds_an_app(mockauth):
    with pytest.raises(LookupError, match="2 M2M apps"):
        mockauth.get_app()
    assert mockauth.get_app("1" * 32).name == "Billing worker"
    answer = httpx.post(mockauth.token_url, data={
        "grant_type": "client_credentials",
        "client_id": "1" * 32,
        "client_secret": "B" * 48,
        "audience": BILLING["audience"],
    })
    assert answer.status_code == 200


@pytest.mark.mockauth(faults=[{"endpoint": "jwks", "effect": "error", "status": 500}])
def test_marker_faults(mockauth):
    assert httpx.get(mockauth.jwks_url).status_code == 500
    assert fetch(mockauth).status_code == 200


@pytest.mark.mockauth(clock_offset=-3600)
def test_marker_clock_offset(mockauth):
    assert mockauth.clock.offset == -3600


@pytest.mark.mockauth(frozen_at=1_700_000_000)
def test_marker_frozen_clock(mockauth):
    assert unverified(fetch(mockauth).json()["access_token"])["iat"] == 1_700_000_000


@pytest.mark.mockauth(apps=[WORKER], apis=[BILLING])
def test_marker_in_process(mockauth_asgi):
    assert mockauth_asgi.get_app("1" * 32).name == "Billing worker"


@pytest.mark.mockauth(
    orgs={"code": "org_billing", "name": "Billing"},
    users=[{"email": "ann@example.com", "orgs": ["org_billing"], "permissions": ["pay"]}],
)
def test_marker_adds_a_user_who_signs_in(mockauth):
    claims = unverified(mockauth.user_token("ann@example.com"))
    assert claims["permissions"] == ["pay"]
    assert claims["org_code"] == "org_billing" and claims["org_name"] == "Billing"


def test_next_test_sees_the_start_up_state(mockauth, mockauth_asgi):
    for auth in (mockauth, mockauth_asgi):
        from mockauth.tenant.config import default_config

        defaults = [a.client_id for a in default_config().apps]
        assert [a.client_id for a in auth.tenant.config.apps] == defaults
        assert len(auth.tenant.config.apis) == 2
        assert [u.email for u in auth.tenant.config.users] == ["jane@example.com"]
        assert [o.code for o in auth.tenant.config.orgs] == ["org_e5f28e1676d"]
        assert auth.tenant.faults.rules() == []
        assert (auth.clock.offset, auth.clock.frozen_at) == (0, None)
    assert httpx.get(mockauth.jwks_url).status_code == 200
"""
LAYERED_TESTS = """
NOWHERE = {"path": "/nowhere", "effect": "empty"}
pytestmark = pytest.mark.mockauth(clock_offset=100, faults=[NOWHERE])


class TestLayers:
    pytestmark = pytest.mark.mockauth(clock_offset=200)

    @pytest.mark.mockauth(clock_offset=300)
    def test_closest_marker_wins(self, mockauth):
        assert mockauth.clock.offset == 300
        assert len(mockauth.tenant.faults.rules()) == 1

    def test_class_marker(self, mockauth):
        assert mockauth.clock.offset == 200


def test_module_marker(mockauth):
    assert mockauth.clock.offset == 100
"""


def test_marker_changes_one_test_and_is_undone(project: pytest.Pytester) -> None:
    project.makepyfile(test_marker=user_tests(MARKER_TESTS), test_layers=user_tests(LAYERED_TESTS))
    project.runpytest().assert_outcomes(passed=11)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('colour="red"', "unknown argument 'colour' (allowed: apis, apps, *"),
        ('{"apps": []}', "takes keyword arguments only*"),
        ('apps=[{"name": "x", "client_id": "nothex"}]', "*apps=...): app.client_id = 'nothex'*"),
        ('remove_apps="f" * 32', "remove_apps: no app has the client_id 'fff*"),
        ('faults=[{"effect": "explode"}]', "*effect = 'explode': must be one of*"),
        ("clock_offset=1, frozen_at=2", "give clock_offset or frozen_at, not both"),
        ("apps=42", "expected a list, not 42"),
        (
            'users={"email": "x@y.z", "orgs": ["org_none"]}',
            "*users=...): user.orgs?0? = 'org_none'*",
        ),
        ('users={"email": "JANE@example.com"}', "*email = 'JANE@example.com': another user*"),
    ],
)
def test_bad_marker_is_a_clear_setup_error(
    project: pytest.Pytester, marker: str, message: str
) -> None:
    project.makepyfile(
        user_tests(
            f"""
BILLING = {{"audience": "https://billing.example.com", "scopes": ["read:invoices"]}}


@pytest.mark.mockauth({marker}, apis=[BILLING])
def test_bad(mockauth):
    pass


def test_after(mockauth):
    assert len(mockauth.tenant.config.apis) == 2
"""
        )
    )
    result = project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*@pytest.mark.mockauth on test_*.py::test_bad: {message}"])


@pytest.mark.parametrize("marker", ["apps=[]", 'colour="red"'], ids=["valid", "invalid"])
def test_a_marker_on_a_test_without_the_fixture_is_a_collection_error(
    project: pytest.Pytester, marker: str
) -> None:
    forgot = f"""
@pytest.mark.mockauth({marker})
def test_forgot_the_fixture():
    pass
"""
    fine = """
@pytest.fixture
def signed_in(mockauth):  # a fixture of the user's own that uses mockauth
    return mockauth


@pytest.mark.mockauth(remove_apps=DEFAULT_ID)
def test_through_a_fixture(signed_in):
    assert signed_in.tenant.app(DEFAULT_ID) is None
"""
    project.makepyfile(test_forgot=user_tests(forgot), test_fine=user_tests(fine))
    result = project.runpytest("--continue-on-collection-errors")
    result.assert_outcomes(errors=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.mockauth on test_forgot.py::test_forgot_the_fixture: the test uses "
            "no mockauth fixture (mockauth or mockauth_asgi)*"
        ]
    )


# --- faults --------------------------------------------------------------------------------

FAULT_TESTS = """
def test_503_inside_the_block_only(mockauth):
    with mockauth.fault(endpoint="token", effect="error", status=503) as fault:
        answer = fetch(mockauth)
        assert answer.status_code == 503
        assert answer.json()["error"] == "temporarily_unavailable"
        assert httpx.get(mockauth.jwks_url).status_code == 200
    assert fault.fired == 1
    assert fault.status()["state"] == "removed"
    assert fetch(mockauth).status_code == 200


def test_plain_call_lasts_for_the_test(mockauth):
    rule = mockauth.fault({"endpoint": "token", "effect": "throttle"}, retry_after=7)
    assert rule.rule.effect.kind == "throttle"
    for _ in range(2):
        answer = fetch(mockauth)
        assert answer.status_code == 429
        assert answer.headers["Retry-After"] == "7"
        assert answer.headers["RateLimit-Reset"] == "7"
    assert (rule.seen, rule.fired) == (2, 2)
    assert [e.status for e in mockauth.journal(fault=rule)] == [429, 429]


def test_failing_test_leaves_a_fault_behind(mockauth):
    mockauth.fault(endpoint="any", effect="error", status=500)
    assert False, "deliberate failure"


def test_next_test_sees_no_fault(mockauth):
    assert mockauth.tenant.faults.rules() == []
    assert fetch(mockauth).status_code == 200
    assert [e.status for e in mockauth.journal()] == [200]


def test_counted_fault_by_client(mockauth):
    with mockauth.fault(client_id=DEFAULT_ID, effect="error", error="invalid_client", times=1):
        first, second = fetch(mockauth), fetch(mockauth)
    assert (first.status_code, first.json()["error"]) == (401, "invalid_client")
    assert second.status_code == 200


def test_bad_token_fault_over_http(mockauth):
    with mockauth.fault(effect="bad_token", token="expired"):
        token = fetch(mockauth).json()["access_token"]
    with pytest.raises(TokenExpiredError):
        mockauth.validator().validate(token)


def test_rule_that_does_not_parse_is_refused_whole(mockauth):
    with pytest.raises(ConfigError, match="status"):
        mockauth.fault(endpoint="token", effect="error", status=200)
    assert mockauth.tenant.faults.rules() == []
"""


def test_faults_apply_over_http_and_are_reset(project: pytest.Pytester) -> None:
    project.makepyfile(user_tests(FAULT_TESTS))
    project.runpytest().assert_outcomes(passed=6, failed=1)


# --- tokens, clock, keys -------------------------------------------------------------------

TOKEN_TESTS = """
def test_good_token(mockauth):
    claims = mockauth.validator().validate(mockauth.token(), ["read:calendar"])
    assert claims.client_id == DEFAULT_ID


@pytest.mark.parametrize("name", sorted(BAD_TOKENS))
def test_bad_token_is_refused(mockauth, name):
    token = mockauth.bad_token(name)
    with pytest.raises(BAD_TOKENS[name].error):
        mockauth.validator().validate(token, ["read:calendar"])


def test_bad_tokens_fail_pyjwt_too(mockauth):
    for name, error in [("expired", jwt.ExpiredSignatureError),
                        ("wrong_audience", jwt.InvalidAudienceError),
                        ("wrong_issuer", jwt.InvalidIssuerError),
                        ("tampered_signature", jwt.InvalidSignatureError)]:
        with pytest.raises(error):
            verify(mockauth, mockauth.bad_token(name))


def test_unknown_bad_token_lists_the_names(mockauth):
    with pytest.raises(KeyError, match="known: expired, not_yet_valid"):
        mockauth.bad_token("slightly_off")


def test_clock_advance_expires_an_issued_token(mockauth):
    token = mockauth.token()
    validator = mockauth.validator(clock=mockauth.clock)
    validator.validate(token)
    mockauth.clock.advance(86_400)
    with pytest.raises(TokenExpiredError):
        validator.validate(token)


def test_server_behind_real_time_issues_expired_tokens(mockauth):
    mockauth.clock.advance(-86_400 - 60)
    for token in (mockauth.token(), fetch(mockauth).json()["access_token"]):
        with pytest.raises(jwt.ExpiredSignatureError):
            verify(mockauth, token)


def test_frozen_clock(mockauth):
    mockauth.clock.freeze(1_700_000_000)
    mockauth.clock.advance(10)
    assert mockauth.clock.now() == 1_700_000_010
    assert unverified(mockauth.token())["iat"] == 1_700_000_010
    mockauth.clock.set_offset(5)
    assert mockauth.clock.now() != 1_700_000_010
    assert mockauth.clock.frozen_at is None
    mockauth.clock.reset()
    assert mockauth.clock.offset == 0


def test_rotate_and_retire(mockauth):
    validator = mockauth.validator()
    old_kid, old_token = mockauth.active_kid, mockauth.token()
    validator.validate(old_token)
    new_kid = mockauth.rotate_keys()
    assert new_kid != old_kid and mockauth.active_kid == new_kid
    new_token = mockauth.token()
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    kids = [k["kid"] for k in httpx.get(mockauth.jwks_url).json()["keys"]]
    assert kids == [new_kid, old_kid]
    validator.validate(new_token)
    validator.validate(old_token)
    mockauth.retire_key(old_kid)
    assert [k["kid"] for k in httpx.get(mockauth.jwks_url).json()["keys"]] == [new_kid]
    with pytest.raises(UnknownKeyError):
        mockauth.validator().validate(old_token)
    with pytest.raises(ValueError, match="rotate first"):
        mockauth.retire_key(new_kid)


def test_keys_are_not_reset(mockauth):
    assert len(mockauth.published_kids) == 1
    verify(mockauth, mockauth.token())
"""


def test_tokens_clock_and_keys(project: pytest.Pytester) -> None:
    project.makepyfile(user_tests(TOKEN_TESTS))
    project.runpytest().assert_outcomes(passed=8 + len(_bad_token_names()))


def _bad_token_names() -> list[str]:
    from mockauth.faults.badtokens import BAD_TOKENS

    return list(BAD_TOKENS)


# --- journal and environment ---------------------------------------------------------------

JOURNAL_TESTS = """
class TokenClient:
    '''What a service under test might do: read the Kinde env, fetch, maybe cache.'''

    def __init__(self, cache):
        self.cache = cache
        self.token = None

    def get(self):
        if self.token is None or not self.cache:
            env = os.environ
            answer = httpx.post(env["KINDE_HOST"] + "/oauth2/token", data={
                "grant_type": "client_credentials",
                "client_id": env["KINDE_CLIENT_ID"],
                "client_secret": env["KINDE_CLIENT_SECRET"],
                "audience": env["KINDE_AUDIENCE"],
            })
            answer.raise_for_status()
            self.token = answer.json()["access_token"]
        return self.token


def test_service_fetches_one_token_and_reuses_it(mockauth, monkeypatch):
    mockauth.apply_env(monkeypatch)
    client = TokenClient(cache=True)
    assert client.get() == client.get()
    requests = mockauth.token_requests()
    assert len(requests) == 1
    entry = requests[0]
    assert (entry.method, entry.status, entry.grant_type) == ("POST", 200, "client_credentials")
    assert (entry.client_id, entry.audiences) == (DEFAULT_ID, (CALENDAR,))


def test_a_service_without_a_cache_is_caught(mockauth, monkeypatch):
    mockauth.apply_env(monkeypatch)
    client = TokenClient(cache=False)
    client.get(), client.get()
    assert len(mockauth.token_requests(client_id=DEFAULT_ID)) == 2


def test_env(mockauth):
    assert mockauth.env() == {
        "KINDE_HOST": mockauth.url,
        "KINDE_DOMAIN": mockauth.url,
        "KINDE_ISSUER_URL": mockauth.issuer,
        "KINDE_CLIENT_ID": DEFAULT_ID,
        "KINDE_CLIENT_SECRET": mockauth.client_secret,
        "KINDE_AUDIENCE": CALENDAR,
    }
    assert mockauth.env(audience="x")["KINDE_AUDIENCE"] == "x"


def test_env_is_undone_after_the_test():
    assert "KINDE_HOST" not in os.environ


def test_journal_filters(mockauth):
    httpx.get(mockauth.jwks_url)
    httpx.get(mockauth.url + "/.well-known/jwks.json")
    httpx.get(mockauth.discovery_url)
    fetch(mockauth, client_secret="wrong" * 10)
    assert len(mockauth.journal(endpoint="jwks")) == 2
    assert [e.status for e in mockauth.journal(endpoint="token")] == [401]
    assert len(mockauth.journal(status=401)) == 1
    assert [e.path for e in mockauth.journal(limit=1)] == ["/oauth2/token"]
    assert mockauth.journal(limit=0) == []
    first = mockauth.journal()[0].seq
    assert len(mockauth.journal(since=first)) == 3
    with pytest.raises(ValueError, match="endpoint"):
        mockauth.journal(endpoint="any")
    assert mockauth.clear_journal() == 4
    mockauth.token()
    assert mockauth.journal() == []
"""


def test_journal_and_env(project: pytest.Pytester) -> None:
    project.makepyfile(user_tests(JOURNAL_TESTS))
    project.runpytest().assert_outcomes(passed=5)


# --- in-process mode -----------------------------------------------------------------------

ASGI_TESTS = """
import asyncio

from mockauth.http.middleware import ConnectionDropped


def test_sync_client(mockauth_asgi):
    assert mockauth_asgi.url == mockauth_asgi.issuer == "http://mockauth.test"
    with mockauth_asgi.client() as client:
        answer = client.post("/oauth2/token", data=form(mockauth_asgi))
    assert answer.status_code == 200
    claims = mockauth_asgi.validator().validate(answer.json()["access_token"])
    assert claims.issuer == "http://mockauth.test"
    assert [e.status for e in mockauth_asgi.token_requests()] == [200]


def test_async_client_and_fault(mockauth_asgi):
    async def main():
        async with mockauth_asgi.async_client() as client:
            with mockauth_asgi.fault(endpoint="token", effect="error", status=503):
                faulty = await client.post("/oauth2/token", data=form(mockauth_asgi))
            good = await client.post("/oauth2/token", data=form(mockauth_asgi))
            jwks = (await client.get("/.well-known/jwks")).json()
        return faulty, good, jwks

    faulty, good, jwks = asyncio.run(main())
    assert (faulty.status_code, good.status_code) == (503, 200)
    assert mockauth_asgi.active_kid in [k["kid"] for k in jwks["keys"]]
    assert [e.status for e in mockauth_asgi.token_requests()] == [503, 200]


def test_closed_connection_raises_in_process(mockauth_asgi):
    with mockauth_asgi.fault(endpoint="token", effect="close"), mockauth_asgi.client() as client:
        with pytest.raises(ConnectionDropped):
            client.post("/oauth2/token", data=form(mockauth_asgi))


@pytest.mark.mockauth(clock_offset=-90_000)
def test_marker_and_clock_in_process(mockauth_asgi):
    with pytest.raises(TokenExpiredError):
        mockauth_asgi.validator().validate(mockauth_asgi.token())


def test_rotation_in_process(mockauth_asgi):
    validator = mockauth_asgi.validator()
    old = mockauth_asgi.token()
    mockauth_asgi.rotate_keys()
    validator.validate(mockauth_asgi.token())
    validator.validate(old)


def test_separate_from_the_real_server(mockauth_asgi, mockauth):
    assert mockauth_asgi.tenant is not mockauth.tenant
    assert mockauth_asgi.issuer != mockauth.issuer
"""


def test_in_process_mode(project: pytest.Pytester) -> None:
    project.makepyfile(user_tests(ASGI_TESTS))
    project.runpytest().assert_outcomes(passed=6)


# --- the documented hypothesis pattern -----------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "pytest-plugin.md"
# The user's API, stood in for by a validator on the server, session-scoped as the doc asks.
HYPOTHESIS_CONFTEST = """
import pytest
from hypothesis import settings

from mockauth import paths
from mockauth.errors import InsufficientScopeError, TokenValidationError
from mockauth.validator.validator import TokenValidator

settings.register_profile("doc", max_examples=30, deadline=None)
settings.load_profile("doc")


class Answer:
    def __init__(self, status_code):
        self.status_code = status_code


class EventsApi:
    def __init__(self, server):
        self.validator = TokenValidator(
            issuer=server.issuer,
            audience="https://api.example.com",
            jwks_url=server.url + paths.JWKS,
            refetch_interval=0,
        )

    def get(self, path, headers):
        token = headers["Authorization"].removeprefix("Bearer ")
        try:
            self.validator.validate(token, required_scopes=["read:calendar"])
        except InsufficientScopeError:
            return Answer(403)
        except TokenValidationError:
            return Answer(401)
        return Answer(200)


@pytest.fixture(scope="session")
def api_client(mockauth_server):
    return EventsApi(mockauth_server)
"""


def _doc_snippet(heading: str, index: int = 0) -> str:
    """The ``index``-th ```python block after ``heading`` in docs/pytest-plugin.md."""
    section = DOCS.read_text(encoding="utf-8").split(heading, 1)[1]
    return section.split("```python\n")[index + 1].split("```", 1)[0]


def test_the_documented_hypothesis_pattern_runs(project: pytest.Pytester) -> None:
    snippet = _doc_snippet("### With hypothesis")
    assert "mockauth_server" in snippet and "Target.for_tenant" in snippet
    project.makeconftest(HYPOTHESIS_CONFTEST)
    project.makepyfile(test_doc=snippet)
    # A subprocess: the conftest's hypothesis profile must not leak into this session.
    project.runpytest_subprocess().assert_outcomes(passed=1)


def test_hypothesis_refuses_the_function_scoped_fixture_as_the_doc_says(
    project: pytest.Pytester,
) -> None:
    snippet = _doc_snippet("### With hypothesis")
    project.makeconftest(HYPOTHESIS_CONFTEST)
    # The same test on the function-scoped helper: what a user would try first.
    with_helper = snippet.replace("mockauth_server.tenant", "mockauth.tenant")
    project.makepyfile(test_doc=with_helper.replace("(mockauth_server,", "(mockauth,"))
    result = project.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*function_scoped_fixture*"])


# --- key rotation: the helpers' validators, a user's, and the default ---------------------

ROTATION_TESTS = """
import time

from mockauth import TokenValidator

START = time.monotonic()
KEPT = {}


def validators(mockauth, mockauth_asgi):
    # Built at the first test and kept, as an API's validator lives for the session.
    if not KEPT:
        by_property = TokenValidator(issuer=mockauth.issuer, audience=CALENDAR)
        by_property.refetch_interval = 0
        KEPT.update(
            helper=mockauth.validator(),
            helper_none=mockauth.validator(refetch_interval=None),
            asgi=mockauth_asgi.validator(),
            by_argument=TokenValidator(
                issuer=mockauth.issuer, audience=CALENDAR, refetch_interval=0
            ),
            by_property=by_property,
            default=TokenValidator(issuer=mockauth.issuer, audience=CALENDAR),
        )
    return KEPT


@pytest.mark.parametrize("rotations", [0, 1, 2])
def test_a_token_after_each_rotation(mockauth, mockauth_asgi, rotations):
    kept = validators(mockauth, mockauth_asgi)
    if rotations:
        mockauth.rotate_keys()
        mockauth_asgi.rotate_keys()
    token = mockauth.token()
    for name in ("helper", "helper_none", "by_argument", "by_property"):
        assert kept[name].validate(token).client_id == DEFAULT_ID, name
    kept["asgi"].validate(mockauth_asgi.token())
    if rotations < 2:  # the first rotation is picked up at once
        kept["default"].validate(token)
    else:  # the second waits for the production interval
        with pytest.raises(UnknownKeyError):
            kept["default"].validate(token)


def test_all_well_within_the_default_interval():
    assert KEPT["default"].refetch_interval == 30
    assert time.monotonic() - START < 15
"""


def test_validators_in_tests_follow_rotations_in_a_row(project: pytest.Pytester) -> None:
    project.makepyfile(user_tests(ROTATION_TESTS))
    project.runpytest().assert_outcomes(passed=4)


def test_the_documented_rotation_pattern_runs(project: pytest.Pytester) -> None:
    heading = "### Key rotation and your API's validator"
    app, tests = _doc_snippet(heading, 0), _doc_snippet(heading, 1)
    assert "refetch_interval=0" in tests and "rotate_keys()" in tests
    project.makepyfile(myapi=app, test_rotation=tests)
    project.runpytest_subprocess().assert_outcomes(passed=1)
    # Without the setting, the production default refuses the second rotation's token.
    project.makepyfile(test_rotation=tests.replace(", refetch_interval=0", ""))
    result = project.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 401 == 200*"])


# --- direct tests of the helpers (this session's own fixtures) -----------------------------

SECOND_APP = {
    "name": "Second",
    "client_id": "2" * 32,
    "client_secret": "C" * 48,
    "apis": {"https://api.example.com": ["read:calendar"]},
}
SPA = {"name": "Web", "type": "spa", "client_id": "3" * 32}


@pytest.mark.mockauth(apps=[SECOND_APP, SPA])
def test_choosing_an_app(mockauth_asgi: MockAuthASGI) -> None:
    with pytest.raises(LookupError, match=f"2 M2M apps are configured \\({DEFAULT_ID}, 2+\\)"):
        mockauth_asgi.token()
    assert mockauth_asgi.get_app("2" * 32).name == "Second"
    with pytest.raises(LookupError, match=r"no app has the client_id 'f+'"):
        mockauth_asgi.get_app("f" * 32)
    with pytest.raises(ValueError, match="is a spa app"):
        mockauth_asgi.token("3" * 32)
    with pytest.raises(LookupError, match="or give the validator audience="):
        mockauth_asgi.validator()
    token = mockauth_asgi.token("2" * 32)
    validator = mockauth_asgi.validator("https://api.example.com")
    assert validator.validate(token).scopes == ("read:calendar",)


def test_scopes_and_audiences(mockauth_asgi: MockAuthASGI) -> None:
    mgmt = mockauth_asgi.issuer + "/api"
    body = mockauth_asgi.token_response(audience=["https://api.example.com", mgmt], scopes=None)
    assert "read:calendar" in body["scope"] and "read:users" in body["scope"]
    with pytest.raises(InvalidScopeError):
        mockauth_asgi.token(scopes=["read:everything"])
    with pytest.raises(UnauthorizedClientError):
        mockauth_asgi.token(audience="https://elsewhere.example.com")


def test_injected_fault_removal(mockauth_asgi: MockAuthASGI) -> None:
    fault = mockauth_asgi.fault(effect="empty")
    assert fault.status()["state"] == "active"
    assert mockauth_asgi.clear_faults() == 1
    fault.remove()
    fault.remove()
    assert (fault.fired, fault.status()["state"]) == (0, "removed")
    assert "empty" in repr(fault)
    with pytest.raises(TypeError, match="not both"):
        mockauth_asgi.fault(fault.rule, effect="close")


def test_fault_from_a_rule_object(mockauth_asgi: MockAuthASGI) -> None:
    from mockauth.faults.rules import parse_rule

    with mockauth_asgi.fault(parse_rule({"id": "mine", "effect": "empty"})) as fault:
        assert fault.id == "mine"
        assert [r.id for r in mockauth_asgi.tenant.faults.rules()] == ["mine"]
    assert mockauth_asgi.tenant.faults.rules() == []


def test_httpx_preferred_then_httpx2(monkeypatch: pytest.MonkeyPatch) -> None:
    assert httpx_module().__name__ == ("httpx" if _importable("httpx") else "httpx2")
    monkeypatch.setitem(sys.modules, "httpx", None)
    assert httpx_module().__name__ == "httpx2"
    monkeypatch.setitem(sys.modules, "httpx2", None)
    with pytest.raises(ImportError, match="pip install httpx"):
        httpx_module()


@pytest.mark.parametrize("make", ["client", "async_client", "transport"])
def test_every_in_process_client_without_httpx_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, mockauth_asgi: MockAuthASGI, make: str
) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    monkeypatch.setitem(sys.modules, "httpx2", None)
    # As in a fresh interpreter: starlette's TestClient module fails on import there, with
    # its own RuntimeError, not the documented ImportError.
    monkeypatch.delitem(sys.modules, "starlette.testclient", raising=False)
    with pytest.raises(ImportError, match=r"pip install httpx \(or httpx2\)"):
        getattr(mockauth_asgi, make)()


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        return False
    return True


@pytest.mark.parametrize("value", [42, b"mockauth.toml"])
def test_config_source_of_the_wrong_type(value: object) -> None:
    with pytest.raises(TypeError, match="must return a ServerConfig, a path or None"):
        resolve_config(value)  # type: ignore[arg-type]


def test_config_sources() -> None:
    assert resolve_config(None) == default_config()
    config = default_config()
    assert resolve_config(config) is config
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_config("/nonexistent/mockauth.toml")

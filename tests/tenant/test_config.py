"""Config: the embedded default, a valid file, and every bad-file case named by file, key, value."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import pytest

from mockauth.errors import ConfigError, MockAuthError
from mockauth.tenant.apis import Api
from mockauth.tenant.apps import CLIENT_ID_RE, CLIENT_SECRET_RE, RESERVED_CLAIMS, App, Lifetimes
from mockauth.tenant.config import (
    DEFAULT_CONFIG_TOML,
    ServerConfig,
    default_config,
    load_config,
    parse_config,
)

CLIENT_ID = "0123456789abcdef0123456789abcdef"
SECRET = "Abc123" * 8  # 48 letters and digits
CLAIMS_LINE = 'claims = { tenant = "acme", nested = { list = [1, 2.5, "x", true] } }'

VALID = f"""\
issuer = "http://127.0.0.1:8400"

[lifetimes]
access_token = 3600

[[apis]]
audience = "https://api.example.com"
scopes = ["read:calendar", "update:event", "delete:event"]

[[apps]]
name = "Backend"
type = "m2m"
client_id = "{CLIENT_ID}"
client_secret = "{SECRET}"
org_code = "org_0123456789a"
{CLAIMS_LINE}

[apps.apis]
"https://api.example.com" = ["read:calendar", "update:event"]
"""


def write(tmp_path: Path, text: str, name: str = "mockauth.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- the embedded default ---


def test_default_config_is_the_documented_tenant() -> None:
    config = default_config()
    assert config.source == "<default>"
    assert config.issuer is None
    assert config.lifetimes == Lifetimes(
        access_token=86_400, id_token=3_600, refresh_token=1_296_000
    )
    by_aud = {api.audience: api for api in config.apis}
    assert by_aud["https://api.example.com"].scopes == (
        "read:calendar",
        "update:event",
        "delete:event",
    )
    assert "{issuer}/api" in by_aud
    app, web, spa, device = config.apps
    assert app.type == "m2m"
    assert set(app.apis) == {"https://api.example.com", "{issuer}/api"}
    assert app.apis["https://api.example.com"] == by_aud["https://api.example.com"].scopes
    # User login: a web app and a SPA with callbacks, one user in one organisation.
    assert (web.type, spa.type) == ("regular", "spa")
    assert "http://localhost:3000/api/auth/kinde_callback" in web.redirect_uris
    assert spa.client_secret is None and spa.redirect_uris
    assert device.type == "device" and device.client_secret is None and not device.redirect_uris
    (user,) = config.users
    (org,) = config.orgs
    assert user.orgs == (org.code,)
    assert re.fullmatch(r"kp_[0-9a-f]{32}", user.id)
    assert re.fullmatch(r"org_[0-9a-f]{11}", org.code)


def test_default_app_credentials_have_kinde_shapes() -> None:
    apps = default_config().apps
    assert len({app.client_id for app in apps}) == len(apps) == 4
    for app in apps:
        assert CLIENT_ID_RE.match(app.client_id)
        if app.type not in ("spa", "device"):
            assert app.client_secret is not None
            assert re.fullmatch(r"[a-zA-Z0-9]{40,60}", app.client_secret)


def test_default_config_is_the_embedded_toml() -> None:
    assert default_config() == parse_config(DEFAULT_CONFIG_TOML.encode(), source="<default>")


def test_with_issuer_resolves_the_management_api_audience() -> None:
    config = default_config().with_issuer("http://127.0.0.1:9999")
    assert config.issuer == "http://127.0.0.1:9999"
    audiences = {api.audience for api in config.apis}
    assert "http://127.0.0.1:9999/api" in audiences
    assert not any("{issuer}" in aud for aud in audiences)
    app = config.apps[0]
    assert "http://127.0.0.1:9999/api" in app.apis
    assert not any("{issuer}" in aud for aud in app.apis)


def test_an_audience_that_becomes_a_duplicate_once_the_issuer_is_known_is_refused() -> None:
    raw = b"""
[[apis]]
audience = "{issuer}/api"
scopes = ["read:users"]
[[apis]]
audience = "http://127.0.0.1:9999/api"
scopes = ["write:users"]
"""
    config = parse_config(raw, source="dup.toml")
    assert len(config.with_issuer("http://127.0.0.1:8400").apis) == 2  # distinct here
    with pytest.raises(ConfigError) as caught:
        config.with_issuer("http://127.0.0.1:9999")
    message = str(caught.value)
    assert message.startswith("dup.toml: apis[1].audience = 'http://127.0.0.1:9999/api'")
    assert "apis[0]" in message


# --- a valid file ---


def test_valid_file_loads_into_frozen_data(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    config = load_config(path)
    assert config.source == str(path)
    assert config.issuer == "http://127.0.0.1:8400"
    assert config.lifetimes.access_token == 3600
    assert config.lifetimes.id_token == 3_600  # untouched defaults stay
    assert config.apis == (
        Api(
            audience="https://api.example.com",
            scopes=("read:calendar", "update:event", "delete:event"),
            name="https://api.example.com",
        ),
    )
    (app,) = config.apps
    assert app.client_id == CLIENT_ID
    assert app.client_secret == SECRET
    assert app.org_code == "org_0123456789a"
    assert dict(app.claims) == {"tenant": "acme", "nested": {"list": [1, 2.5, "x", True]}}
    assert dict(app.apis) == {"https://api.example.com": ("read:calendar", "update:event")}
    assert config.app(CLIENT_ID) is app
    assert config.app("f" * 32) is None


@pytest.mark.parametrize(
    ("obj", "attr"),
    [
        (ServerConfig(), "issuer"),
        (Lifetimes(), "access_token"),
        (Api(audience="a"), "audience"),
        (App(name="n", client_id=CLIENT_ID), "client_secret"),
    ],
)
def test_config_dataclasses_are_frozen(obj: object, attr: str) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, attr, "changed")


def test_loaded_mappings_are_read_only(tmp_path: Path) -> None:
    (app,) = load_config(write(tmp_path, VALID)).apps
    with pytest.raises(TypeError):
        app.apis["https://evil.example.com"] = ("x",)  # type: ignore[index]
    with pytest.raises(TypeError):
        app.claims["tenant"] = "evil"  # type: ignore[index]


def test_config_dataclasses_take_keywords_only() -> None:
    with pytest.raises(TypeError):
        Api("https://api.example.com")  # type: ignore[call-arg]


def test_per_app_lifetimes_override_the_tenant_ones(tmp_path: Path) -> None:
    text = VALID.replace("[apps.apis]", "[apps.lifetimes]\naccess_token = 60\n\n[apps.apis]")
    config = load_config(write(tmp_path, text))
    (app,) = config.apps
    assert config.lifetimes_for(app).access_token == 60
    assert config.lifetimes.access_token == 3600


def test_spa_app_needs_no_secret(tmp_path: Path) -> None:
    text = VALID.replace('type = "m2m"', 'type = "spa"').replace(
        f'client_secret = "{SECRET}"\n', ""
    )
    (app,) = load_config(write(tmp_path, text)).apps
    assert app.type == "spa"
    assert app.client_secret is None


def test_minimal_file_is_an_empty_tenant(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.apis == ()
    assert config.apps == ()
    assert config.lifetimes == Lifetimes()


# --- bad files: each names the file, the key path and the value ---

BAD_CASES = [
    # unknown keys, at every level
    pytest.param('colour = "blue"\n' + VALID, "colour", "'blue'", id="unknown-top-level-key"),
    pytest.param(
        VALID.replace("access_token = 3600", "access_token = 3600\nrefresh = 5"),
        "lifetimes.refresh",
        "5",
        id="unknown-lifetime",
    ),
    pytest.param(
        VALID.replace('scopes = ["read:calendar",', 'scope = "x"\nscopes = ["read:calendar",'),
        "apis[0].scope",
        "'x'",
        id="unknown-api-key",
    ),
    pytest.param(
        VALID.replace('type = "m2m"', 'type = "m2m"\nsecret = "x"'),
        "apps[0].secret",
        "'x'",
        id="unknown-app-key",
    ),
    # wrong types
    pytest.param(
        VALID.replace('issuer = "http://127.0.0.1:8400"', "issuer = 8400"),
        "issuer",
        "8400",
        id="issuer-not-a-string",
    ),
    pytest.param(
        VALID.replace("access_token = 3600", 'access_token = "3600"'),
        "lifetimes.access_token",
        "'3600'",
        id="lifetime-string",
    ),
    pytest.param(
        VALID.replace("access_token = 3600", "access_token = true"),
        "lifetimes.access_token",
        "True",
        id="lifetime-bool",
    ),
    pytest.param(
        VALID.replace("access_token = 3600", "access_token = 3600.5"),
        "lifetimes.access_token",
        "3600.5",
        id="lifetime-float",
    ),
    pytest.param(
        VALID.replace('name = "Backend"', "name = 7"), "apps[0].name", "7", id="app-name-int"
    ),
    pytest.param(
        VALID.replace(
            'scopes = ["read:calendar", "update:event", "delete:event"]', 'scopes = "read:calendar"'
        ),
        "apis[0].scopes",
        "'read:calendar'",
        id="scopes-not-array",
    ),
    pytest.param(
        VALID.replace('audience = "https://api.example.com"', "audience = 1"),
        "apis[0].audience",
        "1",
        id="audience-not-string",
    ),
    pytest.param(
        VALID.replace(CLAIMS_LINE, 'claims = "tenant"'),
        "apps[0].claims",
        "'tenant'",
        id="claims-not-table",
    ),
    pytest.param("lifetimes = 5\n", "lifetimes", "5", id="lifetimes-not-table"),
    pytest.param('apis = { audience = "x" }\n', "apis", "{'audience': 'x'}", id="apis-not-array"),
    pytest.param("apis = [1]\n", "apis[0]", "1", id="api-not-table"),
    pytest.param(
        VALID.replace('type = "m2m"', 'type = "machine"'),
        "apps[0].type",
        "'machine'",
        id="unknown-app-type",
    ),
    # grants
    pytest.param(
        VALID.replace(
            '"https://api.example.com" = ["read:calendar", "update:event"]',
            '"https://api.example.com" = ["read:calendar", "admin:all"]',
        ),
        "apps[0].apis.'https://api.example.com'[1]",
        "'admin:all'",
        id="scope-not-defined-by-api",
    ),
    pytest.param(
        VALID + '"https://other.example.com" = ["read:calendar"]\n',
        "apps[0].apis.'https://other.example.com'",
        "['read:calendar']",
        id="grant-to-undefined-audience",
    ),
    pytest.param(
        VALID.replace(
            '"https://api.example.com" = ["read:calendar", "update:event"]',
            '"https://api.example.com" = "read:calendar"',
        ),
        "apps[0].apis.'https://api.example.com'",
        "'read:calendar'",
        id="grant-not-array",
    ),
    # credentials
    pytest.param(
        VALID.replace(SECRET, "short"), "apps[0].client_secret", "'short'", id="secret-too-short"
    ),
    pytest.param(
        VALID.replace(SECRET, "a" * 61),
        "apps[0].client_secret",
        repr("a" * 61),
        id="secret-too-long",
    ),
    pytest.param(
        VALID.replace(SECRET, "a" * 39 + "-"),
        "apps[0].client_secret",
        repr("a" * 39 + "-"),
        id="secret-with-symbol",
    ),
    pytest.param(
        VALID.replace(SECRET, "é" * 45),
        "apps[0].client_secret",
        repr("é" * 45),
        id="secret-non-ascii",
    ),
    pytest.param(
        VALID.replace(f'client_secret = "{SECRET}"\n', ""),
        "apps[0].client_secret",
        "(missing)",
        id="m2m-secret-missing",
    ),
    pytest.param(
        VALID.replace(CLIENT_ID, CLIENT_ID.upper()),
        "apps[0].client_id",
        repr(CLIENT_ID.upper()),
        id="client-id-uppercase",
    ),
    pytest.param(
        VALID.replace(CLIENT_ID, CLIENT_ID[:-1]),
        "apps[0].client_id",
        repr(CLIENT_ID[:-1]),
        id="client-id-31-chars",
    ),
    pytest.param(
        VALID.replace(CLIENT_ID, "g" * 32),
        "apps[0].client_id",
        repr("g" * 32),
        id="client-id-not-hex",
    ),
    pytest.param(
        VALID.replace(f'client_id = "{CLIENT_ID}"\n', ""),
        "apps[0].client_id",
        "(missing)",
        id="client-id-missing",
    ),
    pytest.param(
        VALID.replace("org_0123456789a", "ORG-1"),
        "apps[0].org_code",
        "'ORG-1'",
        id="org-code-malformed",
    ),
    # duplicates
    pytest.param(
        VALID + f'\n[[apps]]\nname = "Twin"\nclient_id = "{CLIENT_ID}"\n'
        f'client_secret = "{SECRET}"\n',
        "apps[1].client_id",
        repr(CLIENT_ID),
        id="duplicate-client-id",
    ),
    pytest.param(
        VALID + '\n[[apis]]\naudience = "https://api.example.com"\n',
        "apis[1].audience",
        "'https://api.example.com'",
        id="duplicate-audience",
    ),
    pytest.param(
        VALID.replace('"update:event", "delete:event"]', '"update:event", "update:event"]'),
        "apis[0].scopes",
        "['read:calendar', 'update:event', 'update:event']",
        id="duplicate-scope",
    ),
    # bad lifetimes
    pytest.param(
        VALID.replace("access_token = 3600", "access_token = 0"),
        "lifetimes.access_token",
        "0",
        id="lifetime-zero",
    ),
    pytest.param(
        VALID.replace("access_token = 3600", "access_token = -5"),
        "lifetimes.access_token",
        "-5",
        id="lifetime-negative",
    ),
    pytest.param(
        VALID.replace("access_token = 3600", "access_token = 315360001"),
        "lifetimes.access_token",
        "315360001",
        id="lifetime-too-long",
    ),
    pytest.param(
        VALID.replace("[apps.apis]", "[apps.lifetimes]\nid_token = 0\n\n[apps.apis]"),
        "apps[0].lifetimes.id_token",
        "0",
        id="app-lifetime-zero",
    ),
    # issuer
    pytest.param(
        VALID.replace('"http://127.0.0.1:8400"', '"http://127.0.0.1:8400/"'),
        "issuer",
        "'http://127.0.0.1:8400/'",
        id="issuer-trailing-slash",
    ),
    pytest.param(
        VALID.replace('"http://127.0.0.1:8400"', '"ftp://example.com"'),
        "issuer",
        "'ftp://example.com'",
        id="issuer-not-http",
    ),
    pytest.param(
        VALID.replace('"http://127.0.0.1:8400"', '"https://a.kinde.com:99999"'),
        "issuer",
        "'https://a.kinde.com:99999'",
        id="issuer-port-out-of-range",
    ),
    pytest.param(
        VALID.replace('"http://127.0.0.1:8400"', '"https://a.kinde.com:abc"'),
        "issuer",
        "'https://a.kinde.com:abc'",
        id="issuer-port-not-a-number",
    ),
    pytest.param(
        VALID.replace('"http://127.0.0.1:8400"', '"http://127.0.0.1:0"'),
        "issuer",
        "'http://127.0.0.1:0'",
        id="issuer-port-zero",
    ),
    pytest.param(
        VALID.replace('"http://127.0.0.1:8400"', '"http://127.0.0.1:"'),
        "issuer",
        "'http://127.0.0.1:'",
        id="issuer-empty-port",
    ),
    pytest.param(
        VALID.replace('"http://127.0.0.1:8400"', '"https://user:pw@a.kinde.com"'),
        "issuer",
        "'https://user:pw@a.kinde.com'",
        id="issuer-userinfo",
    ),
    pytest.param(
        VALID.replace('"http://127.0.0.1:8400"', '"http://[::1"'),
        "issuer",
        "'http://[::1'",
        id="issuer-unclosed-ipv6",
    ),
    pytest.param(
        VALID.replace('"http://127.0.0.1:8400"', '"http://:8400"'),
        "issuer",
        "'http://:8400'",
        id="issuer-no-host",
    ),
    pytest.param(
        VALID.replace('"http://127.0.0.1:8400"', '"http://[::1]x"'),
        "issuer",
        "'http://[::1]x'",
        id="issuer-junk-after-ipv6",
    ),
    pytest.param(
        VALID.replace('"http://127.0.0.1:8400"', '"http://a\\\\b"'),
        "issuer",
        "'http://a\\\\b'",
        id="issuer-backslash",
    ),
    pytest.param(
        VALID.replace('"http://127.0.0.1:8400"', '"http://a%2fb"'),
        "issuer",
        "'http://a%2fb'",
        id="issuer-percent",
    ),
    pytest.param(
        VALID.replace('"http://127.0.0.1:8400"', '"http://-"'),
        "issuer",
        "'http://-'",
        id="issuer-hyphen-only",
    ),
    pytest.param(
        VALID.replace('"http://127.0.0.1:8400"', '"http://[zz]"'),
        "issuer",
        "'http://[zz]'",
        id="issuer-bad-ipv6",
    ),
    # bad scope tokens and audiences
    pytest.param(
        VALID.replace('"delete:event"]', '"delete event"]'),
        "apis[0].scopes[2]",
        "'delete event'",
        id="scope-with-space",
    ),
    pytest.param(
        VALID.replace(
            'audience = "https://api.example.com"', 'audience = "https://api example.com"'
        ),
        "apis[0].audience",
        "'https://api example.com'",
        id="audience-with-space",
    ),
    # claims that JSON or the token factory cannot take
    pytest.param(
        VALID.replace("claims = { tenant", "claims = { since = 1979-05-27, tenant"),
        "apps[0].claims.since",
        "datetime.date(1979, 5, 27)",
        id="claim-date",
    ),
    pytest.param(
        VALID.replace('list = [1, 2.5, "x", true]', "list = [1, 07:32:00]"),
        "apps[0].claims.nested.list[1]",
        "datetime.time(7, 32)",
        id="claim-time",
    ),
    pytest.param(
        VALID.replace("claims = { tenant", "claims = { big = inf, tenant"),
        "apps[0].claims.big",
        "inf",
        id="claim-inf",
    ),
    pytest.param(
        VALID.replace("claims = { tenant", "claims = { n = nan, tenant"),
        "apps[0].claims.n",
        "nan",
        id="claim-nan",
    ),
]


LOGIN = f"""
[[apps]]
name = "Web"
type = "regular"
client_id = "1123456789abcdef0123456789abcdef"
client_secret = "{SECRET}"
redirect_uris = ["http://localhost:3000/callback"]
logout_uris = ["http://localhost:3000"]

[[orgs]]
code = "org_a1"
name = "A"

[[users]]
email = "a@example.com"
orgs = ["org_a1"]
permissions = ["read:x"]
roles = ["admin"]
"""
WITH_LOGIN = VALID + LOGIN
SECOND_USER = '\n[[users]]\nemail = "b@example.com"\n'


def test_users_orgs_and_callbacks_load(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, WITH_LOGIN + SECOND_USER.replace("b@", "b@") + 'id = "kp_b"\n')
    )
    first, second = config.users
    assert first.id == "kp_" + hashlib.sha256(b"a@example.com").hexdigest()[:32]
    assert (first.orgs, first.permissions, first.roles) == (("org_a1",), ("read:x",), ("admin",))
    assert first.email_verified is True and first.name == ""
    assert second.id == "kp_b" and second.orgs == ()
    assert config.orgs[0].name == "A"
    web = config.apps[1]
    assert web.redirect_uris == ("http://localhost:3000/callback",)
    assert web.logout_uris == ("http://localhost:3000",)


BAD_CASES += [
    pytest.param(
        WITH_LOGIN.replace('email = "a@example.com"', 'email = "not-an-email"'),
        "users[0].email",
        "'not-an-email'",
        id="user-email",
    ),
    pytest.param(
        WITH_LOGIN.replace('orgs = ["org_a1"]', 'orgs = ["org_zz"]'),
        "users[0].orgs[0]",
        "'org_zz'",
        id="user-unknown-org",
    ),
    pytest.param(
        WITH_LOGIN.replace('email = "a@example.com"', 'id = "u1"\nemail = "a@example.com"'),
        "users[0].id",
        "'u1'",
        id="user-id",
    ),
    pytest.param(
        WITH_LOGIN + SECOND_USER.replace("b@", "A@"),
        "users[1].email",
        "'A@example.com'",
        id="user-duplicate-email",
    ),
    pytest.param(
        WITH_LOGIN.replace('roles = ["admin"]', 'email_verified = "yes"'),
        "users[0].email_verified",
        "'yes'",
        id="user-email-verified",
    ),
    pytest.param(
        WITH_LOGIN.replace('roles = ["admin"]', 'nickname = "a"'),
        "users[0].nickname",
        "'a'",
        id="user-unknown-key",
    ),
    pytest.param(
        WITH_LOGIN.replace('roles = ["admin"]', 'claims = { sub = "x" }'),
        "users[0].claims.sub",
        "'x'",
        id="user-reserved-claim",
    ),
    pytest.param(
        WITH_LOGIN.replace('code = "org_a1"', 'code = "acme"'),
        "orgs[0].code",
        "'acme'",
        id="org-code",
    ),
    pytest.param(
        WITH_LOGIN + '\n[[orgs]]\ncode = "org_a1"\n',
        "orgs[1].code",
        "'org_a1'",
        id="org-duplicate",
    ),
    pytest.param(
        WITH_LOGIN.replace('"http://localhost:3000/callback"', '"/callback"'),
        "apps[1].redirect_uris[0]",
        "'/callback'",
        id="redirect-relative",
    ),
    pytest.param(
        WITH_LOGIN.replace('"http://localhost:3000/callback"', '"http://x/cb#f"'),
        "apps[1].redirect_uris[0]",
        "'http://x/cb#f'",
        id="redirect-fragment",
    ),
    pytest.param(
        WITH_LOGIN.replace('logout_uris = ["http://localhost:3000"]', 'logout_uris = "http://x"'),
        "apps[1].logout_uris",
        "'http://x'",
        id="logout-uris-not-array",
    ),
    pytest.param(
        WITH_LOGIN.replace('"http://localhost:3000/callback"', '"javascript:alert(1)"'),
        "apps[1].redirect_uris[0]",
        "'javascript:alert(1)'",
        id="redirect-javascript",
    ),
    pytest.param(
        WITH_LOGIN.replace('"http://localhost:3000/callback"', '"http://x/' + "a" * 2048 + '"'),
        "apps[1].redirect_uris[0]",
        "'http://x/" + "a" * 2048 + "'",
        id="redirect-too-long",
    ),
    pytest.param(
        VALID.replace('org_code = "org_0123456789a"', 'redirect_uris = ["http://x/cb"]'),
        "apps[0].redirect_uris",
        "['http://x/cb']",
        id="redirect-on-m2m",
    ),
]


@pytest.mark.parametrize(("text", "key", "shown"), BAD_CASES)
def test_bad_file_names_file_key_and_value(tmp_path: Path, text: str, key: str, shown: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key} = {shown}: "), message
    assert info.value.source == str(path)
    assert info.value.key == key
    assert len(message) > len(f"{path}: {key} = {shown}: ")  # a reason follows


@pytest.mark.parametrize("claim", sorted(RESERVED_CLAIMS))
def test_reserved_claim_names_are_refused(tmp_path: Path, claim: str) -> None:
    text = VALID.replace("claims = { tenant", f'claims = {{ "{claim}" = "x", tenant')
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: apps[0].claims.{claim} = 'x': ")
    assert "cannot be overridden" in str(info.value)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(b"issuer = \n", "not valid TOML", id="missing-value"),
        pytest.param(b"[[apps]\n", "not valid TOML", id="unclosed-table"),
        pytest.param(b'a = "x"\na = "y"\n', "not valid TOML", id="duplicate-key"),
        pytest.param(b'issuer = "\xff"\n', "not UTF-8", id="not-utf8"),
    ],
)
def test_unparseable_file_names_the_file(tmp_path: Path, raw: bytes, reason: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_bytes(raw)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: {reason}")  # the file named once


def test_a_toml_error_quotes_its_line(tmp_path: Path) -> None:
    path = tmp_path / "twice.toml"
    path.write_text('issuer = "http://127.0.0.1:8400"\nissuer = "http://127.0.0.1:9"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).endswith("""(at line 2, column 30): 'issuer = "http://127.0.0.1:9"'""")


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: cannot read: No such file or directory"


def test_a_byte_order_mark_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + VALID.encode())
    assert load_config(path).issuer == "http://127.0.0.1:8400"


def test_config_error_is_a_mockauth_error() -> None:
    assert issubclass(ConfigError, MockAuthError)


@pytest.mark.parametrize("length", [40, 50, 60])
def test_secret_lengths_at_the_bounds_are_accepted(tmp_path: Path, length: int) -> None:
    secret = ("aB3" * 20)[:length]
    assert CLIENT_SECRET_RE.match(secret)
    (app,) = load_config(write(tmp_path, VALID.replace(SECRET, secret))).apps
    assert app.client_secret == secret


def test_claims_nested_too_deep_are_refused() -> None:
    deep = "{a = " * 40 + "1" + "}" * 40
    toml = f'[[apps]]\nname = "x"\nclient_id = "{"a" * 32}"\nclient_secret = "{"A" * 40}"\n'
    with pytest.raises(ConfigError, match="nested too deep"):
        parse_config((toml + f"claims = {deep}\n").encode(), source="deep.toml")


@pytest.mark.parametrize("field", ["client_id", "client_secret"])
def test_a_trailing_newline_is_not_part_of_a_valid_value(field: str) -> None:
    values = {"client_id": "a" * 32, "client_secret": "A" * 40}
    values[field] += "\n"
    toml = f'[[apps]]\nname = "x"\nclient_id = "{values["client_id"]}"\n'
    toml += f'client_secret = "{values["client_secret"]}"\n'
    with pytest.raises(ConfigError, match=field):
        parse_config(toml.replace('\n"', '\\n"').encode(), source="nl.toml")


def test_the_management_api_defines_every_served_scope_and_star_grants_them_all() -> None:
    from mockauth.tenant.mgmt_scopes import MANAGEMENT_SCOPES

    toml = (
        '[[apis]]\naudience = "{issuer}/api"\nscopes = ["read:users"]\n'
        '[[apis]]\naudience = "https://api.example.com"\nscopes = ["a", "b"]\n'
        '[[apps]]\nname = "m"\nclient_id = "' + "a" * 32 + '"\nclient_secret = "' + "b" * 40 + '"\n'
        '[apps.apis]\n"{issuer}/api" = ["read:users"]\n"https://api.example.com" = "*"\n'
    )
    config = parse_config(toml.encode(), source="m.toml").with_issuer("https://x.test")
    management, other = config.apis
    assert set(management.scopes) == set(MANAGEMENT_SCOPES)
    assert other.scopes == ("a", "b")
    assert dict(config.apps[0].apis) == {
        "https://x.test/api": ("read:users",),
        "https://api.example.com": ("a", "b"),
    }


def test_every_config_block_in_the_readme_loads() -> None:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    text = readme.read_text()
    blocks = list(re.finditer(r"```toml\n(.*?)```", text, flags=re.DOTALL))
    assert len(blocks) >= 3
    for block in blocks:
        line = text[: block.start()].count("\n") + 1
        parse_config(block.group(1).encode(), source=f"README.md:{line}")

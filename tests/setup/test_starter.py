"""`mockauth init` (a commented starter config) and `mockauth config` (the effective config
as TOML), through click's CliRunner."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mockauth.cli import main
from mockauth.faults.rules import FAULT_FIELDS, FREQUENCY_KEYS
from mockauth.setup.starter import STARTER_TOML, config_toml
from mockauth.tenant.config import default_config, load_config, parse_config

RICH = """
issuer = "https://acme.kinde.com"
login_page = true

[lifetimes]
access_token = 600
refresh_grace = 0

[keys]
overlap = 12.5

[[apis]]
audience = "https://api.example.com"
scopes = ["read:calendar"]
scope_descriptions = { "read:calendar" = "Read it" }

[[permissions]]
key = "read:reports"
name = "Read reports"

[[roles]]
key = "analyst"
name = "Analyst"
permissions = ["read:reports"]
api_scopes = { "https://api.example.com" = ["read:calendar"] }
applications = ["bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"]

[[feature_flags]]
key = "theme"
type = "s"
default = "light"
allow_override_level = "usr"

[[property_categories]]
id = "cat_profile"
name = "Profile"
context = "usr"

[[properties]]
key = "team"
context = "usr"
category_id = "cat_profile"

[[properties]]
key = "region"
context = "app"

[business]
name = "Acme"
has_clickwrap = true

[environment]
passkey_policy = "optional"
logos = { dark = "acme-dark.png" }

[[apps]]
name = "Browser"
type = "spa"
client_id = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
redirect_uris = ["http://localhost:5173/cb"]
allowed_origins = ["http://localhost:4200"]
login_uri = "http://localhost:5173/login"
homepage_uri = "http://localhost:5173"
include_claims = ["organizations", "user_properties"]
properties = { region = "eu" }

[[apps]]
name = "Quoted \\"one\\" \\u00e9"
client_id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
client_secret = "Aa1Aa1Aa1Aa1Aa1Aa1Aa1Aa1Aa1Aa1Aa1Aa1Aa1Aa1"
org_code = "org_0123456789a"
claims = { tenant = "acme", nested = { list = [1, 2.5, true], empty = {} } }
lifetimes = { access_token = 60 }
[apps.apis]
"https://api.example.com" = ["read:calendar"]

[[orgs]]
code = "org_0123456789a"
handle = "acme"
is_allow_registrations = true
feature_flags = { theme = "dark" }
passkey_policy = "mandatory"
logos = { light = "acme.png" }

[[orgs.invites]]
code = "inv_0a1b2c"
email = "sam@example.com"
first_name = "Sam"
roles = ["analyst"]
is_revoked = true

[[users]]
email = "x@example.com"
picture = "https://example.com/x.png"
roles = ["admin"]
orgs = ["org_0123456789a"]
claims = { plan = "pro" }
org_roles = { org_0123456789a = ["analyst"] }
org_permissions = { org_0123456789a = ["read:reports"] }
feature_flags = { theme = "blue" }
properties = { team = "core" }
is_suspended = true
phone = "+1 555"
org_api_scopes = { org_0123456789a = { "https://api.example.com" = ["read:calendar"] } }

[[faults]]
id = "slow"
endpoint = "jwks"
effect = "latency"
delay = [0.1, 0.2]
probability = 0.5
seed = 7
"""


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={"MOCKAUTH_CONFIG": None, **(env or {})})


def test_the_starter_is_the_default_config_commented() -> None:
    starter = parse_config(STARTER_TOML.encode(), source="<default>")
    assert starter == default_config()


def test_the_starter_names_every_key_the_config_file_takes() -> None:
    # Each key appears set or commented out ("# key = ..."), with its table's header.
    keys = {
        "issuer", "login_page", "access_token", "id_token", "refresh_token", "refresh_grace",
        "overlap", "name", "audience", "scopes", "type", "client_id", "client_secret",
        "org_code", "claims", "lifetimes", "redirect_uris", "logout_uris", "code", "id",
        "email", "given_name", "family_name", "email_verified", "picture", "username", "orgs",
        "permissions", "roles", "endpoint", "effect", "status", "times",
        "scope_descriptions", "login_uri", "homepage_uri", "include_claims", "properties",
        "allowed_origins", "handle", "is_allow_registrations", "feature_flags", "org_roles",
        "org_permissions", "is_suspended", "key", "default", "allow_override_level",
        "context", "category_id",
    }  # fmt: skip
    written = set(re.findall(r"^#? ?([a-z_]+) = ", STARTER_TOML, flags=re.MULTILINE))
    assert keys <= written, keys - written
    headers = ("[lifetimes]", "[keys]", "[[apis]]", "[[apps]]", "[apps.apis]", "[[orgs]]")
    catalog = ("[[permissions]]", "[[roles]]", "[[feature_flags]]", "[[properties]]")
    for header in (*headers, *catalog, "[[property_categories]]", "[business]"):
        assert header in STARTER_TOML
    assert "[[users]]" in STARTER_TOML and "[[faults]]" in STARTER_TOML
    assert {"status", "times"} <= FAULT_FIELDS | FREQUENCY_KEYS


def test_init_writes_the_starter_and_serve_reads_it(tmp_path: Path) -> None:
    result = run("init", str(tmp_path / "mockauth.toml"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mockauth.toml").read_text() == STARTER_TOML
    loaded = load_config(tmp_path / "mockauth.toml")
    assert replace(loaded, source="<default>") == default_config()


def test_init_into_a_directory_names_the_file(tmp_path: Path) -> None:
    result = run("init", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'mockauth.toml'}" in result.stdout


def test_init_never_overwrites(tmp_path: Path) -> None:
    mine = tmp_path / "mockauth.toml"
    mine.write_text("# my own\n")
    result = run("init", str(mine))
    assert result.exit_code == 2
    assert "exists; not overwritten" in result.stderr
    assert mine.read_text() == "# my own\n"


def test_config_prints_the_default_as_toml_with_secrets() -> None:
    result = run("config")
    assert result.exit_code == 0, result.output
    assert parse_config(result.stdout.encode(), source="<default>") == default_config()
    for app in default_config().apps:
        if app.client_secret:
            assert app.client_secret in result.stdout


@pytest.mark.parametrize("via", ["flag", "env"])
def test_config_prints_what_a_config_file_holds(tmp_path: Path, via: str) -> None:
    path = tmp_path / "rich.toml"
    path.write_text(RICH)
    if via == "flag":
        result = run("config", "--config", str(path))
    else:
        result = run("config", env={"MOCKAUTH_CONFIG": str(path)})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"# mockauth's effective config, from {path}\n")
    assert parse_config(result.stdout.encode(), source=str(path)) == load_config(path)
    assert config_toml(load_config(path)) == result.stdout


def test_config_with_a_bad_file_exits_2_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[[apps]]\nname = 1\n")
    result = run("config", "--config", str(path))
    assert result.exit_code == 2
    assert str(path) in result.stderr

"""`mockauth init` and `mockauth config`: a commented starter config file, and the effective
config written back as TOML.

The starter holds every table the config file knows, each key explained; uncommented, it is
the embedded default config (a test holds the two equal), so it works as it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mockauth.setup.tomlwrite import dumps
from mockauth.tenant.apis import api_table
from mockauth.tenant.apps import app_table, lifetimes_table
from mockauth.tenant.catalog import catalog_tables
from mockauth.tenant.config import Business, ServerConfig, business_table
from mockauth.tenant.environment import Environment, environment_table
from mockauth.tenant.people import org_table, user_table

STARTER_NAME = "mockauth.toml"

STARTER_TOML = """\
# mockauth config: run it with `mockauth serve --config mockauth.toml` (or MOCKAUTH_CONFIG).
# As written it is mockauth's embedded default; `mockauth config --config mockauth.toml`
# prints what the server will use. Every value is checked at start: a bad one stops the
# server with a message naming this file, the key and the value.

# issuer = "https://acme.kinde.com"   # the `iss` of every token (an origin: no path, no
#                                     # trailing slash); default: the server's own URL
# login_page = true                   # /oauth2/auth shows a page to pick who signs in
#                                     # (default false: login_hint's user, or the first)

[lifetimes]                           # token lifetimes in seconds, for every app
access_token = 86400                  # Kinde's default: one day
# id_token = 3600
# refresh_token = 1296000             # 15 days
# refresh_grace = 30                  # a rotated-out refresh token still works this long

# [keys]
# overlap = 300                       # seconds a rotated-out signing key stays in the JWKS
#                                     # (default: until retired with `mockauth keys retire`)

# --- APIs: what an access token's `aud` may name ------------------------------------------

[[apis]]
name = "Calendar API"                 # shown in the start-up block
audience = "https://api.example.com"  # the audience your API checks
scopes = ["read:calendar", "update:event", "delete:event"]   # the scopes it defines

[[apis]]
name = "Kinde Management API"
audience = "{issuer}/api"             # {issuer} becomes the issuer: Kinde's Management API
scopes = []                           # it defines every scope of the operations mockauth
                                      # serves, whatever this list says
# scope_descriptions = { "read:calendar" = "Read the calendar" }   # (on any API)

# --- apps: who asks for tokens ----------------------------------------------------------

[[apps]]
name = "Backend"
type = "m2m"                          # m2m (client credentials), regular (a web app with a
                                      # secret), spa (PKCE, no secret) or device
client_id = "db7910a2cb5ef186a47f64aa64eb7783"                       # 32 lowercase hex
client_secret = "xQ4B4wc6gRUY6ziaDN1ti8EZKmMahPycjfeyPhInaflKHGTel1"  # 40-60 letters, digits
# org_code = "org_e5f28e1676d"        # adds the org_code claim to its tokens
# claims = { tenant = "acme" }        # extra claims (not ones mockauth sets: aud, iss, ...)
# lifetimes = { access_token = 3600 } # this app's own lifetimes

[apps.apis]                           # audience = the scopes this app is granted on that API
"https://api.example.com" = ["read:calendar", "update:event", "delete:event"]
"{issuer}/api" = "*"                  # "*": every scope the API defines

[[apps]]
name = "Web"
type = "regular"                      # user login with a secret (Next.js, Python, Node SDKs)
client_id = "4c3f8a5e0b7d4e21a9f6c2d8e1b05f37"
client_secret = "Rk7vW2mQ9pL4xT8nZ3cJ6hY1sB5dF0gKaE2uN7iO4rVt9XqM3w"
redirect_uris = ["http://localhost:3000/api/auth/kinde_callback",     # allowed callbacks,
                 "http://localhost:3000/callback", "http://localhost:8000/callback"]  # exact
logout_uris = ["http://localhost:3000", "http://localhost:8000"]      # allowed after logout
# login_uri = "http://localhost:3000/api/auth/login"     # where the app starts a sign-in
# homepage_uri = "http://localhost:3000"
# include_claims = ["user_properties", "organization_properties", "organizations"]
#                                     # also feature_flags, application_properties (M2M)
# properties = { region = "eu" }      # app properties' values ([[properties]] below)

[apps.apis]                           # APIs a user's token may name (users' permissions say
"https://api.example.com" = []        # what they may do there)

[[apps]]
name = "SPA"
type = "spa"                          # a browser app: PKCE, no client_secret
client_id = "9e1d2b7c5a3f4e6d8c0b1a2f3e4d5c6b"
redirect_uris = ["http://localhost:3000", "http://localhost:5173"]
logout_uris = ["http://localhost:3000", "http://localhost:5173"]
# allowed_origins = ["http://localhost:4200"]   # CORS: origins besides its callbacks' and
#                                     # logout URLs' (as a browser sends them)

[apps.apis]
"https://api.example.com" = []

[[apps]]
name = "TV"
type = "device"                       # the device flow: no secret, no callback
client_id = "6d2f0a9b8c7e4d3f1a5b2c9e8d7f6a4b"

[apps.apis]
"https://api.example.com" = []

# --- organisations and users: who signs in ----------------------------------------------

[[orgs]]
code = "org_e5f28e1676d"              # org_ + 1-32 lowercase letters or digits
name = "Example Org"                  # the org_name claim
# handle = "example"                  # also external_id, created_on
# is_allow_registrations = true       # as the Management API reports it
# feature_flags = { theme = "dark" }  # overrides for its members ([[feature_flags]] below)
# properties = { plan = "pro" }       # org properties' values
# passkey_policy = "optional"         # off, optional or mandatory (default: the environment's)
# logos = { light = "acme.png" }      # logo file names by type (light, dark); no image kept
# invites = [{ code = "inv_1a2b3c", email = "sam@example.com", roles = ["analyst"] }]
#                                     # also first_name, last_name, created_on, is_revoked

[[users]]
id = "kp_0f6c1b8e2d7a4c3b9e5f1a2d8c7b6e4a"   # the `sub`; default: kp_ + hex from the email
email = "jane@example.com"            # unique (case ignored); login_hint may name it
given_name = "Jane"
family_name = "Doe"
# email_verified = true
# picture = "https://example.com/jane.png"
# username = "jane"
orgs = ["org_e5f28e1676d"]            # codes from [[orgs]]; the first is signed in to
permissions = ["read:calendar", "update:event"]   # the permissions claim
# roles = ["admin"]                   # the roles claim ({id, key, name} each)
# claims = { plan = "pro" }           # extra access token claims
# org_roles = { org_e5f28e1676d = ["analyst"] }           # roles in one organisation
# org_permissions = { org_e5f28e1676d = ["read:reports"] }
# feature_flags = { theme = "blue" }  # the user's overrides
# properties = { team = "core" }      # user properties' values
# is_suspended = false                # true: the user gets no more tokens
# phone = "+61 400 000 000"           # also provided_id, created_on
# org_api_scopes = { org_e5f28e1676d = { "https://api.example.com" = ["read:calendar"] } }
#                                     # API scopes held in one organisation

# --- the catalog: what the Management API manages -----------------------------------------

# [[permissions]]
# key = "read:reports"                # id defaults to a stable uuid from the key
# name = "Read reports"

# [[roles]]
# key = "analyst"
# name = "Analyst"
# permissions = ["read:reports"]      # keys from [[permissions]]
# api_scopes = { "https://api.example.com" = ["read:calendar"] }   # API scopes it carries
# applications = ["4c3f8a5e0b7d4e21a9f6c2d8e1b05f37"]   # apps it grants access to

# [[feature_flags]]
# key = "theme"
# type = "s"                          # b (boolean), s (string) or i (integer)
# default = "light"
# allow_override_level = "usr"        # env, org or usr: how far down overrides reach

# [[property_categories]]
# id = "cat_profile"
# name = "Profile"
# context = "usr"

# [[properties]]
# key = "team"
# context = "usr"                     # usr, org or app
# category_id = "cat_profile"

# [business]                          # what GET /api/v1/business answers
# name = "Acme"                       # also email, phone, industry, timezone, privacy_url,
#                                     # terms_url, has_clickwrap, has_kinde_branding

# [environment]                       # what the environment's passkey and logo calls answer
# passkey_policy = "off"              # off (default), optional or mandatory
# logos = { dark = "acme-dark.png" }

# --- faults: make the server fail on purpose (docs/cli-admin.md lists every effect) -----

# [[faults]]
# endpoint = "token"                  # token, jwks, discovery, authorize, ... or any
# effect = "error"                    # latency, error, throttle, hang, close, bad_token, ...
# status = 503
# times = 1                           # or every = N, probability = p with seed = N
"""


def write_starter(path: str | Path) -> Path:
    """Write the starter config to ``path`` (a directory: ``mockauth.toml`` in it) and return
    where; FileExistsError if that file exists: nothing is ever overwritten."""
    target = Path(path)
    if target.is_dir():
        target = target / STARTER_NAME
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(STARTER_TOML)
    return target


def config_toml(config: ServerConfig) -> str:
    """``config`` as a TOML config file that loads back to the same config, secrets shown."""
    header = f"# mockauth's effective config, from {config.source}\n"
    return header + dumps(config_document(config))


def config_document(config: ServerConfig) -> dict[str, Any]:
    """``config`` as the tables of its config file."""
    doc: dict[str, Any] = {}
    if config.issuer is not None:
        doc["issuer"] = config.issuer
    doc["login_page"] = config.login_page
    doc["lifetimes"] = lifetimes_table(config.lifetimes)
    if config.key_overlap is not None:
        overlap = config.key_overlap
        doc["keys"] = {"overlap": int(overlap) if overlap.is_integer() else overlap}
    doc["apis"] = [api_table(api) for api in config.apis]
    doc["apps"] = [app_table(app) for app in config.apps]
    doc["orgs"] = [org_table(org) for org in config.orgs]
    doc["users"] = [user_table(user) for user in config.users]
    doc["faults"] = [rule.to_dict() for rule in config.faults]
    for kind, rows in catalog_tables(config.catalog).items():
        if rows:
            doc[kind] = [table for _, table in rows]
    if config.business != Business():
        doc["business"] = business_table(config.business)
    if config.environment != Environment():
        doc["environment"] = environment_table(config.environment)
    return doc

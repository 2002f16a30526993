"""The tenant the token endpoint tests share: apps of every type, four APIs, a frozen clock."""

from __future__ import annotations

from mockauth import paths
from mockauth.clock import Clock
from mockauth.errors import OAUTH_ERRORS as STANDARD_ERRORS
from mockauth.oauth.params import FORM_TYPE
from mockauth.tenant.config import parse_config
from mockauth.tenant.tenant import Tenant

ISSUER = "http://127.0.0.1:8400"
NOW = 1_700_000_000
TOKEN = paths.TOKEN
FORM = FORM_TYPE
CAL = "https://api.example.com"
BILL = "https://billing.example.com"
EMPTY = "https://empty.example.com"
MGMT = f"{ISSUER}/api"
APP_ID = "0123456789abcdef0123456789abcdef"
APP_SECRET = "S3cr3t" * 8
ORG_ID = "fedcba9876543210fedcba9876543210"
ORG_SECRET = "OrgSecret1" * 5
SPA_ID = "11111111111111111111111111111111"
WEB_ID = "22222222222222222222222222222222"
WEB_SECRET = "WebSecret2" * 5
KINDE_INVALID_CLIENT = (
    "Client authentication failed (e.g., unknown client, no client authentication included, "
    "or unsupported authentication method)."
)
OAUTH_ERRORS = set(STANDARD_ERRORS)  # the RFC 6749 codes, as mockauth defines them

CONFIG = f"""
[[apis]]
audience = "{CAL}"
scopes = ["read:calendar", "update:event", "delete:event"]

[[apis]]
audience = "{BILL}"
scopes = ["read:invoices", "write:invoices"]

[[apis]]
audience = "{EMPTY}"

[[apis]]
audience = "{{issuer}}/api"
scopes = ["read:users", "create:users"]

[[apps]]
name = "Backend"
client_id = "{APP_ID}"
client_secret = "{APP_SECRET}"
[apps.apis]
"{CAL}" = ["read:calendar", "update:event"]
"{BILL}" = ["read:invoices"]
"{EMPTY}" = []
"{{issuer}}/api" = ["read:users"]

[[apps]]
name = "Org backend"
client_id = "{ORG_ID}"
client_secret = "{ORG_SECRET}"
org_code = "org_0123456789a"
claims = {{ tenant = "acme", feature_flags = {{ beta = {{ t = "b", v = true }} }} }}
lifetimes = {{ access_token = 600 }}
[apps.apis]
"{CAL}" = ["read:calendar"]

[[apps]]
name = "SPA"
type = "spa"
client_id = "{SPA_ID}"
[apps.apis]
"{CAL}" = ["read:calendar"]

[[apps]]
name = "Web"
type = "regular"
client_id = "{WEB_ID}"
client_secret = "{WEB_SECRET}"
[apps.apis]
"{CAL}" = ["read:calendar"]
"""


def make_tenant(source: str) -> Tenant:
    clock = Clock()
    clock.freeze(NOW)
    return Tenant(parse_config(CONFIG.encode(), source=source), issuer=ISSUER, clock=clock)

"""Path constants (Kinde's wire paths and our admin prefix) and the discovery document."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/.well-known/jwks"
JWKS_JSON = "/.well-known/jwks.json"
TOKEN = "/oauth2/token"
AUTHORIZE = "/oauth2/auth"
USERINFO = "/oauth2/v2/user_profile"
USERINFO_V1 = "/oauth2/user_profile"
INTROSPECT = "/oauth2/introspect"
REVOKE = "/oauth2/revoke"
LOGOUT = "/logout"
DEVICE_AUTH = "/oauth2/device/auth"
DEVICE = "/device"  # where the user enters a device's user code
SIGNUP = "/signup"  # where the sign-up page posts (prompt=create)
MANAGEMENT = "/api/v1"  # Kinde's Management API
ACCOUNT_API = "/account_api/v1"  # Kinde's Account API (a user's token)
ADMIN = "/_mockauth"
HEALTH = ADMIN + "/health"
ADMIN_OPENAPI = ADMIN + "/openapi.json"
ADMIN_FAULTS = ADMIN + "/faults"
ADMIN_KEYS = ADMIN + "/keys"
ADMIN_CLOCK = ADMIN + "/clock"
ADMIN_JOURNAL = ADMIN + "/journal"
ADMIN_APPS = ADMIN + "/apps"
ADMIN_APIS = ADMIN + "/apis"
ADMIN_USERS = ADMIN + "/users"
ADMIN_ORGS = ADMIN + "/orgs"
ADMIN_RESET = ADMIN + "/reset"


def discovery_document(issuer: str, grant_types: Iterable[str]) -> dict[str, Any]:
    """Kinde's discovery fields, every URL built from the issuer."""
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + AUTHORIZE,
        "token_endpoint": issuer + TOKEN,
        "userinfo_endpoint": issuer + USERINFO,
        "jwks_uri": issuer + JWKS,
        "revocation_endpoint": issuer + REVOKE,
        "introspection_endpoint": issuer + INTROSPECT,
        "end_session_endpoint": issuer + LOGOUT,
        "device_authorization_endpoint": issuer + DEVICE_AUTH,
        "scopes_supported": ["address", "email", "offline", "openid", "phone", "profile"],
        "response_types_supported": [
            "code",
            "token",
            "id_token",
            "code id_token",
            "code token",
            "id_token token",
            "code id_token token",
        ],
        "response_modes_supported": ["form_post", "query", "fragment"],
        "grant_types_supported": sorted(grant_types),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "sub"],
        "code_challenge_methods_supported": ["S256"],
        "request_uri_parameter_supported": False,
    }

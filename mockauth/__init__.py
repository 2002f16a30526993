"""mockauth: a local mock of the Kinde authorisation server.

Every public name is importable from here, loaded on first use: ``from mockauth import
TokenValidator`` loads the validator alone, not the server, uvicorn or click.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# Public name -> the module that defines it.
_WHERE = {
    "AdminClient": "mockauth.admin.client",
    "Api": "mockauth.tenant.apis",
    "App": "mockauth.tenant.apps",
    "Clock": "mockauth.clock",
    "ConfigError": "mockauth.errors",
    "DisallowedAlgorithmError": "mockauth.errors",
    "FaultEngine": "mockauth.faults.engine",
    "FaultRule": "mockauth.faults.rules",
    "InsufficientPermissionError": "mockauth.errors",
    "InsufficientScopeError": "mockauth.errors",
    "InvalidAudienceError": "mockauth.errors",
    "InvalidIssuerError": "mockauth.errors",
    "InvalidSignatureError": "mockauth.errors",
    "Journal": "mockauth.tenant.journal",
    "JournalEntry": "mockauth.tenant.journal",
    "KeySetUnavailableError": "mockauth.errors",
    "KeyStore": "mockauth.tokens.keys",
    "Lifetimes": "mockauth.tenant.apps",
    "MalformedTokenError": "mockauth.errors",
    "MockAuth": "mockauth.testing.helpers",
    "MockAuthError": "mockauth.errors",
    "OAuthError": "mockauth.errors",
    "Org": "mockauth.tenant.people",
    "ScopeGuard": "mockauth.validator.guard",
    "ServerConfig": "mockauth.tenant.config",
    "ServerThread": "mockauth.http.server",
    "Tenant": "mockauth.tenant.tenant",
    "TokenClaims": "mockauth.validator.validator",
    "TokenExpiredError": "mockauth.errors",
    "TokenFactory": "mockauth.tokens.claims",
    "TokenNotYetValidError": "mockauth.errors",
    "TokenValidationError": "mockauth.errors",
    "TokenValidator": "mockauth.validator.validator",
    "UnknownKeyError": "mockauth.errors",
    "User": "mockauth.tenant.people",
    "create_app": "mockauth.http.app",
    "default_config": "mockauth.tenant.config",
    "load_config": "mockauth.tenant.config",
    "parse_rule": "mockauth.faults.rules",
    "requires_scopes": "mockauth.validator.guard",
}

__all__ = [
    "AdminClient",
    "Api",
    "App",
    "Clock",
    "ConfigError",
    "DisallowedAlgorithmError",
    "FaultEngine",
    "FaultRule",
    "InsufficientPermissionError",
    "InsufficientScopeError",
    "InvalidAudienceError",
    "InvalidIssuerError",
    "InvalidSignatureError",
    "Journal",
    "JournalEntry",
    "KeySetUnavailableError",
    "KeyStore",
    "Lifetimes",
    "MalformedTokenError",
    "MockAuth",
    "MockAuthError",
    "OAuthError",
    "Org",
    "ScopeGuard",
    "ServerConfig",
    "ServerThread",
    "Tenant",
    "TokenClaims",
    "TokenExpiredError",
    "TokenFactory",
    "TokenNotYetValidError",
    "TokenValidationError",
    "TokenValidator",
    "UnknownKeyError",
    "User",
    "__version__",
    "create_app",
    "default_config",
    "load_config",
    "parse_rule",
    "requires_scopes",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'mockauth' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # what type checkers and editors see; at run time, __getattr__ loads it
    from mockauth.admin.client import AdminClient
    from mockauth.clock import Clock
    from mockauth.errors import (
        ConfigError,
        DisallowedAlgorithmError,
        InsufficientPermissionError,
        InsufficientScopeError,
        InvalidAudienceError,
        InvalidIssuerError,
        InvalidSignatureError,
        KeySetUnavailableError,
        MalformedTokenError,
        MockAuthError,
        OAuthError,
        TokenExpiredError,
        TokenNotYetValidError,
        TokenValidationError,
        UnknownKeyError,
    )
    from mockauth.faults.engine import FaultEngine
    from mockauth.faults.rules import FaultRule, parse_rule
    from mockauth.http.app import create_app
    from mockauth.http.server import ServerThread
    from mockauth.tenant.apis import Api
    from mockauth.tenant.apps import App, Lifetimes
    from mockauth.tenant.config import ServerConfig, default_config, load_config
    from mockauth.tenant.journal import Journal, JournalEntry
    from mockauth.tenant.people import Org, User
    from mockauth.tenant.tenant import Tenant
    from mockauth.testing.helpers import MockAuth
    from mockauth.tokens.claims import TokenFactory
    from mockauth.tokens.keys import KeyStore
    from mockauth.validator.guard import ScopeGuard, requires_scopes
    from mockauth.validator.validator import TokenClaims, TokenValidator

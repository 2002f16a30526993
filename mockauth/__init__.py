"""mockauth: a local mock of the Kinde authorisation server."""

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
from mockauth.tenant.config import Api, App, Lifetimes, ServerConfig, default_config, load_config
from mockauth.tenant.journal import Journal, JournalEntry
from mockauth.tenant.tenant import Tenant
from mockauth.tokens.claims import TokenFactory
from mockauth.tokens.keys import KeyStore
from mockauth.validator.guard import ScopeGuard, requires_scopes
from mockauth.validator.validator import TokenClaims, TokenValidator

__version__ = "0.1.0"

__all__ = [
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
    "MockAuthError",
    "OAuthError",
    "ScopeGuard",
    "ServerConfig",
    "Tenant",
    "TokenClaims",
    "TokenExpiredError",
    "TokenFactory",
    "TokenNotYetValidError",
    "TokenValidationError",
    "TokenValidator",
    "UnknownKeyError",
    "__version__",
    "create_app",
    "default_config",
    "load_config",
    "parse_rule",
    "requires_scopes",
]

"""mockauth: a local mock of the Kinde authorisation server."""

from mockauth.app import create_app
from mockauth.clock import Clock
from mockauth.config import Api, App, Lifetimes, ServerConfig, default_config, load_config
from mockauth.errors import ConfigError, MockAuthError, OAuthError, TokenValidationError
from mockauth.keys import KeyStore
from mockauth.state import Tenant
from mockauth.tokens import TokenFactory

__version__ = "0.1.0"

__all__ = [
    "Api",
    "App",
    "Clock",
    "ConfigError",
    "KeyStore",
    "Lifetimes",
    "MockAuthError",
    "OAuthError",
    "ServerConfig",
    "Tenant",
    "TokenFactory",
    "TokenValidationError",
    "__version__",
    "create_app",
    "default_config",
    "load_config",
]

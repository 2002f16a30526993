"""The data of the hypothesis strategies: ``Target`` (what the API under test accepts) and
``TokenCase`` (a drawn token and what a correct validator does with it).

Private: import these from ``mockauth.testing.strategies``, the public module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from mockauth.errors import TokenValidationError
from mockauth.tenant.apis import SCOPE_RE
from mockauth.tenant.apps import App
from mockauth.tokens.keys import KeyStore
from mockauth.validator.validator import TokenValidator

if TYPE_CHECKING:
    from mockauth.tenant.tenant import Tenant


@dataclass(frozen=True, kw_only=True)
class Target:
    """What the API under test accepts: the settings of its validator.

    ``scopes`` are the API's scopes a valid token may hold besides ``required_scopes`` (the
    scopes the endpoint under test demands); ``permissions`` and ``required_permissions``
    are the same for users' tokens (Kinde's ``permissions`` claim). ``apps``, when given,
    are the clients valid M2M tokens are issued to (their grants on ``audience`` decide the
    scopes); otherwise the strategies invent clients. ``now`` is the time the validator
    sees; ``None`` means the real clock.
    """

    issuer: str
    audience: str
    keys: KeyStore
    scopes: tuple[str, ...] = ()
    required_scopes: tuple[str, ...] = ()
    leeway: int = 0
    now: int | None = None
    apps: tuple[App, ...] = ()
    permissions: tuple[str, ...] = ()
    required_permissions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for scope in (*self.scopes, *self.required_scopes, *self.permissions):
            if not SCOPE_RE.match(scope):
                raise ValueError(f"not a scope token: {scope!r}")
        for permission in self.required_permissions:
            if not SCOPE_RE.match(permission):
                raise ValueError(f"not a permission: {permission!r}")
        for name in ("required_scopes", "required_permissions"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} has duplicates: {values}")
        if self.leeway < 0:
            raise ValueError(f"leeway must be >= 0, not {self.leeway}")
        if self.apps and not self._grants():
            raise ValueError(
                f"no app is granted {self.required_scopes} on {self.audience!r}; "
                "valid tokens cannot be drawn"
            )

    @classmethod
    def for_tenant(
        cls,
        tenant: Tenant,
        *,
        audience: str,
        required_scopes: Sequence[str] = (),
        required_permissions: Sequence[str] = (),
        leeway: int = 0,
        now: int | None = None,
    ) -> Target:
        """A target for tokens as the tenant issues them: its issuer, keys, apps and grants,
        and the permissions its users hold."""
        api = next((a for a in tenant.config.apis if a.audience == audience), None)
        held = {p: None for user in tenant.config.users for p in user.permissions}
        return cls(
            issuer=tenant.issuer,
            audience=audience,
            keys=tenant.keys,
            scopes=api.scopes if api is not None else (),
            required_scopes=tuple(required_scopes),
            leeway=leeway,
            now=now,
            apps=tuple(a for a in tenant.config.apps if a.type == "m2m"),
            permissions=tuple(p for p in held if p not in required_permissions),
            required_permissions=tuple(required_permissions),
        )

    def validator(self) -> TokenValidator:
        """A TokenValidator for this target: in-process keys, the target's clock and leeway."""
        now = self.now
        clock: Callable[[], float] = time.time if now is None else (lambda: now)
        return TokenValidator(
            issuer=self.issuer,
            audience=self.audience,
            jwks=self.keys,
            leeway=self.leeway,
            clock=clock,
        )

    def _grants(self) -> list[tuple[App, tuple[str, ...]]]:
        """(app, its scopes on the audience) for each app that can hold the required scopes."""
        return [
            (app, app.apis[self.audience])
            for app in self.apps
            if self.audience in app.apis
            and set(self.required_scopes) <= set(app.apis[self.audience])
        ]


@dataclass(frozen=True, kw_only=True)
class TokenCase:
    """A drawn token and what a correct validator does with it.

    ``claims`` are the claims of the good token the case was built from (for a valid case,
    exactly the claims signed). ``error`` is the TokenValidationError subclass a correct
    validator raises (``None``: it accepts), ``error_attributes`` the values that error
    must carry (e.g. ``missing``), and ``detail`` the fault's parameters.
    """

    token: str
    target: Target
    claims: Mapping[str, Any]
    fault: str | None = None
    error: type[TokenValidationError] | None = None
    error_attributes: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    detail: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def valid(self) -> bool:
        return self.fault is None

    @property
    def required_scopes(self) -> tuple[str, ...]:
        """The scopes to demand when validating (the target's)."""
        return self.target.required_scopes

    @property
    def required_permissions(self) -> tuple[str, ...]:
        """The permissions to demand when validating a user's token (the target's)."""
        return self.target.required_permissions

    @property
    def http_status(self) -> int:
        """What a correct API answers: 200, 403 for missing scopes or permissions, else 401
        (RFC 6750)."""
        if self.fault is None:
            return 200
        return 403 if self.fault in ("missing_scopes", "missing_permissions") else 401

    def matches(self, exc: BaseException) -> bool:
        """True if ``exc`` is exactly the expected error with the expected attributes."""
        if self.error is None or type(exc) is not self.error:
            return False
        return all(getattr(exc, k, _ABSENT) == v for k, v in self.error_attributes.items())


_ABSENT = object()

"""The refresh_token grant: new tokens and a rotated refresh token.

Refresh tokens descend from one sign-in in a *family* and take turns: each use moves the
family to the next generation and returns a refresh token of it. The previous one still
refreshes for ``refresh_grace`` seconds after it was rotated out (two tabs refreshing at
once, a retry after a dropped answer), as Kinde allows; past that, a second use is replay,
and the whole family is revoked.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers

from mockauth.errors import InvalidGrantError, InvalidScopeError, shown
from mockauth.issuance import FAMILY_MEMORY, SignIn, user_tokens
from mockauth.oauth.clientauth import authenticate
from mockauth.oauth.params import Form
from mockauth.tokens.sealed import Refresh

if TYPE_CHECKING:
    from mockauth.tenant.apps import App
    from mockauth.tenant.tenant import Tenant

GRANT_TYPE = "refresh_token"


def grant(tenant: Tenant, form: Form, headers: Headers) -> dict[str, Any]:
    """Authenticate the app (spa apps send only their client_id) and redeem the token."""
    app = authenticate(tenant, headers, form, require_secret=False)
    return redeem(tenant, app, form.required("refresh_token"), form.one("scope"))


def redeem(tenant: Tenant, app: App, token: str, scope: str | None) -> dict[str, Any]:
    """New tokens for a refresh token sent by an authenticated app."""
    refresh = Refresh.open(tenant.sealer, token)
    if refresh is None:
        raise InvalidGrantError("The refresh token is not one this server issued.")
    if refresh.client_id != app.client_id:
        raise InvalidGrantError("The refresh token was issued to another client.")
    if refresh.exp <= tenant.clock() or refresh.real_exp <= time.time():
        raise InvalidGrantError("The refresh token has expired.")
    scopes = _narrowed(refresh, scope)
    generation = _take_turn(tenant, app, refresh)
    # A narrower scope is for the tokens issued now; the new refresh token keeps the
    # sign-in's scope (RFC 6749 section 6).
    return user_tokens(
        tenant,
        app,
        SignIn.of_refresh(refresh),
        previous=refresh,
        scopes=scopes,
        generation=generation,
    )


def _narrowed(refresh: Refresh, scope: str | None) -> list[str]:
    if not scope or not scope.split():
        return list(refresh.scopes)
    scopes = list(dict.fromkeys(scope.split()))
    extra = [s for s in scopes if s not in refresh.scopes]
    if extra:
        raise InvalidScopeError(
            f"The scope {shown(' '.join(extra))!r} was not granted to this refresh token."
        )
    return scopes


def _take_turn(tenant: Tenant, app: App, refresh: Refresh) -> int:
    """Move the family past this token; the generation of the refresh token to issue."""
    store, family, turn = tenant.store, refresh.family_id, refresh.generation
    now = tenant.clock()  # the grace runs on the tenant's clock, so tests can move past it
    # The family is remembered while any of its refresh tokens can live.
    until = time.time() + tenant.config.lifetimes_for(app).refresh_token
    if store.advance_family(family, [turn] if turn else [-1, 0], turn + 1, now, until):
        return turn + 1
    state = store.family(family)
    if state is not None and state.revoked:
        raise InvalidGrantError("The refresh token was revoked.")
    grace = tenant.config.lifetimes_for(app).refresh_grace
    if state is not None and state.generation == turn + 1 and now - state.rotated_at <= grace:
        return turn + 1  # refreshed a moment ago (another tab): within the grace period
    # Used again past its turn: someone else may hold it. Revoke the family for good.
    store.revoke_family(family, time.time() + FAMILY_MEMORY)
    store.spend(refresh.access_jti, refresh.access_until)
    raise InvalidGrantError(
        "The refresh token has already been used: each refresh returns a new one. Its "
        "family of refresh tokens is revoked; sign in again."
    )


def live(tenant: Tenant, token: str) -> Refresh | None:
    """A refresh token that would refresh now, or None (introspection, revocation)."""
    refresh = Refresh.open(tenant.sealer, token)
    now = tenant.clock()
    if refresh is None or refresh.exp <= now or refresh.real_exp <= time.time():
        return None
    app = tenant.app(refresh.client_id)
    if app is None or tenant.user(refresh.user_id) is None:
        return None
    state = tenant.store.family(refresh.family_id)
    if state is None:
        return refresh if refresh.generation == 0 else None
    grace = tenant.config.lifetimes_for(app).refresh_grace
    in_grace = state.generation == refresh.generation + 1 and now - state.rotated_at <= grace
    current = state.generation == refresh.generation
    return refresh if not state.revoked and (current or in_grace) else None


def revoke(tenant: Tenant, refresh: Refresh) -> None:
    """Revoke a refresh token's whole family and the access token issued with it (RFC 7009
    2.1: the server may revoke the tokens of the same grant)."""
    tenant.store.revoke_family(refresh.family_id, time.time() + FAMILY_MEMORY)
    tenant.store.spend(refresh.access_jti, refresh.access_until)

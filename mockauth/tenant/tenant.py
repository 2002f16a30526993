"""Tenant: everything a request needs, in one object that create_app receives."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import jwt

from mockauth.clock import Clock
from mockauth.errors import ConfigError
from mockauth.faults.engine import FaultEngine
from mockauth.faults.rules import stateful_rules
from mockauth.oauth.deviceflow import DeviceFlow
from mockauth.oauth.grants import GRANTS
from mockauth.oauth.userflow import UserLogin
from mockauth.paths import discovery_document
from mockauth.tenant.config import (
    ISSUER_PLACEHOLDER,
    Api,
    App,
    ServerConfig,
    default_config,
    issuer_problem,
    parse_api,
    parse_app,
    parse_org_table,
    parse_user_table,
)
from mockauth.tenant.journal import DEFAULT_SIZE, Journal
from mockauth.tenant.people import Org, User, org_table, user_table
from mockauth.tokens.claims import JTI_RE, TokenFactory
from mockauth.tokens.keys import KeyStore
from mockauth.tokens.sealed import SPENT_DIR, Sealer, SpentIds, load_seal_key

T = TypeVar("T")
_SIGNATURE_ONLY: jwt.types.Options = {
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
    "verify_aud": False,
}


class Tenant:
    """A mock Kinde business: config resolved for one issuer, keys, clock and token factory,
    plus the runtime state tests change: fault rules, the request journal, runtime apps.

    ``admin_secret``: bearer secret the admin API requires (None: no check).
    ``workers``: how many processes serve this tenant; above 1 the admin API refuses
    runtime changes that only the one process answering would see.
    """

    def __init__(
        self,
        config: ServerConfig | None = None,
        *,
        issuer: str,
        keys: KeyStore | None = None,
        keys_dir: str | Path | None = None,
        clock: Clock | None = None,
        admin_secret: str | None = None,
        workers: int = 1,
        journal_size: int = DEFAULT_SIZE,
    ) -> None:
        base = config or default_config()
        for source, value in (("issuer", issuer), (base.source, base.issuer)):
            problem = issuer_problem(value) if value is not None else None
            if problem:
                raise ConfigError(source, "issuer", value, problem)
        self.issuer = base.issuer or issuer
        self.config = base.with_issuer(self.issuer)
        self.keys = keys or KeyStore(keys_dir)
        self.clock = clock or Clock()
        self.tokens = TokenFactory(issuer=self.issuer, keys=self.keys, clock=self.clock)
        self.discovery_bytes = json.dumps(discovery_document(self.issuer, GRANTS)).encode()
        self._apps = {app.client_id: app for app in self.config.apps}
        if admin_secret is not None and (not admin_secret or admin_secret.strip() != admin_secret):
            # An empty secret would let "Authorization: Bearer" through.
            raise ConfigError(
                "admin_secret",
                "admin_secret",
                "(hidden)",
                "must be non-empty, no spaces at the ends",
            )
        self.admin_secret = admin_secret
        self.workers = workers
        if workers > 1:
            _refuse_counted_faults(self.config)
        self.faults = FaultEngine(self.config.faults)
        self.journal = Journal(journal_size, enabled=workers == 1)
        self._startup = self.config
        self._mutex = threading.Lock()
        self.started_at = self.clock()
        keys_dir = self.keys.keys_dir
        # On disk with a keys dir: sealed grants outlive a restart, so must their spending.
        spent_dir = keys_dir / SPENT_DIR if keys_dir is not None else None
        self.login = UserLogin(self, Sealer(load_seal_key(keys_dir)), SpentIds(spent_dir))
        self.device = DeviceFlow(self.login)

    def app(self, client_id: str) -> App | None:
        """The configured app with this client id."""
        return self._apps.get(client_id)

    def user(self, user_id: str) -> User | None:
        """The configured user with this id."""
        return next((u for u in self.config.users if u.id == user_id), None)

    def org(self, code: str) -> Org | None:
        """The configured organisation with this code."""
        return next((o for o in self.config.orgs if o.code == code), None)

    def access_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a live access token this tenant signed, or None.

        Live: a published key's RS256 signature, this issuer, unexpired on the tenant's
        clock, not revoked. ID tokens (they carry ``at_hash``) are not access tokens.
        """
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.keys.public_key(kid) if isinstance(kid, str) else None
            if key is None:
                return None
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=["RS256"], options=_SIGNATURE_ONLY
            )
        except jwt.PyJWTError:
            return None
        exp, jti, now = claims.get("exp"), claims.get("jti"), self.clock()
        if (
            claims.get("iss") != self.issuer
            or "at_hash" in claims
            or not isinstance(exp, int)
            or exp <= now
            or not _not_after(claims.get("nbf"), now)
            or not _not_after(claims.get("iat"), now)
            or not isinstance(jti, str)
            or not JTI_RE.match(jti)
        ):
            return None
        sub = claims.get("sub")
        if sub is not None and (not isinstance(sub, str) or self.user(sub) is None):
            return None  # a user no longer configured: their tokens are dead
        return None if self.login.spent.is_spent(jti) else claims

    def put_app(self, data: App | object, *, source: str = "app") -> tuple[App, bool]:
        """Add or replace (by client_id) an app given as an App or as its config table.

        Tables are validated as in the config file (ConfigError names the key and value);
        ``{issuer}`` in audiences is expanded. Returns the app and whether it is new.
        """
        with self._mutex:
            app = data if isinstance(data, App) else self._parse_app(data, source)
            apps, created = _put(self.config.apps, app, lambda a: a.client_id)
            self._install(replace(self.config, apps=apps))
        return app, created

    def remove_app(self, client_id: str) -> App:
        """Remove an app; KeyError if there is none with this client id."""
        with self._mutex:
            app = self._apps[client_id]
            apps = tuple(a for a in self.config.apps if a.client_id != client_id)
            self._install(replace(self.config, apps=apps))
        return app

    def put_api(self, data: Api | object, *, source: str = "api") -> tuple[Api, bool]:
        """Add or replace (by audience) an API; refused if an app would keep a scope the
        new definition drops. Returns the API and whether it is new."""
        with self._mutex:
            api = (
                data
                if isinstance(data, Api)
                else parse_api(self._expand(data, source), source=source)
            )
            _check_grants(self.config.apps, api, source)
            apis, created = _put(self.config.apis, api, lambda a: a.audience)
            self._install(replace(self.config, apis=apis))
        return api, created

    def put_org(self, data: Org | object, *, source: str = "org") -> tuple[Org, bool]:
        """Add or replace (by code) an organisation. Returns it and whether it is new."""
        with self._mutex:
            # Objects are checked as their tables are: an Org or User is no way round the rules.
            table = org_table(data) if isinstance(data, Org) else data
            org = parse_org_table(table, source=source)
            orgs, created = _put(self.config.orgs, org, lambda o: o.code)
            self._install(replace(self.config, orgs=orgs))
        return org, created

    def put_user(self, data: User | object, *, source: str = "user") -> tuple[User, bool]:
        """Add or replace (by id) a user who can sign in; tables are validated as in the
        config file, against the orgs defined. Returns the user and whether it is new."""
        with self._mutex:
            table = user_table(data) if isinstance(data, User) else data
            user = parse_user_table(table, source=source, orgs=self.config.orgs)
            others = [u for u in self.config.users if u.id != user.id]
            if any(u.email.lower() == user.email.lower() for u in others):
                raise ConfigError(source, "email", user.email, "another user has this email")
            users, created = _put(self.config.users, user, lambda u: u.id)
            self._install(replace(self.config, users=users))
        return user, created

    def remove_user(self, user_id: str) -> User:
        """Remove a user; KeyError if there is none with this id."""
        with self._mutex:
            user = self.user(user_id)
            if user is None:
                raise KeyError(user_id)
            users = tuple(u for u in self.config.users if u.id != user_id)
            self._install(replace(self.config, users=users))
        return user

    def rotate_keys(self, *, overlap: float | None = None) -> str:
        """Rotate the signing key; ``overlap`` defaults to the config's ``[keys] overlap``."""
        return self.keys.rotate(overlap=self.config.key_overlap if overlap is None else overlap)

    def reset(self) -> None:
        """Back to the start-up state: config apps and faults, real time, empty journal.
        Keys are not touched: they persist in the keys dir."""
        with self._mutex:
            self._install(self._startup)
        self.faults.load(self._startup.faults)
        self.clock.reset()
        self.journal.clear()

    def _install(self, config: ServerConfig) -> None:
        # One assignment each, so request handlers see the old or the new config, never a mix.
        self.config = config
        self._apps = {app.client_id: app for app in config.apps}

    def _parse_app(self, data: object, source: str) -> App:
        return parse_app(self._expand(data, source), source=source, apis=self.config.apis)

    def _expand(self, data: object, source: str) -> object:
        """Runtime tables may write ``{issuer}`` in audiences, like the config file."""
        if not isinstance(data, dict):
            return data
        out: dict[str, Any] = dict(data)
        if isinstance(out.get("audience"), str):
            out["audience"] = out["audience"].replace(ISSUER_PLACEHOLDER, self.issuer)
        if isinstance(out.get("apis"), dict):
            apis: dict[str, Any] = {}
            for key, scopes in out["apis"].items():
                audience = key.replace(ISSUER_PLACEHOLDER, self.issuer)
                if audience in apis:  # written both ways: one grant would be lost
                    raise ConfigError(source, f"apis.{key}", scopes, f"{audience} is granted twice")
                apis[audience] = scopes
            out["apis"] = apis
        return out


def _put(items: tuple[T, ...], item: T, key: Callable[[T], str]) -> tuple[tuple[T, ...], bool]:
    """``items`` with ``item`` in the place of the one with its key (order kept: the first
    user and app are the defaults), or added at the end; and whether it is new."""
    keys = [key(i) for i in items]
    if key(item) in keys:
        at = keys.index(key(item))
        return (*items[:at], item, *items[at + 1 :]), False
    return (*items, item), True


def _not_after(value: object, now: int) -> bool:
    """An optional time claim that has come (absent counts as come)."""
    return value is None or (isinstance(value, int | float) and value <= now)


def _check_grants(apps: tuple[App, ...], api: Api, source: str) -> None:
    defined = set(api.scopes)
    for app in apps:
        for scope in app.apis.get(api.audience, ()):
            if scope not in defined:
                reason = f"app {app.name!r} is granted {scope!r}, which this API would drop"
                raise ConfigError(source, "scopes", list(api.scopes), reason)


def _refuse_counted_faults(config: ServerConfig) -> None:
    counted = stateful_rules(config.faults)
    if counted:
        i = counted[0]
        raise ConfigError(
            config.source,
            f"faults[{i}]",
            config.faults[i].to_dict(),
            "counts requests (times, every, probability or expires_in), but each worker "
            "process would count on its own: use --workers 1, or a rule that always fires",
        )

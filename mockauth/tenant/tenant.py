"""Tenant: everything a request needs, in one object that create_app receives.

What changes while a server runs (apps, APIs, users, organisations, fault rules, the clock,
the journal, spent ids) lives in the tenant's store, so every worker of a server sees one
tenant. Each worker keeps a snapshot (``config``) and reads the store again only when its
change counter has moved: ``refresh()`` is called once per request, and costs one indexed
read when nothing changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import jwt

from mockauth.clock import Clock
from mockauth.errors import ConfigConflictError, ConfigError
from mockauth.faults.engine import FaultEngine
from mockauth.faults.rules import parse_rule
from mockauth.tenant.apis import Api, api_table, parse_api
from mockauth.tenant.apps import App, app_table, parse_app
from mockauth.tenant.config import ISSUER_PLACEHOLDER, ServerConfig, default_config, issuer_problem
from mockauth.tenant.entities import config_from, entities_of, settings_of
from mockauth.tenant.journal import DEFAULT_SIZE, SETTLE, Journal
from mockauth.tenant.memory import memory_store
from mockauth.tenant.people import (
    Org,
    User,
    org_table,
    parse_org_table,
    parse_user_table,
    user_table,
)
from mockauth.tenant.rows import Entities
from mockauth.tenant.sqlite import open_store
from mockauth.tenant.store import Store
from mockauth.tokens.claims import JTI_RE, TokenFactory
from mockauth.tokens.keys import KeyStore
from mockauth.tokens.sealed import Sealer, load_seal_key

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

    ``store``: where the runtime state lives (default: in the keys dir when there is one,
    else in memory). ``seed=False`` joins a store another process seeded (a worker) instead
    of writing ``config`` into it. ``admin_secret``: the bearer secret the admin API
    requires (None: no check). ``workers``: how many processes serve this tenant.
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
        store: Store | None = None,
        seed: bool = True,
    ) -> None:
        base = config or default_config()
        for source, value in (("issuer", issuer), (base.source, base.issuer)):
            problem = issuer_problem(value) if value is not None else None
            if problem:
                raise ConfigError(source, "issuer", value, problem)
        self.issuer = base.issuer or issuer
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
        self.keys = keys or KeyStore(keys_dir)
        keys_dir = self.keys.keys_dir
        self.store = store or (open_store(keys_dir) if keys_dir is not None else memory_store())
        self.clock = clock or Clock()
        self.tokens = TokenFactory(issuer=self.issuer, keys=self.keys, clock=self.clock)
        self.faults = FaultEngine(store=self.store)
        self.journal = Journal(journal_size, store=self.store)
        if workers > 1:
            self.journal.settle = SETTLE
        self._mutex = threading.Lock()
        self._version = -1
        self.config = base.with_issuer(self.issuer)
        self._apps: dict[str, App] = {}
        if seed:
            self._seed(self.config)
        self.refresh()
        self.clock.on_change = self._save_clock
        self.started_at = self.clock()
        # Seals codes, refresh tokens and device codes (tokens/sealed.py).
        self.sealer = Sealer(load_seal_key(keys_dir))

    # --- the snapshot ----------------------------------------------------------------------

    def refresh(self) -> bool:
        """Read the store again if another worker (or test thread) changed it; True if so."""
        version = self.store.version()
        if version == self._version:
            return False
        with self._mutex:
            self._load(version)
        return True

    def _load(self, version: int) -> None:
        settings = self.store.settings()
        config = config_from(self.store.entities(), settings.get("config", {}), self.config)
        # One assignment each, so request handlers see the old or the new config, never a mix.
        self.config = config
        self._apps = {app.client_id: app for app in config.apps}
        clock = settings.get("clock", {})
        self.clock.load(clock.get("offset", 0.0), clock.get("frozen_at"))
        self.journal.load(int(settings.get("journal_generation", 0)))
        self.faults.reload()
        self._version = version

    def _seed(self, config: ServerConfig) -> None:
        """Write ``config`` into the store: the tenant as it starts (and as reset makes it)."""
        entities = entities_of(config)
        faults = [rule.to_dict() for rule in config.faults]
        settings = settings_of(config)
        self.store.set_settings(
            config=settings,
            startup={"entities": entities, "faults": faults, "config": settings},
            clock={"offset": self.clock.offset, "frozen_at": self.clock.frozen_at},
        )
        self.store.replace_entities(entities)
        self.faults.load(config.faults)
        self.journal.clear()

    def _save_clock(self, offset: float, frozen_at: float | None) -> None:
        self.store.set_settings(clock={"offset": offset, "frozen_at": frozen_at})
        self.refresh()

    # --- reading -----------------------------------------------------------------------------

    def app(self, client_id: str) -> App | None:
        """The app with this client id."""
        return self._apps.get(client_id)

    def user(self, user_id: str) -> User | None:
        """The user with this id."""
        return next((u for u in self.config.users if u.id == user_id), None)

    def org(self, code: str) -> Org | None:
        """The organisation with this code."""
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
            return None  # a user no longer in the tenant: their tokens are dead
        return None if self.store.is_spent(jti) else claims

    # --- writing -----------------------------------------------------------------------------

    def put_app(self, data: App | object, *, source: str = "app") -> tuple[App, bool]:
        """Add or replace (by client_id) an app given as an App or as its config table.

        Tables are validated as in the config file (ConfigError names the key and value);
        ``{issuer}`` in audiences is expanded. Returns the app and whether it is new.
        """
        table = self._expand(app_table(data) if isinstance(data, App) else data, source)

        def change(config: ServerConfig) -> tuple[ServerConfig, tuple[App, bool]]:
            app = parse_app(table, source=source, apis=config.apis, catalog=config.catalog)
            apps, created = _put(config.apps, app, lambda a: a.client_id)
            return replace(config, apps=apps), (app, created)

        return self._update(change)

    def remove_app(self, client_id: str) -> App:
        """Remove an app; KeyError if there is none with this client id."""

        def change(config: ServerConfig) -> tuple[ServerConfig, App]:
            found = [a for a in config.apps if a.client_id == client_id]
            if not found:
                raise KeyError(client_id)
            apps = tuple(a for a in config.apps if a.client_id != client_id)
            return replace(config, apps=apps), found[0]

        return self._update(change)

    def put_api(self, data: Api | object, *, source: str = "api") -> tuple[Api, bool]:
        """Add or replace (by audience) an API; refused if an app would keep a scope the
        new definition drops. Returns the API and whether it is new."""
        table = self._expand(api_table(data) if isinstance(data, Api) else data, source)
        api = parse_api(table, source=source, issuer=self.issuer)

        def change(config: ServerConfig) -> tuple[ServerConfig, tuple[Api, bool]]:
            _check_grants(config.apps, api, source)
            apis, created = _put(config.apis, api, lambda a: a.audience)
            return replace(config, apis=apis), (api, created)

        return self._update(change)

    def put_org(self, data: Org | object, *, source: str = "org") -> tuple[Org, bool]:
        """Add or replace (by code) an organisation. Returns it and whether it is new."""
        # Objects are checked as their tables are: an Org or User is no way round the rules.
        table = org_table(data) if isinstance(data, Org) else data

        def change(config: ServerConfig) -> tuple[ServerConfig, tuple[Org, bool]]:
            org = parse_org_table(table, source=source, catalog=config.catalog)
            orgs, created = _put(config.orgs, org, lambda o: o.code)
            return replace(config, orgs=orgs), (org, created)

        return self._update(change)

    def put_user(self, data: User | object, *, source: str = "user") -> tuple[User, bool]:
        """Add or replace (by id) a user who can sign in; tables are validated as in the
        config file, against the orgs defined. Returns the user and whether it is new."""
        table = user_table(data) if isinstance(data, User) else data

        def change(config: ServerConfig) -> tuple[ServerConfig, tuple[User, bool]]:
            user = parse_user_table(table, source=source, orgs=config.orgs, catalog=config.catalog)
            others = [u for u in config.users if u.id != user.id]
            if any(u.email.lower() == user.email.lower() for u in others):
                raise ConfigConflictError(
                    source, "email", user.email, "another user has this email"
                )
            users, created = _put(config.users, user, lambda u: u.id)
            return replace(config, users=users), (user, created)

        return self._update(change)

    def sign_up(
        self, user: object, org: object | None = None, *, source: str = "sign-up"
    ) -> tuple[User, Org | None]:
        """Add a new user (and a new organisation they belong to) in one step, as Kinde's
        sign-up does: both are added, or neither. ConfigError names the bad key."""

        def change(config: ServerConfig) -> tuple[ServerConfig, tuple[User, Org | None]]:
            new_org = parse_org_table(org, source=source, key="org") if org is not None else None
            orgs = config.orgs
            if new_org is not None:
                if self.org(new_org.code) is not None:
                    raise ConfigError(source, "org.code", new_org.code, "is taken")
                orgs = (*orgs, new_org)
            new_user = parse_user_table(user, source=source, orgs=orgs)
            taken = {u.email.lower() for u in config.users} | {u.id for u in config.users}
            if new_user.email.lower() in taken or new_user.id in taken:
                raise ConfigError(source, "email", new_user.email, "already has an account")
            return replace(config, orgs=orgs, users=(*config.users, new_user)), (new_user, new_org)

        return self._update(change)

    def remove_user(self, user_id: str) -> User:
        """Remove a user; KeyError if there is none with this id."""

        def change(config: ServerConfig) -> tuple[ServerConfig, User]:
            found = [u for u in config.users if u.id == user_id]
            if not found:
                raise KeyError(user_id)
            users = tuple(u for u in config.users if u.id != user_id)
            return replace(config, users=users), found[0]

        return self._update(change)

    def rotate_keys(self, *, overlap: float | None = None) -> str:
        """Rotate the signing key; ``overlap`` defaults to the config's ``[keys] overlap``."""
        return self.keys.rotate(overlap=self.config.key_overlap if overlap is None else overlap)

    def reset(self) -> None:
        """Back to the start-up state: the config's apps, APIs, users, organisations and
        faults, real time, an empty journal. Keys and spent ids are kept: they persist."""
        startup = self.store.settings().get("startup", {})
        self.store.set_settings(config=startup.get("config", {}))
        entities = startup.get("entities", {})
        self.store.replace_entities(
            {kind: [(key, data) for key, data in rows] for kind, rows in entities.items()}
        )
        self.faults.load([parse_rule(rule, source="store") for rule in startup.get("faults", [])])
        self.clock.reset()
        self.journal.clear()
        self.refresh()

    def close(self) -> None:
        """Let go of the store (a file-backed one deletes this server's tenant data)."""
        self.journal.flush()
        self.store.close()

    def update(self, change: Callable[[ServerConfig], tuple[ServerConfig, T]]) -> T:
        """Apply ``change`` to the tenant as the store holds it now, in one transaction:
        ``change(config)`` returns the new config and a result. The new tenant is checked
        whole, as the config file would be (a ConfigError, or anything ``change`` raises,
        leaves the store as it was), so every worker can read what was written."""
        return self._update(change)

    def _update(self, change: Callable[[ServerConfig], tuple[ServerConfig, T]]) -> T:
        settings = self.config

        def on_rows(entities: Entities) -> tuple[Entities, T]:
            current = config_from(entities, None, settings)
            new, result = change(current)
            rows = entities_of(new)
            config_from(rows, None, settings)  # what another worker will read must parse
            return rows, result

        result = self.store.update_entities(on_rows)
        self.refresh()
        return result

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
                    reason = f"{audience} is granted twice"
                    raise ConfigConflictError(source, f"apis.{key}", scopes, reason)
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
                raise ConfigConflictError(source, "scopes", list(api.scopes), reason)

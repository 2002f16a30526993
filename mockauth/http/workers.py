"""Worker processes (`mockauth serve --workers N`): what the parent hands them, the app each
builds, and the supervisor that replaces one that dies.

uvicorn notes a dead worker at INFO ("Child process [pid] died"), which the default log level
hides: requests in flight failed and nothing said so. ``Supervisor`` says it at ERROR,
naming the worker, how it ended (a signal, an exit status, or hung and killed by the
supervisor), and the worker started in its place.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from mockauth.http.app import create_app
from mockauth.http.limits import HeaderLimit, Limits
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.sqlite import open_store
from mockauth.tenant.tenant import Tenant

# The supervisor's own logger: its lines keep uvicorn's format and obey --log-level.
log = logging.getLogger("uvicorn.error")
# Worker processes rebuild the tenant from these (set by the parent before spawning).
_ENV_ISSUER, _ENV_KEYS = "MOCKAUTH_ISSUER", "MOCKAUTH_KEYS_DIR"
_ENV_WORKERS, _ENV_ADMIN_SECRET = "MOCKAUTH_WORKERS", "MOCKAUTH_ADMIN_SECRET"
_ENV_INSTANCE = "MOCKAUTH_INSTANCE"  # the tenant data the parent made in the store
REAP_SECONDS = 0.5
_ENV_LIMITS = {
    "head_timeout": "MOCKAUTH_HEAD_TIMEOUT",
    "idle_timeout": "MOCKAUTH_IDLE_TIMEOUT",
    "max_connections": "MOCKAUTH_MAX_CONNECTIONS",
}


def worker_env(tenant: Tenant, keys_dir: Path, workers: int, limits: Limits) -> dict[str, str]:
    """What the parent puts in the environment for its workers."""
    return {
        _ENV_ISSUER: tenant.issuer,
        _ENV_KEYS: str(keys_dir),
        _ENV_WORKERS: str(workers),
        _ENV_ADMIN_SECRET: tenant.admin_secret or "",
        _ENV_INSTANCE: tenant.store.instance,
        **{var: repr(getattr(limits, name)) for name, var in _ENV_LIMITS.items()},
    }


def worker_app() -> ASGIApp:
    """Factory each worker process calls: it joins the tenant the parent put in the store."""
    keys_dir = os.environ[_ENV_KEYS]
    tenant = Tenant(
        ServerConfig(),
        issuer=os.environ[_ENV_ISSUER],  # resolved by the parent: --issuer, config, or its URL
        keys_dir=keys_dir,
        store=open_store(keys_dir, instance=os.environ[_ENV_INSTANCE]),
        seed=False,
        workers=int(os.environ.get(_ENV_WORKERS, "1")),
        admin_secret=os.environ.get(_ENV_ADMIN_SECRET) or None,
    )
    return HeaderLimit(create_app(tenant), _limits_from_env())


def _limits_from_env() -> Limits:
    """The limits the parent resolved (``worker_env`` sets every one); defaults otherwise."""
    head, idle, cap = (os.environ.get(var) for var in _ENV_LIMITS.values())
    return Limits(
        head_timeout=float(head) if head else Limits.head_timeout,
        idle_timeout=float(idle) if idle else Limits.idle_timeout,
        **({"max_connections": int(cap)} if cap else {}),
    )


class Supervisor(Multiprocess):
    """uvicorn's ``Multiprocess``, logging each worker it replaces at ERROR."""

    def keep_subprocess_alive(self) -> None:
        # uvicorn's, with the log line; its start-up failure and exit cases unchanged.
        if self.should_exit.is_set():
            return
        for idx, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            # A worker that just died is reaped within a moment; one still there is hung.
            process.process.join(REAP_SECONDS)
            hung = process.process.exitcode is None
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                log.error(
                    "Child process [%s] failed to start, stopping the parent process.",
                    process.pid,
                )
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            replacement = Process(self.config, self.sockets)
            replacement.start()
            self.processes[idx] = replacement
            log.error(
                "mockauth: worker process [%s] %s; started worker process [%s] in its place",
                process.pid,
                "stopped answering and was killed" if hung else _how_it_ended(process.exitcode),
                replacement.pid,
            )


def _how_it_ended(code: int | None) -> str:
    if code is None or code == 0:
        return "exited"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"died (killed by {name})"
    return f"died (exit status {code})"

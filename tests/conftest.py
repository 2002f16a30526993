"""Shared test set-up: hypothesis profiles (fast locally, thorough and replayable in CI), the
``e2e`` marker on every test under tests/e2e/ (sockets, processes, browsers), and a state dir
of the session's own, so nothing a test runs without --keys-dir writes under the real home."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

settings.register_profile("dev", max_examples=40, deadline=None)
# CI: more examples, a database at a fixed path (failures found once are tried first next
# time), and the reproduce blob printed so a failing CI example can be replayed locally.
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    database=DirectoryBasedExampleDatabase(".hypothesis/ci"),
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


E2E = Path(__file__).parent / "e2e"


@pytest.fixture(scope="session", autouse=True)
def _own_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    before = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("xdg-state"))
    yield
    if before is None:
        del os.environ["XDG_STATE_HOME"]
    else:
        os.environ["XDG_STATE_HOME"] = before


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """``read_only(dir)``: from now on, every attempt to create, write, rename or delete
    under ``dir`` fails with EROFS, as on a read-only mount (tests run as root, which file
    modes do not stop)."""
    roots: list[Path] = []
    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def refuse(path: object) -> None:
        target = Path(os.fsdecode(path)).absolute()  # type: ignore[arg-type]
        if any(target == root or root in target.parents for root in roots):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(target))

    def guarded(real: Callable[..., Any], *, flags_at: int | None = None) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if flags_at is None or args[flags_at] & writes:
                refuse(args[0])
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(os, "open", guarded(os.open, flags_at=1))
    for name in ("mkdir", "unlink", "replace", "rename", "rmdir", "chmod"):
        monkeypatch.setattr(os, name, guarded(getattr(os, name)))
    return lambda path: roots.append(Path(path).absolute())

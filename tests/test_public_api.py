"""mockauth/__init__.py is the contract: every name there resolves, lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import mockauth


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert mockauth.__all__ == sorted(mockauth.__all__)
    assert set(mockauth.__all__) == {*mockauth._WHERE, "__version__"}
    for name in mockauth.__all__:
        assert getattr(mockauth, name) is not None, name
    with pytest.raises(AttributeError):
        mockauth.NoSuchThing  # noqa: B018


def loaded_after(statement: str) -> set[str]:
    names = "{m.split('.')[0] for m in sys.modules}"
    code = f"import sys; {statement}; print(' '.join(sorted({names})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


@pytest.mark.e2e
def test_the_validator_alone_loads_no_server() -> None:
    server = {"uvicorn", "click", "starlette", "hypothesis", "sqlite3"}
    assert loaded_after("from mockauth import TokenValidator") & server == set()
    # The guard is for Starlette apps: Starlette, but still no server.
    assert loaded_after("from mockauth import requires_scopes") & server == {"starlette"}

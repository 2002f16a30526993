"""Shared test set-up: hypothesis profiles (fast locally, thorough and replayable in CI), and
the ``e2e`` marker on every test under tests/e2e/ (sockets, processes, browsers)."""

from __future__ import annotations

import os
from pathlib import Path

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.e2e)

"""Where state lives by default, and the .gitignore every state dir mockauth makes gets."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mockauth.http.tls import ensure_tls
from mockauth.statedir import GITIGNORE, default_state_dir, make_state_dir
from mockauth.tokens.keys import KeyStore
from mockauth.tokens.sealed import load_seal_key


def test_the_default_is_under_xdg_state_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_state_dir() == tmp_path / "state" / "mockauth"


@pytest.mark.parametrize("xdg", [None, "", "relative/state"], ids=["unset", "empty", "relative"])
def test_without_a_usable_xdg_state_home_it_is_under_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, xdg: str | None
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_STATE_HOME", xdg)  # relative: ignored, as the XDG spec says
    assert default_state_dir() == tmp_path / ".local" / "state" / "mockauth"
    assert default_state_dir().is_absolute()


def test_a_state_dir_mockauth_makes_ignores_everything(tmp_path: Path) -> None:
    where = tmp_path / "a" / "b" / "keys"
    assert make_state_dir(where) is True
    assert (where / GITIGNORE).read_text().splitlines()[-1] == "*"
    assert make_state_dir(where) is False


def test_an_existing_dir_is_left_as_it_is(tmp_path: Path) -> None:
    assert make_state_dir(tmp_path) is False
    assert not (tmp_path / GITIGNORE).exists()


def test_keys_made_in_a_git_work_tree_are_never_staged(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    keys = tmp_path / "keys"
    KeyStore(keys)
    load_seal_key(keys)
    ensure_tls(keys)
    subprocess.run(["git", "-C", str(tmp_path), "add", "-A"], check=True)
    staged = subprocess.run(
        ["git", "-C", str(tmp_path), "status", "--porcelain", "--ignored=no"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert list(keys.glob("*.pem")) and (keys / "seal.key").exists()
    assert (keys / "tls" / "ca.key").exists()
    assert staged == ""

"""Where mockauth keeps its state by default, and how it makes a state directory.

The state (keys) dir holds private keys (`<kid>.pem`, `seal.key`, `tls/ca.key`) and the
tenant store. By default it is a per-user directory, never the working directory, so a
`git add -A` in whatever folder `mockauth` ran in cannot stage a private key:
``$XDG_STATE_HOME/mockauth``, else ``~/.local/state/mockauth`` (the XDG base directory
spec's place for state). ``--keys-dir`` / ``MOCKAUTH_KEYS_DIR`` choose another one; the test
suite and the benchmarks always pass one, and so does a developer who wants the checkout's
gitignored ``keys/`` (``MOCKAUTH_KEYS_DIR=keys``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

GITIGNORE = ".gitignore"
# Ignore everything, this file included: the folder never shows in `git status`.
GITIGNORE_TEXT = "# made by mockauth: private keys and state, never commit them\n*\n"
DEFAULT_HELP = "$XDG_STATE_HOME/mockauth, else ~/.local/state/mockauth"


def default_state_dir() -> Path:
    """The per-user state directory (absolute): ``$XDG_STATE_HOME/mockauth``, else
    ``~/.local/state/mockauth``. A relative ``XDG_STATE_HOME`` is ignored, as the XDG spec
    says, so the answer never depends on the working directory."""
    xdg = os.environ.get("XDG_STATE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "state"
    return base / "mockauth"


def make_state_dir(path: str | Path) -> bool:
    """Create ``path`` (and its parents) unless it exists; True if this call made it.

    A directory mockauth makes gets a ``.gitignore`` of ``*``, wherever it is (the private
    files in it have mode 0600 of their own). OSError if it cannot be made.
    """
    where = Path(path)
    if where.is_dir():
        return False
    where.parent.mkdir(parents=True, exist_ok=True)
    try:
        where.mkdir()
    except FileExistsError:
        if where.is_dir():  # another process made it at the same moment: its .gitignore
            return False
        raise
    ignore_everything(where)
    return True


def ignore_everything(directory: Path) -> None:
    """Write ``directory/.gitignore`` holding ``*`` unless a .gitignore is there already."""
    with contextlib.suppress(FileExistsError):
        fd = os.open(directory / GITIGNORE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w") as fh:
            fh.write(GITIGNORE_TEXT)


def read_state_file(path: Path) -> bytes:
    """A state file's bytes. OSError for anything but a regular file: a FIFO or a device
    named like a key would otherwise block start-up with no word (O_NONBLOCK opens it at
    once, the check refuses it before a read)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)

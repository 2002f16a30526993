"""A newcomer's first hour, run as they run it: `mockauth serve` from an empty home and working
directory, `decode` at a terminal, and every README recipe (the GitHub Actions workflow's
steps, the uvx and pipx one-liners, Next.js's .env.local, FastAPI), read from the README and
docs/github-actions.yml themselves so they cannot rot."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import queue
import re
import signal
import subprocess
import sys
import threading
import types
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml
from fastapi.testclient import TestClient

from mockauth.http.server import ServerThread
from mockauth.tenant.config import default_config

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WHEELS = ROOT / ".ci" / "wheels"
CAL = "https://api.example.com"
M2M = default_config().apps[0]
WAIT = 60.0


def readme_block(name: str) -> str:
    """The fenced block after ``<!-- recipe: NAME -->`` in the README."""
    text = (ROOT / "README.md").read_text()
    found = re.search(rf"<!-- recipe: {name} -->\n```\w*\n(.*?)```", text, flags=re.DOTALL)
    assert found, f"README has no recipe {name!r}"
    return found.group(1)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOCKAUTH_", "KINDE_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env | extra


class Started:
    """A command that prints `mockauth serving on URL` first; its output drained by a thread."""

    def __init__(self, args: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._pumping = threading.Thread(target=self._pump, daemon=True)
        self._pumping.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def url(self) -> str:
        while True:
            try:
                line = self.lines.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail(f"no start-up line within {WAIT} s: {self.seen}")
            if line is None:
                pytest.fail(f"exited {self.proc.wait()} before serving: {self.seen}")
            self.seen.append(line)
            if line.startswith("mockauth serving on "):
                return line.removeprefix("mockauth serving on ")

    def banner_line(self, name: str) -> str:
        while True:
            line = self.lines.get(timeout=WAIT)
            assert line is not None, self.seen
            self.seen.append(line)
            if line.strip().startswith(name + ":"):
                return line.split(":", 1)[1].strip()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._pumping.join(WAIT)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


@contextlib.contextmanager
def started(args: list[str], *, cwd: Path, env: dict[str, str]) -> Iterator[Started]:
    proc = Started(args, cwd=cwd, env=env)
    try:
        yield proc
    finally:
        proc.stop()


def get_token(url: str, scope: str = "read:calendar") -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": M2M.client_id,
        "client_secret": M2M.client_secret or "",
        "audience": CAL,
        "scope": scope,
    }
    answer = httpx.post(url + "/oauth2/token", data=form, timeout=WAIT)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def health(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/_mockauth/health", timeout=WAIT) as answer:
        return dict(json.load(answer))


# --- done means: nothing lands in the working directory ----------------------------------


def test_serve_from_an_empty_home_creates_nothing_in_the_working_directory(
    tmp_path: Path,
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = clean_env(HOME=str(home))
    env.pop("XDG_STATE_HOME", None)
    state = home / ".local" / "state" / "mockauth"
    with started([str(BIN / "mockauth"), "serve", "--port", "0"], cwd=work, env=env) as server:
        url = server.url()
        assert server.banner_line("keys dir") == str(state)  # absolute
        get_token(url)
        for args in (["token", "--audience", CAL], ["jwks"]):
            done = subprocess.run(
                [str(BIN / "mockauth"), *args], cwd=work, env=env, capture_output=True, check=False
            )
            assert done.returncode == 0, done.stderr
        assert server.stop() == 0
    assert list(work.iterdir()) == []
    assert (state / ".gitignore").read_text().splitlines()[-1] == "*"
    assert list(state.glob("*.pem")) and (state / "seal.key").exists()


def test_decode_at_a_terminal_prints_usage_instead_of_waiting() -> None:
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [str(BIN / "mockauth"), "decode"],
            stdin=follower,
            capture_output=True,
            text=True,
            timeout=WAIT,
            env=clean_env(),
            check=False,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 2
    assert "Usage: mockauth decode [OPTIONS] [TOKEN]" in done.stderr
    assert "give a TOKEN, '-' to read one from standard input, or pipe one in" in done.stderr


# --- the GitHub Actions workflow -----------------------------------------------------------

NOT_RUN = {"Install mockauth", "Run your tests"}  # installed already; the user's own tests


def _github_env(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines() if path.exists() else []
    return dict(line.split("=", 1) for line in lines if "=" in line)


def _run_step(script: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    file = tmp_path / "step.sh"
    file.write_text(script)
    return subprocess.run(  # the shell Actions runs `run:` steps in on Linux
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(file)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


def test_the_github_actions_workflow_starts_mockauth_and_feeds_the_next_steps(
    tmp_path: Path,
) -> None:
    workflow = yaml.safe_load((ROOT / "docs" / "github-actions.yml").read_text())
    steps = [s for s in workflow["jobs"]["test"]["steps"] if "run" in s]
    assert {s["name"] for s in steps} >= NOT_RUN
    runner = tmp_path / "runner"
    runner.mkdir()
    github_env = tmp_path / "github_env"
    base = clean_env(RUNNER_TEMP=str(runner), GITHUB_ENV=str(github_env))
    outputs: dict[str, str] = {}
    try:
        for step in steps:
            if step["name"] in NOT_RUN or step.get("if") == "always()":
                continue
            done = _run_step(step["run"], base | _github_env(github_env), tmp_path)
            assert done.returncode == 0, (step["name"], done.stdout, done.stderr)
        found = _github_env(github_env)
        url = found["MOCKAUTH_URL"]
        assert health(url) == {"status": "ok"}
        assert found["KINDE_HOST"] == url
        jwks = jwt.PyJWKClient(url + "/.well-known/jwks")
        token = found["API_TEST_TOKEN"]
        key = jwks.get_signing_key_from_jwt(token).key
        jwt.decode(token, key, algorithms=["RS256"], audience=CAL, issuer=url)
    finally:
        for step in steps:
            if step.get("if") == "always()":
                done = _run_step(step["run"], base | _github_env(github_env), tmp_path)
                outputs[step["name"]] = done.stdout
    assert outputs["Stop mockauth"].startswith("mockauth serving on ")
    pid = int((runner / "mockauth.pid").read_text())
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)  # not our child (bash's): nothing to reap, but be sure
    deadline_ok = _gone(pid)
    assert deadline_ok, f"mockauth (pid {pid}) still runs after the stop step"


def _gone(pid: int) -> bool:
    for _ in range(300):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        threading.Event().wait(0.05)
    return False


# --- uvx and pipx ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this tree (building from a path writes build/ into it)."""
    if not WHEELS.is_dir():
        pytest.fail(f"no wheelhouse at {WHEELS}: run .ci/deps (the README's test command does)")
    copy = tmp_path_factory.mktemp("checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        source = ROOT / name
        if name.startswith(".ci/") or not source.is_file():
            continue
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
    return copy


def _offline(tmp_path: Path) -> dict[str, str]:
    """uv and pip (under pipx) install from the wheelhouse only, into folders of this test."""
    return {
        "UV_OFFLINE": "1",
        "UV_NO_INDEX": "1",
        "UV_FIND_LINKS": str(WHEELS),
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "UV_TOOL_DIR": str(tmp_path / "uv-tools"),
        "UV_PYTHON": sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(WHEELS),
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "pipx-bin"),
        "PIPX_DEFAULT_PYTHON": sys.executable,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "MOCKAUTH_PORT": "0",  # the one-liner's default port may be taken here
    }


@pytest.mark.parametrize("tool", ["uvx", "pipx"])
def test_the_uvx_and_pipx_one_liners_serve(tool: str, checkout: Path, tmp_path: Path) -> None:
    (line,) = [x for x in readme_block("uvx-pipx").splitlines() if x.startswith(tool + " ")]
    args = line.replace("/path/to/mockauth", str(checkout)).split()
    args[0] = str(BIN / args[0])
    with started(args, cwd=tmp_path, env=clean_env(**_offline(tmp_path))) as server:
        url = server.url()
        assert health(url) == {"status": "ok"}
        get_token(url)
        assert server.stop() == 0


# --- Next.js ---------------------------------------------------------------------------------

# What the Next.js SDK does with .env.local: discovery, the authorization request with its
# callback, the code exchange with the secret, and iss === KINDE_ISSUER_URL; then logout.
SIGN_IN = """
const env = process.env;
const issuer = env.KINDE_ISSUER_URL;
const d = await (await fetch(issuer + "/.well-known/openid-configuration")).json();
if (d.issuer !== issuer) throw new Error("discovery issuer " + d.issuer);
const callback = env.KINDE_SITE_URL + "/api/auth/kinde_callback";
const auth = new URL(d.authorization_endpoint);
auth.search = new URLSearchParams({response_type: "code", client_id: env.KINDE_CLIENT_ID,
  redirect_uri: callback, scope: "openid profile email offline", state: "s1", nonce: "n1"});
const back = new URL((await fetch(auth, {redirect: "manual"})).headers.get("location"));
if (back.origin + back.pathname !== callback) throw new Error("redirected to " + back);
const t = await (await fetch(d.token_endpoint, {method: "POST", body: new URLSearchParams({
  grant_type: "authorization_code", code: back.searchParams.get("code"), redirect_uri: callback,
  client_id: env.KINDE_CLIENT_ID, client_secret: env.KINDE_CLIENT_SECRET})})).json();
const id = JSON.parse(Buffer.from(t.id_token.split(".")[1], "base64url"));
if (id.iss !== issuer) throw new Error("id token iss " + id.iss);
const out = new URL(d.end_session_endpoint);
out.search = new URLSearchParams({redirect: env.KINDE_POST_LOGOUT_REDIRECT_URL});
const gone = (await fetch(out, {redirect: "manual"})).headers.get("location");
console.log(JSON.stringify({iss: id.iss, email: id.email, logout: gone}));
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(keys_dir=tmp_path_factory.mktemp("keys")) as running:
        yield running


def test_nextjs_env_local_signs_a_user_in(server: ServerThread, tmp_path: Path) -> None:
    (command,) = readme_block("nextjs").strip().splitlines()
    env = clean_env(MOCKAUTH_URL=server.url)
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    (tmp_path / "sign_in.mjs").write_text(SIGN_IN)
    node = subprocess.run(
        ["node", "--env-file=.env.local", "sign_in.mjs"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert node.returncode == 0, node.stderr
    result = json.loads(node.stdout)
    assert result == {
        "iss": server.issuer,
        "email": default_config().users[0].email,
        "logout": "http://localhost:3000",
    }


# --- FastAPI ---------------------------------------------------------------------------------


def test_the_fastapi_recipe_guards_its_endpoint(
    server: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KINDE_ISSUER_URL", server.issuer)
    monkeypatch.setenv("KINDE_AUDIENCE", CAL)
    module = types.ModuleType("recipe_fastapi")
    exec(compile(readme_block("fastapi"), "README.md (fastapi recipe)", "exec"), module.__dict__)
    client = TestClient(module.app)
    good = client.get("/events", headers={"Authorization": "Bearer " + get_token(server.url)})
    assert good.status_code == 200, good.text
    assert good.json() == {"client_id": M2M.client_id, "scopes": ["read:calendar"]}
    missing = client.get("/events")
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, "Bearer")
    narrow = get_token(server.url, scope="update:event")
    refused = client.get("/events", headers={"Authorization": "Bearer " + narrow})
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    bad = client.get("/events", headers={"Authorization": "Bearer not.a.token"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]

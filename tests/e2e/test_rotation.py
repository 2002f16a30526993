"""Key rotation over real HTTP: zero validation failures across rotations under load,
overlap-based retirement, persistence in the keys dir, and keys shared between processes."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from mockauth import paths
from mockauth.http.server import ServerThread
from mockauth.tenant.config import default_config, parse_config
from mockauth.tokens.keys import KeyStore
from mockauth.validator.validator import TokenValidator

APP = default_config().apps[0]
AUDIENCE = "https://api.example.com"
FORM = {
    "grant_type": "client_credentials",
    "client_id": APP.client_id,
    "client_secret": APP.client_secret or "",
    "audience": AUDIENCE,
}
Validate = Callable[[str], None]


def mockauth_validator(server: ServerThread) -> Validate:
    validator = TokenValidator(issuer=server.issuer, audience=AUDIENCE, refetch_interval=0)

    def validate(token: str) -> None:
        validator.validate(token)

    return validate


def pyjwt_validator(server: ServerThread) -> Validate:
    client = jwt.PyJWKClient(server.url + paths.JWKS, cooldown_duration=0)

    def validate(token: str) -> None:
        key = client.get_signing_key_from_jwt(token)
        jwt.decode(token, key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=server.issuer)

    return validate


def kid_of(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


def jwks_kids(url: str) -> list[str]:
    return [k["kid"] for k in httpx.get(url + paths.JWKS).json()["keys"]]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    with ServerThread(keys_dir=tmp_path / "keys") as srv:
        yield srv


@pytest.mark.parametrize("make_validator", [mockauth_validator, pyjwt_validator])
def test_zero_failures_across_rotations_under_load(
    server: ServerThread, make_validator: Callable[[ServerThread], Validate]
) -> None:
    validate = make_validator(server)
    failures: list[str] = []
    kids: set[str] = set()
    held: list[str] = []
    done = threading.Event()
    counts = [0]

    def client_loop() -> None:
        with httpx.Client(timeout=10) as client:
            while not done.is_set():
                try:
                    token = client.post(server.url + paths.TOKEN, data=FORM).json()["access_token"]
                    validate(token)
                    kids.add(kid_of(token))
                    held.append(token)
                    counts[0] += 1
                except Exception as exc:
                    failures.append(repr(exc))

    threads = [threading.Thread(target=client_loop) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            wait_for_count(counts, 5)
            answer = httpx.post(server.url + paths.ADMIN_KEYS + "/rotate")
            assert answer.status_code == 200
            wait_for_count(counts, counts[0] + 20)  # the load goes on after each rotation
    finally:
        done.set()
        for t in threads:
            t.join(30)
    assert failures == []
    assert len(kids) == 4
    for token in held[:3]:  # tokens from before the rotations still validate
        validate(token)


def wait_for_count(counts: list[int], at_least: int) -> None:
    wait_for(lambda: counts[0] >= at_least, 30)


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.01)


def test_rotated_keys_stay_published_until_retired(server: ServerThread) -> None:
    old = server.tenant.keys.active_kid
    new = httpx.post(server.url + paths.ADMIN_KEYS + "/rotate").json()["active"]
    assert jwks_kids(server.url) == [new, old]
    token = httpx.post(server.url + paths.TOKEN, data=FORM).json()["access_token"]
    assert kid_of(token) == new
    httpx.post(server.url + paths.ADMIN_KEYS + "/retire", json={"kid": old})
    assert jwks_kids(server.url) == [new]


def test_overlap_retires_the_previous_key(server: ServerThread) -> None:
    old = server.tenant.keys.active_kid
    rotated_at = time.time()
    answer = httpx.post(server.url + paths.ADMIN_KEYS + "/rotate", json={"overlap": 0.5}).json()
    assert old in jwks_kids(server.url)
    assert answer["retire_at"][old] >= rotated_at + 0.5
    wait_for(lambda: old not in jwks_kids(server.url), 15)
    assert time.time() >= rotated_at + 0.5
    assert jwks_kids(server.url) == [answer["active"]]


def test_configured_overlap_is_the_default(tmp_path: Path) -> None:
    config = parse_config(b"[keys]\noverlap = 3600\n", source="t")
    with ServerThread(config, keys_dir=tmp_path) as srv:
        old = srv.tenant.keys.active_kid
        answer = httpx.post(srv.url + paths.ADMIN_KEYS + "/rotate").json()
        assert answer["overlap"] == 3600
        assert answer["retire_at"][old] > time.time() + 3500
        assert old in jwks_kids(srv.url)


def test_rotations_persist_in_the_keys_dir(server: ServerThread, tmp_path: Path) -> None:
    first = server.tenant.keys.active_kid
    httpx.post(server.url + paths.ADMIN_KEYS + "/rotate")
    second = httpx.post(server.url + paths.ADMIN_KEYS + "/rotate", json={"overlap": 900}).json()
    httpx.post(server.url + paths.ADMIN_KEYS + "/retire", json={"kid": first})
    reopened = KeyStore(tmp_path / "keys")
    assert reopened.active_kid == second["active"]
    assert reopened.published_kids == tuple(second["published"][:2])
    assert set(reopened.retire_at) == {second["previous"]}
    # The retired key's private key file is gone: it can never be published again.
    pems = {p.stem for p in (tmp_path / "keys").glob("*.pem")}
    assert pems == {kid.replace(":", "") for kid in reopened.published_kids}
    assert first.replace(":", "") not in pems


def test_servers_sharing_a_keys_dir_agree_after_a_rotation(tmp_path: Path) -> None:
    """Two tenants on one keys dir are what --workers N runs; rotate through one of them."""
    with ServerThread(keys_dir=tmp_path) as one, ServerThread(keys_dir=tmp_path) as two:
        new = httpx.post(one.url + paths.ADMIN_KEYS + "/rotate", json={"overlap": 0.5}).json()
        token = httpx.post(two.url + paths.TOKEN, data=FORM).json()["access_token"]
        assert kid_of(token) == new["active"]
        assert jwks_kids(two.url) == new["published"]
        wait_for(lambda: jwks_kids(two.url) == [new["active"]], 15)


# --- a real multi-worker server ------------------------------------------------------------


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("MOCKAUTH_CONFIG", "MOCKAUTH_ISSUER", "MOCKAUTH_ADMIN_SECRET"):
        env.pop(name, None)
    command = [sys.executable, "-m", "mockauth", "serve", "--port", "0", "--workers", "2"]
    command += ["--keys-dir", str(tmp_path / "keys")]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)  # never block the run forever
        line = proc.stdout.readline().decode() if ready else ""
        found = re.search(r"serving on (http://\S+)", line)
        assert found, f"no announcement from mockauth serve: {line!r}"
        yield found.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_multi_worker_server_rotates_for_every_worker(workers: str) -> None:
    new = httpx.post(workers + paths.ADMIN_KEYS + "/rotate").json()["active"]
    with httpx.Client() as one, httpx.Client() as other:  # two connections, maybe two workers
        tokens = [c.post(workers + paths.TOKEN, data=FORM) for c in (one, other) * 10]
    assert {kid_of(t.json()["access_token"]) for t in tokens} == {new}
    validator = TokenValidator(issuer=workers, audience=AUDIENCE)
    for answer in tokens:
        validator.validate(answer.json()["access_token"])


def test_overlap_retirement_happens_on_refresh_in_memory_too() -> None:
    keys = KeyStore()
    old = keys.active_kid
    new = keys.rotate(overlap=0)
    assert keys.published_kids == (new, old)  # published until the next refresh
    assert keys.refresh() is True
    assert keys.published_kids == (new,)
    assert keys.retire_at == {}
    assert keys.refresh() is False  # nothing left to do: cheap again

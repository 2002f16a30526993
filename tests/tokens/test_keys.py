"""KeyStore: Kinde-style kids, public-only JWKS, persistence, locking, rotation."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockauth.errors import KeyStoreError
from mockauth.tokens import keys as keys_module
from mockauth.tokens.claims import TokenFactory
from mockauth.tokens.jwks import public_jwk
from mockauth.tokens.keys import KEYSET_FILE, KeyStore, kid_for
from mockauth.tokens.sealed import load_seal_key

KID_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){15}$")
JWK_MEMBERS = {"kty", "alg", "use", "kid", "n", "e"}
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
NOW = 1_700_000_000


@pytest.fixture(scope="module")
def store() -> KeyStore:
    return KeyStore()


def b64int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def b64(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def private_strings(ks: KeyStore) -> list[str]:
    """Every private number of every key the store holds, base64url and decimal."""
    out: list[str] = []
    for kid in ks.published_kids:
        private = ks._keys[kid].private
        numbers = private.private_numbers()
        for value in (
            numbers.d,
            numbers.p,
            numbers.q,
            numbers.dmp1,
            numbers.dmq1,
            numbers.iqmp,
        ):
            out += [b64(value), str(value)]
    return out


def assert_public_only(ks: KeyStore) -> None:
    raw = ks.jwks_bytes()
    doc = json.loads(raw)
    assert set(doc) == {"keys"}
    assert [k["kid"] for k in doc["keys"]] == list(ks.published_kids)
    for jwk in doc["keys"]:
        assert set(jwk) == JWK_MEMBERS
        assert not any(member in jwk for member in PRIVATE_MEMBERS)
        public = ks.public_key(jwk["kid"])
        assert public is not None
        assert b64int(jwk["n"]) == public.public_numbers().n
        assert jwk["e"] == "AQAB"
    text = raw.decode()
    for secret in private_strings(ks):
        assert secret not in text
    assert "PRIVATE" not in text
    assert ks.jwks() == doc


def token_for(ks: KeyStore) -> str:
    factory = TokenFactory(issuer="http://issuer.test", keys=ks, clock=lambda: NOW)
    return factory.sign({"iss": "http://issuer.test", "exp": NOW + 60, "sub": "x"})


def verify(token: str, ks: KeyStore) -> dict[str, object]:
    kid = jwt.get_unverified_header(token)["kid"]
    public = ks.public_key(kid)
    assert public is not None, f"kid {kid} is not published"
    claims: dict[str, object] = jwt.decode(
        token, key=public, algorithms=["RS256"], options={"verify_exp": False}
    )
    return claims


# --- kid ---


def test_kid_is_16_colon_separated_lowercase_hex_bytes(store: KeyStore) -> None:
    assert KID_RE.match(store.active_kid)


def test_kid_is_derived_from_the_public_key(store: KeyStore) -> None:
    public = store.public_key(store.active_kid)
    assert public is not None
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = ":".join(f"{b:02x}" for b in hashlib.sha256(der).digest()[:16])
    assert store.active_kid == expected
    assert kid_for(public) == expected


def test_different_keys_have_different_kids(store: KeyStore) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert kid_for(other.public_key()) != store.active_kid
    assert KID_RE.match(kid_for(other.public_key()))


# --- JWKS ---


def test_jwks_holds_exactly_the_public_members(store: KeyStore) -> None:
    (jwk,) = store.jwks()["keys"]
    assert set(jwk) == JWK_MEMBERS
    assert jwk["kty"] == "RSA"
    assert jwk["alg"] == "RS256"
    assert jwk["use"] == "sig"
    assert jwk["kid"] == store.active_kid
    assert jwk["e"] == "AQAB"
    assert b64int(jwk["n"]).bit_length() == 2048
    assert_public_only(store)


def test_jwks_is_compact_json_built_once(store: KeyStore) -> None:
    assert store.jwks_bytes() is store.jwks_bytes()
    assert b" " not in store.jwks_bytes()


def test_mutating_the_returned_jwks_cannot_add_a_private_member(store: KeyStore) -> None:
    before = store.jwks_bytes()
    doc = store.jwks()
    doc["keys"][0]["d"] = "leak"
    assert store.jwks_bytes() == before
    assert "d" not in store.jwks()["keys"][0]


def test_public_jwk_is_built_from_public_numbers_only(store: KeyStore) -> None:
    private = store._keys[store.active_kid].private
    jwk = public_jwk(private.public_key(), "kid")
    assert set(jwk) == JWK_MEMBERS
    # Handing it the private key does not leak anything: it has no public_numbers.
    with pytest.raises(AttributeError):
        public_jwk(private, "kid")  # type: ignore[arg-type]


def test_no_private_member_after_rotation_retirement_and_reload(tmp_path: Path) -> None:
    ks = KeyStore(tmp_path)
    assert_public_only(ks)
    first = ks.active_kid
    ks.rotate()
    assert_public_only(ks)
    ks.rotate()
    assert_public_only(ks)
    ks.retire(first)
    assert_public_only(ks)
    reloaded = KeyStore(tmp_path)
    assert_public_only(reloaded)
    assert reloaded.jwks_bytes() == ks.jwks_bytes()


@pytest.fixture(scope="module")
def key_pool() -> list[Any]:
    """Six pre-made keys, so property examples rotate without paying for RSA generation."""
    return [keys_module._generate() for _ in range(6)]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.none() | st.integers(min_value=0, max_value=5), max_size=10),
)
def test_no_sequence_of_rotations_and_retirements_leaks_a_private_member(
    key_pool: list[Any], steps: list[int | None]
) -> None:
    # None: rotate; an int: retire the published key at that index (mod the count).
    pool = iter(key_pool)
    with mock.patch.object(keys_module, "_generate", lambda: next(pool)):
        ks = KeyStore()
        rotations = 0
        for step in steps:
            if step is None:
                if rotations == len(key_pool) - 1:
                    continue
                rotations += 1
                assert ks.rotate() == ks.active_kid
            else:
                kid = ks.published_kids[step % len(ks.published_kids)]
                if kid == ks.active_kid:
                    with pytest.raises(ValueError):
                        ks.retire(kid)
                else:
                    ks.retire(kid)
                    assert kid not in ks.published_kids
            assert ks.active_kid in ks.published_kids
            assert_public_only(ks)


# --- signing ---


def test_sign_is_rs256_with_the_active_key(store: KeyStore) -> None:
    kid, signature = store.sign(b"payload")
    assert kid == store.active_kid
    public = store.public_key(kid)
    assert public is not None
    public.verify(signature, b"payload", padding.PKCS1v15(), hashes.SHA256())
    assert len(signature) == 256


def test_public_key_of_an_unknown_kid_is_none(store: KeyStore) -> None:
    assert store.public_key("00:" * 15 + "00") is None
    assert store.public_key("") is None


# --- persistence ---


def test_key_file_is_created_with_mode_0600(tmp_path: Path) -> None:
    ks = KeyStore(tmp_path / "keys")
    (pem,) = (tmp_path / "keys").glob("*.pem")
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert pem.name == ks.active_kid.replace(":", "") + ".pem"
    assert b"PRIVATE KEY" in pem.read_bytes()
    assert (tmp_path / "keys" / KEYSET_FILE).exists()


def test_key_file_is_0600_even_over_a_stale_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = keys_module._generate()
    monkeypatch.setattr(keys_module, "_generate", lambda: key)
    name = key.kid.replace(":", "") + ".pem"
    stale = tmp_path / f".{name}.{os.getpid()}.tmp"
    stale.write_bytes(b"left over by a crash")
    stale.chmod(0o644)
    ks = KeyStore(tmp_path)
    assert ks.active_kid == key.kid
    assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_key_is_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(KeyStoreError):
        KeyStore(tmp_path)
    # Nothing half-written under the final name, and no temp file left behind.
    assert list(tmp_path.glob("*.pem")) == []
    assert list(tmp_path.glob("*.tmp")) == []
    assert list(tmp_path.glob(".*.tmp")) == []
    monkeypatch.undo()
    ks = KeyStore(tmp_path)
    assert len(list(tmp_path.glob("*.pem"))) == 1
    assert_public_only(ks)


def test_key_reaches_its_name_only_by_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str | Path, dst: str | Path) -> None:
        renames.append((Path(src).name, Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    ks = KeyStore(tmp_path)
    pem_name = ks.active_kid.replace(":", "") + ".pem"
    assert (f".{pem_name}.{os.getpid()}.tmp", pem_name) in renames
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_next_keystore_on_the_same_dir_reuses_the_key(tmp_path: Path) -> None:
    first = KeyStore(tmp_path)
    token = token_for(first)
    second = KeyStore(tmp_path)
    assert second.active_kid == first.active_kid
    assert second.jwks_bytes() == first.jwks_bytes()
    assert len(list(tmp_path.glob("*.pem"))) == 1
    assert verify(token, second)["sub"] == "x"


def test_existing_pem_is_adopted(tmp_path: Path) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    (tmp_path / "mine.pem").write_bytes(pem)
    ks = KeyStore(tmp_path)
    assert ks.active_kid == kid_for(private.public_key())


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param("junk.pem", b"not a key", id="garbage-pem"),
        pytest.param(KEYSET_FILE, b"{not json", id="corrupt-keyset"),
        pytest.param(KEYSET_FILE, b'{"active": "aa"}', id="keyset-without-published"),
        pytest.param(
            KEYSET_FILE, b'{"active": "aa", "published": ["aa"]}', id="keyset-names-missing-key"
        ),
    ],
)
def test_unreadable_keys_dir_is_a_keystore_error(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(KeyStoreError):
        KeyStore(tmp_path)


def _rewrite_keyset(keys_dir: Path, **changes: object) -> None:
    path = keys_dir / KEYSET_FILE
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"active": "", "published": []}, "'published' must list", id="no-keys"),
        pytest.param({"published": [1]}, "'published' must list", id="kid-not-a-string"),
        pytest.param({"active": "zz"}, "'active' = 'zz' is not one", id="active-unpublished"),
        pytest.param({"published": ["k", "k"], "active": "k"}, "a kid twice", id="kid-twice"),
    ],
)
def test_a_keyset_that_names_no_usable_signer_is_a_keystore_error(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    KeyStore(tmp_path)
    _rewrite_keyset(tmp_path, **changes)
    with pytest.raises(KeyStoreError, match=message):
        KeyStore(tmp_path)


def test_a_key_file_holding_another_key_is_a_keystore_error(tmp_path: Path) -> None:
    first = KeyStore(tmp_path)
    other = KeyStore()  # in memory: a second key, written under the first one's name
    pem = other._keys[other.active_kid].private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / (first.active_kid.replace(":", "") + ".pem")).write_bytes(pem)
    with pytest.raises(KeyStoreError, match="holds the key"):
        KeyStore(tmp_path)


@pytest.mark.parametrize("damage", ["deleted", "corrupt", "no-signer"])
def test_a_running_store_keeps_its_keys_when_the_files_are_damaged(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    ks = KeyStore(tmp_path)
    kid, jwks = ks.active_kid, ks.jwks_bytes()
    if damage == "deleted":
        for path in tmp_path.iterdir():
            path.unlink()
    elif damage == "corrupt":
        (tmp_path / KEYSET_FILE).write_text("{not json")
    else:
        _rewrite_keyset(tmp_path, active="zz")
    with caplog.at_level("WARNING", logger="mockauth"):
        for _ in range(3):
            ks.refresh()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, warnings  # said once, not on every request
    assert f"serving the keys held (kid {kid}) until restart" in warnings[0]
    assert ks.active_kid == kid
    assert ks.jwks_bytes() == jwks
    assert verify(token_for(ks), ks)["sub"] == "x"


def test_a_running_store_picks_up_repaired_files(tmp_path: Path) -> None:
    ks = KeyStore(tmp_path)
    (tmp_path / KEYSET_FILE).write_text("{not json")
    ks.refresh()
    (tmp_path / KEYSET_FILE).unlink()
    repaired = KeyStore(tmp_path)  # adopts the key file, writes a new key set
    new_kid = repaired.rotate()
    ks.refresh()
    assert ks.active_kid == new_kid


@pytest.mark.e2e
def test_without_posix_file_locks_only_a_keys_dir_is_refused(tmp_path: Path) -> None:
    # As on Windows: no fcntl. The package, its pytest plugin and in-memory stores still load.
    code = (
        "import sys; sys.modules['fcntl'] = None\n"
        "import mockauth, mockauth.testing.plugin, mockauth.testing.strategies\n"
        "from mockauth.tokens.keys import KeyStore\n"
        "from mockauth.errors import KeyStoreError\n"
        "assert KeyStore().active_kid\n"
        "try:\n"
        "    KeyStore(sys.argv[1])\n"
        "except KeyStoreError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert "needs POSIX file locks" in done.stdout


def test_small_rsa_key_is_refused(tmp_path: Path) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    (tmp_path / "small.pem").write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyStoreError, match="2048"):
        KeyStore(tmp_path)


def test_in_memory_store_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ks = KeyStore()
    ks.rotate()
    assert ks.keys_dir is None
    assert list(tmp_path.iterdir()) == []
    assert ks.refresh() is False


# --- two stores at once on one empty dir ---


def test_concurrent_keystores_in_threads_share_one_key(tmp_path: Path) -> None:
    count = 4
    barrier = threading.Barrier(count)
    kids: list[str] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait()
            kids.append(KeyStore(tmp_path).active_kid)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(kids) == count
    assert len(set(kids)) == 1
    assert len(list(tmp_path.glob("*.pem"))) == 1


CHILD = """
import sys
from mockauth.tokens.keys import KeyStore
print("ready", flush=True)
sys.stdin.readline()
print(KeyStore(sys.argv[1]).active_kid, flush=True)
"""


@pytest.mark.e2e
def test_concurrent_keystores_in_processes_share_one_key(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for p in procs:  # every child has imported everything before any opens the dir
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        kids = [p.communicate(timeout=60)[0].strip() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert all(KID_RE.match(kid) for kid in kids)
    assert len(set(kids)) == 1
    assert len(list(tmp_path.glob("*.pem"))) == 1
    assert KeyStore(tmp_path).active_kid == kids[0]


# --- rotation and retirement ---


def test_rotate_publishes_old_and_new_and_signs_with_new() -> None:
    ks = KeyStore()
    old = ks.active_kid
    old_token = token_for(ks)
    new = ks.rotate()
    assert new == ks.active_kid
    assert new != old
    assert KID_RE.match(new)
    assert ks.published_kids == (new, old)
    assert [k["kid"] for k in ks.jwks()["keys"]] == [new, old]
    assert verify(old_token, ks)["sub"] == "x"
    new_token = token_for(ks)
    assert jwt.get_unverified_header(new_token)["kid"] == new
    assert verify(new_token, ks)["sub"] == "x"
    assert set(ks.public_keys()) == {new, old}


def test_retire_removes_a_key_from_the_jwks() -> None:
    ks = KeyStore()
    old = ks.active_kid
    new = ks.rotate()
    ks.retire(old)
    assert ks.published_kids == (new,)
    assert ks.public_key(old) is None
    assert [k["kid"] for k in ks.jwks()["keys"]] == [new]
    assert old not in ks.jwks_bytes().decode()


def test_active_key_cannot_be_retired() -> None:
    ks = KeyStore()
    with pytest.raises(ValueError, match="rotate"):
        ks.retire(ks.active_kid)
    assert ks.published_kids == (ks.active_kid,)


def test_retiring_an_unknown_kid_is_a_key_error(store: KeyStore) -> None:
    with pytest.raises(KeyError):
        store.retire("00:" * 15 + "00")


def test_rotation_is_shared_through_the_keys_dir(tmp_path: Path) -> None:
    a = KeyStore(tmp_path)
    b = KeyStore(tmp_path)
    old = a.active_kid
    new = a.rotate()
    assert len(list(tmp_path.glob("*.pem"))) == 2
    assert b.refresh() is True
    assert b.active_kid == new
    assert b.published_kids == (new, old)
    assert b.jwks_bytes() == a.jwks_bytes()
    assert b.refresh() is False  # nothing changed since
    c = KeyStore(tmp_path)
    assert c.active_kid == new
    a.retire(old)
    assert KeyStore(tmp_path).published_kids == (new,)
    assert b.refresh() is True
    assert list(b.published_kids) == [new]


def test_rotate_on_a_stale_store_keeps_the_other_stores_keys(tmp_path: Path) -> None:
    a = KeyStore(tmp_path)
    b = KeyStore(tmp_path)
    first = a.active_kid
    second = a.rotate()
    third = b.rotate()  # b had not refreshed: it must reload before adding its key
    assert b.published_kids == (third, second, first)
    assert KeyStore(tmp_path).published_kids == (third, second, first)


def test_token_signed_before_rotation_and_restart_still_verifies(tmp_path: Path) -> None:
    ks = KeyStore(tmp_path)
    token = token_for(ks)
    ks.rotate()
    assert verify(token, KeyStore(tmp_path))["sub"] == "x"


def test_retiring_every_old_key_from_two_processes_views_is_safe(tmp_path: Path) -> None:
    one, two = KeyStore(tmp_path), KeyStore(tmp_path)
    old = one.active_kid
    one.rotate()
    one.rotate()
    two.refresh()
    retired = one.retire()  # None: every key but the active one
    assert old in retired and one.active_kid not in retired
    assert two.retire() == []  # reloads under the lock: nothing left, no KeyError
    assert one.published_kids == two.published_kids == (one.active_kid,)
    assert [p.stem for p in tmp_path.glob("*.pem")] == [one.active_kid.replace(":", "")]


# --- reading needs no write access --------------------------------------------------------


def test_existing_keys_are_read_from_a_read_only_dir(
    tmp_path: Path, read_only: Callable[[Path], None]
) -> None:
    made = KeyStore(tmp_path)
    seal = load_seal_key(tmp_path)
    read_only(tmp_path)
    again = KeyStore(tmp_path)
    assert again.active_kid == made.active_kid
    assert again.jwks() == made.jwks()
    assert load_seal_key(tmp_path) == seal
    assert again.refresh() is False
    with pytest.raises(KeyStoreError, match="creating or rotating keys needs write access"):
        again.rotate()


def test_a_read_only_dir_without_keys_says_it_cannot_make_them(
    tmp_path: Path, read_only: Callable[[Path], None]
) -> None:
    read_only(tmp_path)
    with pytest.raises(KeyStoreError, match="creating or rotating keys needs write access"):
        KeyStore(tmp_path)


@pytest.mark.parametrize(
    ("damage", "fix"),
    [
        ("keyset", "delete keyset.json to rebuild it from the .pem key files"),
        ("pem", "delete it and keyset.json to start over with a new signing key"),
    ],
)
def test_a_damaged_key_file_says_how_to_recover(tmp_path: Path, damage: str, fix: str) -> None:
    store = KeyStore(tmp_path)
    if damage == "keyset":
        (tmp_path / KEYSET_FILE).write_text("{not json")
    else:
        (tmp_path / (store.active_kid.replace(":", "") + ".pem")).write_text("garbage")
    with pytest.raises(KeyStoreError, match=re.escape(fix)):
        KeyStore(tmp_path)
    # ... and the fix works: delete what it says, and the dir opens again.
    (tmp_path / KEYSET_FILE).unlink()
    if damage == "pem":
        (tmp_path / (store.active_kid.replace(":", "") + ".pem")).unlink()
    assert KeyStore(tmp_path).active_kid

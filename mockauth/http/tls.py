"""A local certificate authority in the keys dir, so the server can speak HTTPS.

Some Kinde clients insist on https:// (KINDE.md): Python's ``ManagementClient``,
``@kinde/management-api-js``, Android. The CA is made once per keys dir and signs only
server certificates: one file (key and certificate) per set of host names, so servers on
one keys dir with other hosts never swap files under each other; a file is replaced, in one
step, only when damaged or near its end. Private keys stay in the keys dir with mode 0600.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import os
import re
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mockauth.errors import KeyStoreError
from mockauth.statedir import make_state_dir
from mockauth.tokens.keys import atomic_write, dir_lock

TLS_DIR = "tls"
CA_CERT, CA_KEY = "ca.crt", "ca.key"
# The CAs this machine trusts plus ours: SSL_CERT_FILE and REQUESTS_CA_BUNDLE replace the
# trusted CAs of a process, and other HTTPS must keep working beside mockauth.
BUNDLE = "bundle.pem"
_BUNDLE_MARK = b"# mockauth local CA\n"
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
CA_LIFETIME = dt.timedelta(days=3650)
# Clients refuse server certificates valid for years (Apple: more than 825 days).
CERT_LIFETIME = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)
_BACKDATE = dt.timedelta(hours=1)  # a client whose clock is a little behind still accepts it
# A DNS name a certificate can hold: RFC 1123 labels ("_" too, as some local names have).
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_DNS_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")

_PrivateKey = ec.EllipticCurvePrivateKey


@dataclass(frozen=True, kw_only=True)
class TlsFiles:
    """The CA certificate clients must trust, a bundle of it with the CAs this machine
    already trusts, and the server's key and certificate (one file, mode 0600)."""

    ca_cert: Path
    bundle: Path
    cert: Path


def tls_files(keys_dir: str | Path, hosts: Iterable[str] = ()) -> TlsFiles:
    """Where a keys dir keeps its TLS files for these hosts (whether or not they exist yet)."""
    tls = Path(keys_dir) / TLS_DIR
    names = "\n".join(sorted(str(n.value) for n in server_names(hosts)))
    server = f"server-{hashlib.sha256(names.encode()).hexdigest()[:16]}.pem"
    return TlsFiles(ca_cert=tls / CA_CERT, bundle=tls / BUNDLE, cert=tls / server)


def ensure_tls(
    keys_dir: str | Path, hosts: Iterable[str] = (), *, now: dt.datetime | None = None
) -> TlsFiles:
    """Make the keys dir's CA (once) and a server certificate for localhost, 127.0.0.1, ::1
    and ``hosts`` (names or IP literals); reuse both while they fit. Raises KeyStoreError."""
    directory = Path(keys_dir)
    hosts = list(hosts)
    names = server_names(hosts)
    files = tls_files(directory, hosts)
    when = now or dt.datetime.now(dt.UTC)
    try:
        make_state_dir(directory)
        make_state_dir(files.ca_cert.parent)
    except OSError as exc:
        raise KeyStoreError(f"cannot create {files.ca_cert.parent}: {exc.strerror}") from exc
    with dir_lock(directory):
        try:
            ca_key, ca_cert = _certificate_authority(files, when)
            if not _fits(files.cert, ca_cert, names, when):
                _issue(files.cert, ca_key, ca_cert, names, when)
            _write_bundle(files)
        except OSError as exc:  # a stat the helpers do not expect to fail (permissions)
            where = exc.filename or files.ca_cert.parent
            raise KeyStoreError(f"{where}: {exc.strerror or exc}") from exc
    return files


def server_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """The subject alternative names for these hosts plus the local ones; wildcard
    addresses (0.0.0.0, ::) name no host and are left out."""
    names: list[x509.GeneralName] = []
    for host in (*LOCAL_NAMES, *hosts):
        bare = host.strip().removeprefix("[").removesuffix("]").lower()
        name: x509.GeneralName
        try:
            address = ipaddress.ip_address(bare)
        except ValueError:
            bare = bare.removesuffix(".")
            if not _DNS_NAME.fullmatch(bare):
                raise KeyStoreError(
                    f"cannot make a TLS certificate for host {host!r}: not a host name or IP"
                ) from None
            name = x509.DNSName(bare)
        else:
            if address.is_unspecified:
                continue
            name = x509.IPAddress(address)
        if name not in names:
            names.append(name)
    return names


def system_ca_file() -> Path | None:
    """The CA file this process trusts by default: SSL_CERT_FILE, OpenSSL's, else certifi's."""
    paths = ssl.get_default_verify_paths()
    candidates = [os.environ.get(paths.openssl_cafile_env), paths.openssl_cafile]
    with contextlib.suppress(ImportError):
        import certifi

        candidates.append(certifi.where())
    return next((Path(c) for c in candidates if c and os.path.isfile(c)), None)


def _write_bundle(files: TlsFiles) -> None:
    theirs = b""
    source = system_ca_file()
    if source is not None:
        with contextlib.suppress(OSError):
            # A bundle of ours (SSL_CERT_FILE as advised) gives only what came before its CA.
            theirs = source.read_bytes().split(_BUNDLE_MARK)[0].rstrip() + b"\n"
    data = theirs + _BUNDLE_MARK + _read(files.ca_cert)
    with contextlib.suppress(OSError):
        if files.bundle.read_bytes() == data:
            return
    atomic_write(files.bundle, data, 0o644)


def _ca_key(files: TlsFiles) -> Path:
    return files.ca_cert.with_name(CA_KEY)


def _certificate_authority(
    files: TlsFiles, when: dt.datetime
) -> tuple[_PrivateKey, x509.Certificate]:
    key_path = _ca_key(files)
    have_key, have_cert = key_path.exists(), files.ca_cert.exists()
    if not have_key and not have_cert:
        return _make_ca(files, when)
    if not (have_key and have_cert):
        missing, present = (files.ca_cert, key_path) if have_key else (key_path, files.ca_cert)
        raise KeyStoreError(
            f"{missing}: missing beside {present}; delete {files.ca_cert.parent} to make a new"
            " CA (its clients must then trust the new ca.crt)"
        )
    mode = key_path.stat().st_mode & 0o777
    if mode & 0o077:
        raise KeyStoreError(
            f"{key_path}: others may read it (mode {mode:o}), and with it pass for any site to"
            " the CA's clients: chmod 600 it"
        )
    key, cert = _read_key(key_path), _read_cert(files.ca_cert)
    if _public_der(key) != _public_der(cert):
        raise KeyStoreError(f"{files.ca_cert}: does not match the key in {key_path}")
    if not _is_ca(cert):
        raise KeyStoreError(f"{files.ca_cert}: not a CA certificate (it may not sign others)")
    if cert.not_valid_after_utc <= when:
        raise KeyStoreError(
            f"{files.ca_cert}: expired on {cert.not_valid_after_utc:%Y-%m-%d}; delete"
            f" {files.ca_cert.parent} to make a new CA"
        )
    return key, cert


def _make_ca(files: TlsFiles, when: dt.datetime) -> tuple[_PrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    # The host and the keys dir tell one mockauth CA from another in a trust store.
    where = f"{socket.gethostname()}:{files.ca_cert.parent.parent.resolve()}"
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mockauth"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, where[-64:]),
            x509.NameAttribute(NameOID.COMMON_NAME, "mockauth local CA"),
        ]
    )
    cert = (
        _builder(name, name, key, when, when + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    atomic_write(_ca_key(files), _key_pem(key), 0o600)
    atomic_write(files.ca_cert, _cert_pem(cert), 0o644)
    return key, cert


def _issue(
    path: Path,
    ca_key: _PrivateKey,
    ca_cert: x509.Certificate,
    names: list[x509.GeneralName],
    when: dt.datetime,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(names[0].value))])
    until = min(when + CERT_LIFETIME, ca_cert.not_valid_after_utc)
    cert = (
        _builder(subject, ca_cert.subject, key, when, until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    # Key and certificate in one file, written at once: a server loading it never gets a
    # key from one issue and a certificate from another.
    atomic_write(path, _key_pem(key) + _cert_pem(cert), 0o600)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: _PrivateKey,
    start: dt.datetime,
    end: dt.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - _BACKDATE)
        .not_valid_after(end)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _fits(
    path: Path, ca_cert: x509.Certificate, names: list[x509.GeneralName], when: dt.datetime
) -> bool:
    """The server file is there, whole, from this CA, names every host and is valid for a
    while yet."""
    if not path.exists():
        return False
    try:
        cert, key = _read_cert(path), _read_key(path)
        cert.verify_directly_issued_by(ca_cert)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (KeyStoreError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False  # derived: make it again
    return (
        _public_der(key) == _public_der(cert)
        and cert.not_valid_before_utc <= when
        and cert.not_valid_after_utc - when >= RENEW_BEFORE
        and all(name in sans for name in names)
    )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return constraints.ca and usage.key_cert_sign


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyStoreError(f"{path}: cannot read it: {exc.strerror}") from exc


def _read_key(path: Path) -> _PrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyStoreError(f"{path}: not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyStoreError(f"{path}: not an EC private key")
    return key


def _read_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(path))
    except ValueError as exc:
        raise KeyStoreError(f"{path}: not a PEM certificate") from exc


def _public_der(holder: _PrivateKey | x509.Certificate) -> bytes:
    return holder.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _key_pem(key: _PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)

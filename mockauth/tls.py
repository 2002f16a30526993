"""A local certificate authority in the keys dir, so the server can speak HTTPS.

Some Kinde clients insist on https:// (KINDE.md): Python's ``ManagementClient``,
``@kinde/management-api-js``, Android. The CA is made once per keys dir and signs only the
server's certificate, which is reissued when it stops naming the server's hosts or nears
its end. Private keys stay in the keys dir with mode 0600; clients get the CA certificate.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
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
from mockauth.keys import atomic_write, dir_lock

TLS_DIR = "tls"
CA_CERT, CA_KEY, CERT, KEY = "ca.crt", "ca.key", "server.crt", "server.key"
# The CAs this machine trusts plus ours: SSL_CERT_FILE and REQUESTS_CA_BUNDLE replace the
# trusted CAs of a process, and other HTTPS must keep working beside mockauth.
BUNDLE = "bundle.pem"
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
CA_LIFETIME = dt.timedelta(days=3650)
# Clients refuse server certificates valid for years (Apple: more than 825 days).
CERT_LIFETIME = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)
_BACKDATE = dt.timedelta(hours=1)  # a client whose clock is a little behind still accepts it

_PrivateKey = ec.EllipticCurvePrivateKey


@dataclass(frozen=True, kw_only=True)
class TlsFiles:
    """The server's certificate and key, the CA certificate its clients must trust, and a
    bundle of that CA with the CAs this machine already trusts."""

    ca_cert: Path
    cert: Path
    key: Path
    bundle: Path


def _ca_key(files: TlsFiles) -> Path:
    return files.ca_cert.with_name(CA_KEY)


def tls_files(keys_dir: str | Path) -> TlsFiles:
    """Where a keys dir keeps its TLS files (whether or not they exist yet)."""
    tls = Path(keys_dir) / TLS_DIR
    return TlsFiles(ca_cert=tls / CA_CERT, cert=tls / CERT, key=tls / KEY, bundle=tls / BUNDLE)


def ensure_tls(
    keys_dir: str | Path, hosts: Iterable[str] = (), *, now: dt.datetime | None = None
) -> TlsFiles:
    """Make the keys dir's CA (once) and a server certificate for localhost, 127.0.0.1, ::1
    and ``hosts`` (names or IP literals); reuse both while they fit. Raises KeyStoreError."""
    directory = Path(keys_dir)
    files = tls_files(directory)
    names = server_names(hosts)
    when = now or dt.datetime.now(dt.UTC)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        files.ca_cert.parent.mkdir(exist_ok=True)
    except OSError as exc:
        raise KeyStoreError(f"cannot create {files.ca_cert.parent}: {exc.strerror}") from exc
    with dir_lock(directory):
        ca_key, ca_cert = _certificate_authority(files, when)
        if not _fits(files, ca_cert, names, when):
            _issue(files, ca_key, ca_cert, names, when)
        _write_bundle(files)
    return files


def system_ca_file(exclude: Path) -> Path | None:
    """The CA file this process trusts by default (SSL_CERT_FILE, OpenSSL's, else certifi's),
    never one in ``exclude`` (our own bundle, named by a previous run's SSL_CERT_FILE)."""
    paths = ssl.get_default_verify_paths()
    candidates = [os.environ.get(paths.openssl_cafile_env), paths.openssl_cafile]
    with contextlib.suppress(ImportError):
        import certifi

        candidates.append(certifi.where())
    for candidate in candidates:
        if candidate and os.path.isfile(candidate):
            path = Path(candidate).resolve()
            if path.parent != exclude.resolve():
                return path
    return None


def _write_bundle(files: TlsFiles) -> None:
    ours = files.ca_cert.read_bytes()
    source = system_ca_file(exclude=files.ca_cert.parent)
    theirs = b""
    if source is not None:
        with contextlib.suppress(OSError):
            theirs = source.read_bytes().rstrip() + b"\n"
    data = theirs + b"# mockauth local CA\n" + ours
    with contextlib.suppress(OSError):
        if files.bundle.read_bytes() == data:
            return
    atomic_write(files.bundle, data, 0o644)


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
            if not bare or not bare.isascii():
                raise KeyStoreError(f"cannot make a TLS certificate for host {host!r}") from None
            name = x509.DNSName(bare)
        else:
            if address.is_unspecified:
                continue
            name = x509.IPAddress(address)
        if name not in names:
            names.append(name)
    return names


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
    key, cert = _read_key(key_path), _read_cert(files.ca_cert)
    if _public_der(key) != _public_der(cert):
        raise KeyStoreError(f"{files.ca_cert}: does not match the key in {key_path}")
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
    _write(_ca_key(files), files.ca_cert, key, cert)
    return key, cert


def _issue(
    files: TlsFiles,
    ca_key: _PrivateKey,
    ca_cert: x509.Certificate,
    names: list[x509.GeneralName],
    when: dt.datetime,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    first = names[0].value
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(first))])
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
    _write(files.key, files.cert, key, cert)


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
    files: TlsFiles, ca_cert: x509.Certificate, names: list[x509.GeneralName], when: dt.datetime
) -> bool:
    """The server certificate is there, whole, from this CA, names every host and is valid
    for a while yet."""
    try:
        cert = _read_cert(files.cert)
        key = _read_key(files.key)
        cert.verify_directly_issued_by(ca_cert)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (KeyStoreError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False  # derived files: make them again
    return (
        _public_der(key) == _public_der(cert)
        and cert.not_valid_before_utc <= when
        and cert.not_valid_after_utc - when >= RENEW_BEFORE
        and all(name in sans for name in names)
    )


def _read_key(path: Path) -> _PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise KeyStoreError(f"{path}: not a readable unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyStoreError(f"{path}: not an EC private key")
    return key


def _read_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise KeyStoreError(f"{path}: not a readable PEM certificate") from exc


def _public_der(holder: _PrivateKey | x509.Certificate) -> bytes:
    return holder.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _write(key_path: Path, cert_path: Path, key: _PrivateKey, cert: x509.Certificate) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    atomic_write(key_path, pem, 0o600)
    atomic_write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)

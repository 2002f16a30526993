#!/usr/bin/env python3
"""A sign-only token server: the ceiling for mockauth's token rate on the same stack.

    python bench/sign_only.py [--port 0] [--workers 2]

Prints ``sign-only serving on http://127.0.0.1:PORT`` once it answers. ``POST /oauth2/token``
gets a token made with exactly one RS256 signature (RSA-2048, PKCS1v15 + SHA-256) over a
fixed JWT signing input, and nothing else: no form parsing, no claims, no store. It runs on
the stack ``mockauth serve`` uses (uvicorn, httptools, uvloop, a socket bound and listening
before the workers start, uvicorn's Multiprocess for ``--workers``), as a plain ASGI app,
so bench_server.py can show how close mockauth gets to "the same uvicorn stack plus one
signature per request". ``GET /.well-known/jwks`` serves the public key, only so the
benchmark can check the signature before measuring. Stops on SIGINT.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from uvicorn.supervisors import Multiprocess

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KEY_ENV = "SIGN_ONLY_KEY_PEM"  # the parent's key, so every worker signs with the same one
KID = "sign-only"
TOKEN_PATH = "/oauth2/token"
JWKS_PATH = "/.well-known/jwks"
# Headers as mockauth's token answer has them, so the bytes on the wire are alike.
TOKEN_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
    (b"content-type", b"application/json"),
]


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def signing_input() -> bytes:
    """A fixed header.claims of an M2M token's size: hashing it is a few µs either way."""
    header = {"alg": "RS256", "kid": KID, "typ": "JWT"}
    claims = {
        "aud": ["https://api.example.com"],
        "azp": "db7910a2cb5ef186a47f64aa64eb7783",
        "exp": 4102444800,
        "gty": ["client_credentials"],
        "iat": 1767225600,
        "iss": "http://127.0.0.1:8400",
        "jti": "0f4c1b2a-6d3e-4f5a-8b7c-9d0e1f2a3b4c",
        "scp": ["read:calendar", "update:event"],
        "v": "2",
    }
    parts = (json.dumps(d, separators=(",", ":")).encode() for d in (header, claims))
    return b".".join(b64url(p) for p in parts)


def jwks_body(key: rsa.RSAPrivateKey) -> bytes:
    numbers = key.public_key().public_numbers()

    def encode(n: int) -> str:
        return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big")).decode()

    jwk = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": KID}
    jwk |= {"n": encode(numbers.n), "e": encode(numbers.e)}
    return json.dumps({"keys": [jwk]}).encode()


def make_app() -> ASGIApp:
    """The worker's app (a uvicorn factory): the key comes from the parent's environment."""
    key = serialization.load_pem_private_key(os.environ[KEY_ENV].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    unsigned = signing_input()
    prefix, suffix = b'{"access_token":"' + unsigned + b".", b'","token_type":"bearer"}'
    jwks = jwks_body(key)
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:  # the body is read, as any server must, but never parsed
            more = (await receive()).get("more_body", False)
        if scope["method"] == "POST" and scope["path"] == TOKEN_PATH:
            body = prefix + b64url(key.sign(unsigned, pkcs1, sha256)) + suffix
            await respond(send, 200, TOKEN_HEADERS, body)
        elif scope["method"] == "GET" and scope["path"] == JWKS_PATH:
            await respond(send, 200, TOKEN_HEADERS[2:], jwks)
        else:
            await respond(send, 404, [], b"")

    return app


async def respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    length = (b"content-length", str(len(body)).encode())
    await send({"type": "http.response.start", "status": status, "headers": [*headers, length]})
    await send({"type": "http.response.body", "body": body})


def uvicorn_config(workers: int) -> uvicorn.Config:
    # As mockauth's _uvicorn_config, less what only mockauth needs (its protocol subclass,
    # TLS, log filters): httptools and uvloop, no lifespan, no access log, no server header.
    return uvicorn.Config(
        "sign_only:make_app",
        factory=True,
        loop="auto",
        http="httptools",
        ws="none",
        lifespan="off",
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,
        workers=workers,
        timeout_graceful_shutdown=2,
    )


def announce_when_ready(url: str) -> None:
    # Printed only once a worker answers, as mockauth does, so a waiting script can measure.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + JWKS_PATH, timeout=2) as resp:
                if resp.status == 200:
                    print(f"sign-only serving on {url}", flush=True)
                    return
        except OSError:
            time.sleep(0.02)
    print(f"sign-only: {url} did not answer", file=sys.stderr, flush=True)


def listening_socket(host: str, port: int) -> socket.socket:
    """mockauth's own socket setup (same backlog and flags), from this checkout. Imported
    here, in the parent only, so the workers never load mockauth or Starlette."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from mockauth.http.server import bind_socket

    return bind_socket(host, port)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    os.environ[KEY_ENV] = pem.decode()
    sock = listening_socket(args.host, args.port)
    url = f"http://{args.host}:{sock.getsockname()[1]}"
    threading.Thread(target=announce_when_ready, args=(url,), daemon=True).start()
    config = uvicorn_config(args.workers)
    try:
        if args.workers > 1:
            Multiprocess(config, sockets=[sock]).run()
        else:
            uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # SIGINT is how it stops
    return 0


if __name__ == "__main__":
    sys.exit(main())

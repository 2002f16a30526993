#!/usr/bin/env python3
"""The server's own CPU per request, without sockets, wrk or the kernel.

    python bench/bench_protocol.py                       # this checkout
    python bench/bench_protocol.py --src base=../old     # beside another checkout

Builds the app and uvicorn config as ``mockauth serve --workers 1`` does, then feeds whole
keep-alive requests into one instance of the HTTP protocol uvicorn would use (the fast path
included) through a transport that only counts writes, on uvloop, yielding to the loop every
20 requests so the journal flushes as under load. Prints microseconds per request, best of
5 rounds, for JWKS, discovery, and the client-credentials token request with the RS256
signature stubbed out (what a token costs besides its signature) and with it. Every answer
is checked to be a 200. Loaded servers spend two to three times these figures (caches, the
kernel's loopback TCP, waking the client); this isolates what the Python code costs.

``--src LABEL=DIR`` measures the mockauth package in DIR too, each in its own process; DIR
may be a checkout from before the package layout of the architecture issue.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BODY = (
    "grant_type=client_credentials&client_id={client_id}&client_secret={secret}"
    "&audience=https%3A%2F%2Fapi.example.com&scope=read%3Acalendar+update%3Aevent"
)


def build(keys_dir: str) -> tuple[Any, Any]:
    """(tenant, uvicorn config) from whichever layout the imported mockauth has."""
    try:
        from mockauth.http.app import create_app
        from mockauth.http.limits import HeaderLimit, Limits
        from mockauth.http.server import _uvicorn_config
        from mockauth.tenant.config import default_config
        from mockauth.tenant.tenant import Tenant
        from mockauth.tokens.keys import KeyStore

        tenant = Tenant(
            default_config(),
            issuer="http://127.0.0.1:8400",
            keys=KeyStore(keys_dir),
            workers=1,
            admin_secret=None,
        )
        app: Any = HeaderLimit(create_app(tenant), Limits())
        config = _uvicorn_config(app, log_level="warning", limits=Limits())
    except ImportError:  # the flat layout before the architecture issue
        from mockauth.config import default_config  # type: ignore[no-redef]
        from mockauth.server import (  # type: ignore[attr-defined,no-redef]
            HeaderLimit,
            _uvicorn_config,
            create_app,
        )
        from mockauth.state import Tenant  # type: ignore[no-redef]

        tenant = Tenant(
            default_config(),
            issuer="http://127.0.0.1:8400",
            keys_dir=keys_dir,
            workers=1,
            admin_secret=None,
        )
        config = _uvicorn_config(HeaderLimit(create_app(tenant)), log_level="warning")
    config.load()
    return tenant, config


class CountingTransport:
    """Enough of an asyncio transport for uvicorn's protocol: writes are counted, not sent."""

    def __init__(self) -> None:
        self.answers = 0  # status lines written (an ASGI answer is two writes)
        self.bad = b""
        self.closing = False

    def write(self, data: bytes) -> None:
        if data.startswith(b"HTTP/1.1 "):
            self.answers += 1
            if not data.startswith(b"HTTP/1.1 200 "):
                self.bad = data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8400), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, *args: Any, **kwargs: Any) -> None:
        pass


def requests(tenant: Any) -> dict[str, bytes]:
    app = next(a for a in tenant.config.apps if a.type == "m2m")
    body = BODY.format(client_id=app.client_id, secret=app.client_secret).encode()
    token = (
        b"POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1:8400\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    return {
        "jwks": b"GET /.well-known/jwks HTTP/1.1\r\nHost: 127.0.0.1:8400\r\n\r\n",
        "discovery": (
            b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: 127.0.0.1:8400\r\n\r\n"
        ),
        "token, signature stubbed": token,
        "token": token,
    }


async def measure(config: Any, request: bytes, count: int) -> float:
    """Best of 5 rounds of ``count`` requests on one connection, µs per request."""
    from uvicorn.server import ServerState

    loop = asyncio.get_running_loop()
    protocol = config.http_protocol_class(
        config=config, server_state=ServerState(), app_state={}, _loop=loop
    )
    transport = CountingTransport()
    protocol.connection_made(transport)

    async def run(n: int) -> None:
        for i in range(n):
            expected = transport.answers + 1
            protocol.data_received(request)
            for _ in range(1000):  # an answer made through ASGI comes in later loop turns
                if transport.answers >= expected:
                    break
                await asyncio.sleep(0)
            else:
                raise SystemExit(f"no answer to request {i}")
            if transport.bad:
                raise SystemExit(f"not a 200: {transport.bad[:200]!r}")
            if i % 20 == 19:
                await asyncio.sleep(0)

    await run(max(count // 10, 50))  # warm up
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        await run(count)
        best = min(best, (time.perf_counter() - started) / count * 1e6)
    return best


def child(count: int) -> None:
    """Measure the mockauth on sys.path; print one line per request kind."""
    import uvloop

    with tempfile.TemporaryDirectory(prefix="mockauth-bench-") as keys_dir:
        tenant, config = build(keys_dir)
        kinds = requests(tenant)
        real_sign = tenant.keys.sign
        kid = tenant.keys.active_kid
        for kind, request in kinds.items():
            stub = kind.endswith("stubbed")
            tenant.keys.sign = (lambda _: (kid, b"\0" * 256)) if stub else real_sign
            n = count // 10 if kind == "token" else count
            micros = uvloop.run(measure(config, request, n))
            print(f"{kind}\t{micros:.2f}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20_000, help="per round (20000)")
    ap.add_argument("--src", action="append", default=[], metavar="LABEL=DIR")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.requests)
        return 0
    sources = [("this checkout", REPO)]
    sources += [(lbl, Path(d).resolve()) for lbl, _, d in (x.partition("=") for x in args.src)]
    table: dict[str, dict[str, str]] = {}
    for label, src in sources:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKAUTH_")}
        env["PYTHONPATH"] = str(src)
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--requests", str(args.requests)],
            env=env,
            cwd=src,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            print(f"{label}: failed\n{out.stderr}", file=sys.stderr)
            return 1
        table[label] = dict(line.split("\t") for line in out.stdout.splitlines())
    print("µs of CPU per keep-alive request inside the protocol, no sockets (best of 5 rounds)")
    print(f"{'request':26s}" + "".join(f"{label:>16s}" for label, _ in sources))
    for kind in table["this checkout"]:
        print(f"{kind:26s}" + "".join(f"{table[lbl].get(kind, '-'):>16s}" for lbl, _ in sources))
    return 0


if __name__ == "__main__":
    sys.exit(main())

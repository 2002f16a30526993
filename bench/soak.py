#!/usr/bin/env python3
"""Soak: mixed token, JWKS and login load on `mockauth serve --workers 2` for a set time.

    python bench/soak.py                   # 5 minutes
    python bench/soak.py --minutes 30 --threads 6

Starts the server from this checkout (a fresh keys dir, port 0) and keeps it busy with
client threads, each on a kept-alive connection, each looping over a mix: M2M tokens
(client credentials), JWKS fetches, and user logins (the authorization endpoint's redirect
with a code, the code exchanged for tokens with a refresh token, the refresh token used).
Every answer is checked (status and the fields a client reads); anything else is an error.

Reports, per kind of request: count, errors, and p50/p99 latency in the first and the last
--window seconds (the drift of p99 between them); the resident memory (RSS) of the parent
and of each worker at the start (after the first window) and at the end; and a line every
30 s as it goes. Exit status 1 on any error or a worker that died.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO))

from fuzz.fuzz_http import Server as ServeProcess  # noqa: E402
from mockauth.tenant.config import default_config  # noqa: E402

CONFIG = default_config()
APPS = {app.type: app for app in CONFIG.apps}
M2M, WEB = APPS["m2m"], APPS["regular"]
API = "https://api.example.com"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the server


class Server(ServeProcess):
    """`mockauth serve --workers N` over HTTP, started as the fuzzer starts it."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers, tls=False)
        self.host, self.port = self.address

    def workers(self) -> list[int]:
        """The worker processes (multiprocessing spawn children of the parent)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
                cmdline = (stat.parent / "cmdline").read_bytes()
            except (OSError, IndexError):
                continue
            if int(ppid) == self.proc.pid and state != "Z" and b"spawn_main" in cmdline:
                found.append(int(stat.parent.name))
        return sorted(found)


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# --------------------------------------------------------------------------- the load


class Failed(Exception):
    pass


@dataclass
class Samples:
    """(time since start, seconds) per kind, and errors per kind."""

    latencies: dict[str, list[tuple[float, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    examples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, at: float, took: float) -> None:
        with self.lock:
            self.latencies[kind].append((at, took))

    def error(self, kind: str, what: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            if len(self.examples) < 20:
                self.examples.append(f"{kind}: {what}")


class Client:
    """One thread's loop over the mix, on one kept-alive connection."""

    def __init__(self, server: Server, samples: Samples, started: float) -> None:
        self.server = server
        self.samples = samples
        self.started = started
        self.conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)

    def call(
        self,
        kind: str,
        method: str,
        path: str,
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        t0 = time.monotonic()
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            resp = self.conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = self._connect()
            raise Failed(f"{method} {path}: {exc!r}") from exc
        self.samples.add(kind, t0 - self.started, time.monotonic() - t0)
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def json_ok(
        self, kind: str, method: str, path: str, body: str | None, *need: str
    ) -> dict[str, object]:
        status, _, data = self.call(kind, method, path, body, FORM if body is not None else None)
        if status != 200:
            raise Failed(f"{method} {path}: {status} {data[:200]!r}")
        doc = json.loads(data)
        missing = [name for name in need if name not in doc]
        if missing:
            raise Failed(f"{method} {path}: no {missing} in {data[:200]!r}")
        return doc

    def m2m_token(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": M2M.client_id,
            "client_secret": M2M.client_secret,
            "audience": API,
        }
        self.json_ok("token", "POST", "/oauth2/token", urlencode(form), "access_token")

    def jwks(self) -> None:
        self.json_ok("jwks", "GET", "/.well-known/jwks", None, "keys")

    def login(self) -> None:
        query = urlencode(
            {
                "client_id": WEB.client_id,
                "redirect_uri": WEB.redirect_uris[0],
                "response_type": "code",
                "scope": "openid profile email offline",
                "state": "soak",
            }
        )
        status, headers, data = self.call("authorize", "GET", "/oauth2/auth?" + query)
        code = parse_qs(urlsplit(headers.get("location", "")).query).get("code")
        if status != 302 or not code:
            raise Failed(f"authorize: {status} {headers.get('location')} {data[:200]!r}")
        form = {
            "grant_type": "authorization_code",
            "code": code[0],
            "redirect_uri": WEB.redirect_uris[0],
            "client_id": WEB.client_id,
            "client_secret": WEB.client_secret,
        }
        doc = self.json_ok(
            "code",
            "POST",
            "/oauth2/token",
            urlencode(form),
            "access_token",
            "id_token",
            "refresh_token",
        )
        form = {
            "grant_type": "refresh_token",
            "refresh_token": str(doc["refresh_token"]),
            "client_id": WEB.client_id,
            "client_secret": WEB.client_secret,
        }
        self.json_ok("refresh", "POST", "/oauth2/token", urlencode(form), "refresh_token")

    def loop(self, until: float) -> None:
        mix = [
            ("token", self.m2m_token),
            ("jwks", self.jwks),
            ("jwks", self.jwks),
            ("login", self.login),
        ]
        i = 0
        while time.monotonic() < until:
            kind, step = mix[i % len(mix)]
            i += 1
            try:
                step()
            except (Failed, ValueError) as exc:
                self.samples.error(kind, str(exc)[:300])
        self.conn.close()


# --------------------------------------------------------------------------- the report


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(
    samples: Samples,
    seconds: float,
    window: float,
    rss: dict[str, tuple[float | None, float | None]],
) -> None:
    print(f"soak: {seconds / 60:.1f} min; latency windows: first and last {window:.0f} s")
    print(
        f"{'kind':10} {'requests':>9} {'errors':>6}  {'p50 start':>9} {'p99 start':>9}  "
        f"{'p50 end':>8} {'p99 end':>8}  {'p99 drift':>9}"
    )
    total = 0
    for kind, rows in sorted(samples.latencies.items()):
        total += len(rows)
        first = [took for at, took in rows if at < window]
        last = [took for at, took in rows if at >= seconds - window]
        p99s, p99e = percentile(first, 0.99) * 1e3, percentile(last, 0.99) * 1e3
        print(
            f"{kind:10} {len(rows):9} {samples.errors.get(kind, 0):6}  "
            f"{percentile(first, 0.5) * 1e3:8.2f}ms {p99s:8.2f}ms  "
            f"{percentile(last, 0.5) * 1e3:7.2f}ms {p99e:7.2f}ms  {p99e - p99s:+8.2f}ms"
        )
    errors = sum(samples.errors.values())
    print(f"all        {total:9} {errors:6}  ({total / seconds:.0f} requests/s)")
    print("RSS (MiB)  start    end   growth")
    for name, (start, end) in rss.items():
        if start is None or end is None:
            print(f"{name:18} {start} -> {end} (gone)")
        else:
            print(f"{name:18} {start:6.1f} {end:6.1f} {end - start:+7.1f}")
    for example in samples.examples:
        print("  error: " + example)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--minutes", type=float, default=5.0, help="how long (5)")
    parser.add_argument("--threads", type=int, default=4, help="client threads (4)")
    parser.add_argument("--workers", type=int, default=2, help="server workers (2)")
    parser.add_argument("--window", type=float, default=60.0, help="latency window, s (60)")
    args = parser.parse_args(argv)
    seconds = args.minutes * 60
    window = min(args.window, seconds / 2)

    server = Server(args.workers)
    workers = server.workers()
    log(
        f"soaking {server.url}: parent [{server.proc.pid}], workers {workers}, "
        f"{args.threads} client threads, {args.minutes:g} min"
    )
    samples = Samples()
    started = time.monotonic()
    until = started + seconds
    clients = [Client(server, samples, started) for _ in range(args.threads)]
    threads = [threading.Thread(target=c.loop, args=(until,)) for c in clients]
    for thread in threads:
        thread.start()
    pids = {
        "parent": server.proc.pid,
        **{f"worker {i + 1} [{p}]": p for i, p in enumerate(workers)},
    }
    rss_start: dict[str, float | None] = {}
    next_line = started + 30
    while any(t.is_alive() for t in threads):
        time.sleep(1)
        now = time.monotonic()
        if not rss_start and now - started >= window:
            rss_start = {name: rss_mib(pid) for name, pid in pids.items()}
        if now >= next_line:
            next_line += 30
            done = sum(len(v) for v in samples.latencies.values())
            shown = " ".join(f"{rss_mib(p) or 0:.0f}" for p in pids.values())
            log(
                f"  {now - started:5.0f} s: {done} requests, {sum(samples.errors.values())} "
                f"errors, RSS MiB {shown}"
            )
    for thread in threads:
        thread.join()
    rss_end = {name: rss_mib(pid) for name, pid in pids.items()}
    if not rss_start:
        rss_start = rss_end
    lost = workers != server.workers()
    code = server.stop()
    report(samples, seconds, window, {n: (rss_start.get(n), rss_end.get(n)) for n in pids})
    bad_log = [line for line in server.log if "ERROR" in line or "Traceback" in line]
    print(
        f"workers unchanged: {not lost}; server exit status: {code}; "
        f"ERROR lines in its log: {len(bad_log)}"
    )
    for line in bad_log[:20]:
        print("  log: " + line[:300])
    return 1 if sum(samples.errors.values()) or lost or code or bad_log else 0


if __name__ == "__main__":
    sys.exit(main())

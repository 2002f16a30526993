#!/usr/bin/env python3
"""Login soak: complete user login flows against ``mockauth serve --workers 2`` for minutes.

    python bench/bench_login.py                 # 10 minutes, 8 clients
    python bench/bench_login.py --quick         # 1 minute
    python bench/bench_login.py --minutes 2 --clients 8

Starts ``python -m mockauth serve --port 0 --workers 2`` from this checkout on a fresh
temporary keys (state) dir, then K client threads, each on one keep-alive connection, run
login flows back to back: ``GET /oauth2/auth`` (code flow, PKCE S256, the default web app),
the authorization_code grant at ``POST /oauth2/token``, then one refresh_token grant with
the refresh token it returned. Prints, per minute: flows/s (and the spread of its 10-second
windows), p50/p99 flow latency, errors, the CPU of the server, the client and anything
else, the store's rows (``spent``, ``notes``, ``families`` in store.db, read-only) and
files, and the servers' RSS; then first- against last-minute rate (target >= 90%) and
the store and RSS at start and end. Exit status 1 on any error (a status other than
2xx/302, or a socket error). Figures go to bench/results/ as JSON. See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import contextlib
import hashlib
import http.client
import itertools
import json
import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench_server import (
    CLK_TCK,
    REPO,
    RESULTS_DIR,
    Server,
    log,
    machine_busy_seconds,
    start_mockauth,
)

# The default config's regular web app (DEFAULT_CONFIG_TOML in mockauth/tenant/config.py).
CLIENT_ID = "4c3f8a5e0b7d4e21a9f6c2d8e1b05f37"
CLIENT_SECRET = "Rk7vW2mQ9pL4xT8nZ3cJ6hY1sB5dF0gKaE2uN7iO4rVt9XqM3w"
REDIRECT_URI = "http://localhost:3000/callback"
SCOPE = "openid profile email offline"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
WINDOW = 10.0  # seconds per rate window
TABLES = ("spent", "notes", "families")
TARGET_DRIFT = 0.90  # last minute's rate over the first's


class FlowError(Exception):
    """A response the flow did not expect: a status other than 2xx/302, or no code."""


# --------------------------------------------------------------------------- one flow


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def call(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None
) -> tuple[int, http.client.HTTPResponse, bytes]:
    # Bytes bodies go out with the headers in one send: no Nagle/delayed-ACK stall.
    conn.request(method, path, body=body, headers=FORM if body is not None else {})
    resp = conn.getresponse()
    data = resp.read()
    if not (200 <= resp.status < 300 or resp.status == 302):
        raise FlowError(f"{method} {path.split('?')[0]}: {resp.status} {data[:200]!r}")
    return resp.status, resp, data


def authorize(conn: http.client.HTTPConnection, challenge: str) -> str:
    """The authorization request; the code from the 302's Location."""
    state = secrets.token_urlsafe(12)
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": SCOPE,
            "state": state,
            "nonce": secrets.token_urlsafe(12),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    status, resp, _ = call(conn, "GET", "/oauth2/auth?" + query)
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(resp.getheader("location", "")).query)
    if status != 302 or params.get("state") != [state] or "code" not in params:
        raise FlowError(f"GET /oauth2/auth: {status}, Location {resp.getheader('location')!r}")
    return params["code"][0]


def token(conn: http.client.HTTPConnection, grant: dict[str, str]) -> dict[str, Any]:
    form = grant | {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    status, _, data = call(conn, "POST", "/oauth2/token", urllib.parse.urlencode(form).encode())
    if status != 200:
        raise FlowError(f"POST /oauth2/token ({grant['grant_type']}): {status}")
    answer: dict[str, Any] = json.loads(data)
    return answer


def login_flow(conn: http.client.HTTPConnection) -> None:
    verifier, challenge = pkce()
    code = authorize(conn, challenge)
    first = token(
        conn,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
    )
    if "refresh_token" not in first:
        raise FlowError("authorization_code answer has no refresh_token (scope offline)")
    token(conn, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})


# --------------------------------------------------------------------------- clients


@dataclass
class Tally:
    """What the clients did: (end, latency) per good flow, in seconds since t0, and errors.
    list.append is atomic under the GIL, so the threads share these without a lock."""

    t0: float
    flows: list[tuple[float, float]] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)


def client(host: str, port: int, stop: threading.Event, tally: Tally) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    while not stop.is_set():
        start = time.monotonic()
        try:
            login_flow(conn)
        except (FlowError, OSError, http.client.HTTPException, ValueError) as exc:
            tally.errors.append((time.monotonic() - tally.t0, f"{type(exc).__name__}: {exc}"))
            conn.close()  # a fresh connection, as a browser would after a failure
            conn = http.client.HTTPConnection(host, port, timeout=30)
            continue
        end = time.monotonic()
        tally.flows.append((end - tally.t0, end - start))
    conn.close()


# --------------------------------------------------------------------------- samples


def store_rows(state_dir: Path) -> dict[str, int]:
    """Rows of the shared tables, read-only so the reader never takes a write lock. A
    checkout from before the store (``--src``) kept a file per spent id in ``spent/``."""
    if not (state_dir / "store.db").exists():
        spent = state_dir / "spent"
        files = sum(1 for _ in os.scandir(spent)) if spent.is_dir() else 0
        return {"spent": files, "notes": 0, "families": 0}
    db = sqlite3.connect((state_dir / "store.db").as_uri() + "?mode=ro", uri=True, timeout=10)
    try:
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        db.close()  # an open read would hold back the WAL checkpoint


def store_files(state_dir: Path) -> dict[str, int]:
    """Bytes of store.db, its WAL and shared memory, and every running instance's files."""
    sizes = {}
    for name in ("store.db", "store.db-wal", "store.db-shm"):
        with contextlib.suppress(OSError):
            sizes[name] = (state_dir / name).stat().st_size
    instances = list((state_dir / "instances").glob("*"))
    sizes["instances/*"] = sum(p.stat().st_size for p in instances if p.is_file())
    if (state_dir / "spent").is_dir():  # before the store: the blocks its files take
        with os.scandir(state_dir / "spent") as entries:
            sizes["spent/ on disk"] = sum(e.stat().st_blocks * 512 for e in entries)
    return sizes


def steal_seconds() -> float:
    """CPU time the hypervisor gave to other guests (/proc/stat steal): on a shared VM this,
    not anything here, is often why a minute is slower."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[8]) / CLK_TCK if len(fields) > 8 else 0.0


def rss_kib(pids: list[int]) -> dict[int, int]:
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    found[pid] = int(line.split()[1])
    return found


@dataclass
class Sample:
    """The state of things at one moment: counters to subtract, sizes to show."""

    at: float  # seconds since t0
    flows: int
    server_cpu: float
    client_cpu: float
    busy: float
    steal: float
    rows: dict[str, int]
    files: dict[str, int]
    rss: dict[int, int]  # KiB per server process
    roles: dict[int, str]  # parent, worker or helper per server process


def sample(server: Server, tally: Tally) -> Sample:
    assert server.state_dir is not None
    return Sample(
        at=time.monotonic() - tally.t0,
        flows=len(tally.flows),
        server_cpu=server.cpu_seconds(),
        client_cpu=time.process_time(),
        busy=machine_busy_seconds(),
        steal=steal_seconds(),
        rows=store_rows(server.state_dir),
        files=store_files(server.state_dir),
        rss=rss_kib(server.pids()),
        roles={pid: role_of(pid, server.proc.pid) for pid in server.pids()},
    )


# --------------------------------------------------------------------------- run


def drive(server: Server, clients: int, seconds: float) -> tuple[Tally, list[Sample]]:
    """Run the clients for ``seconds``; a sample before, at each minute and after."""
    parts = urllib.parse.urlsplit(server.base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    warm = http.client.HTTPConnection(host, port, timeout=30)
    for _ in range(clients):  # the workers' first requests pay their imports: not counted
        login_flow(warm)
    warm.close()
    tally, stop = Tally(t0=time.monotonic()), threading.Event()
    samples = [sample(server, tally)]
    threads = [
        threading.Thread(target=client, args=(host, port, stop, tally), daemon=True)
        for _ in range(clients)
    ]
    for t in threads:
        t.start()
    windows, counted = int(seconds // WINDOW), 0
    for i in range(1, windows + 1):
        time.sleep(max(0.0, tally.t0 + i * WINDOW - time.monotonic()))
        done, counted = len(tally.flows) - counted, len(tally.flows)
        log(f"  {i * WINDOW:5.0f} s  {done / WINDOW:7.1f} flows/s  errors {len(tally.errors)}")
        if i % 6 == 0 or i == windows:
            samples.append(sample(server, tally))
        if server.proc.poll() is not None:
            tally.errors.append((i * WINDOW, f"server exited with {server.proc.returncode}"))
            break
    stop.set()
    for t in threads:
        t.join(timeout=35)
    return tally, samples


@dataclass
class Minute:
    index: int
    flows: int
    rate: float
    windows: list[float]
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu: float  # cores
    client_cpu: float  # cores
    other_cpu: float  # cores busy with anything else here (other processes, kernel)
    steal_cpu: float  # cores the hypervisor gave to other guests
    end: Sample


def minutes(tally: Tally, samples: list[Sample]) -> list[Minute]:
    """One row per interval between samples (a minute each), from one pass over the flows."""
    bounds = [s.at for s in samples]
    latencies: list[list[float]] = [[] for _ in bounds[1:]]
    per_window: Counter[int] = Counter()
    for end, lat in tally.flows:
        i = bisect.bisect_right(bounds, end) - 1
        if 0 <= i < len(latencies):
            latencies[i].append(lat)
        per_window[int(end // WINDOW)] += 1
    out = []
    for i, (a, b) in enumerate(itertools.pairwise(samples)):
        wall, lat = b.at - a.at, sorted(latencies[i])
        span = range(round(a.at / WINDOW), round(b.at / WINDOW))
        srv, cli = b.server_cpu - a.server_cpu, b.client_cpu - a.client_cpu
        out.append(
            Minute(
                index=i + 1,
                flows=len(lat),
                rate=len(lat) / wall,
                windows=[per_window[k] / WINDOW for k in span],
                p50_ms=percentile(lat, 0.50) * 1000,
                p99_ms=percentile(lat, 0.99) * 1000,
                errors=sum(1 for at, _ in tally.errors if a.at <= at < b.at),
                server_cpu=srv / wall,
                client_cpu=cli / wall,
                other_cpu=max(0.0, b.busy - a.busy - (b.steal - a.steal) - srv - cli) / wall,
                steal_cpu=(b.steal - a.steal) / wall,
                end=b,
            )
        )
    return out


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


# --------------------------------------------------------------------------- report


def mib(n: float) -> str:
    return f"{n / 2**20:.2f}"


def print_minutes(rows: list[Minute]) -> None:
    head = (
        f"{'min':>3} {'flows':>7} {'flows/s':>8} {'10 s min-max':>13} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'err':>4} {'srv':>6} {'srv ms/fl':>9} {'client':>6} {'cli ms/fl':>9} "
        f"{'other':>6} {'steal':>6} {'spent':>8} {'notes':>7} {'families':>8} {'store MiB':>9} "
        f"{'RSS MiB':>8}"
    )
    print(head)
    print("-" * len(head))
    for m in rows:
        per_flow = 1000 / m.rate if m.rate else 0.0
        spread = f"{min(m.windows, default=0):.0f}-{max(m.windows, default=0):.0f}"
        print(
            f"{m.index:>3} {m.flows:>7,} {m.rate:>8.1f} {spread:>13} {m.p50_ms:>7.1f} "
            f"{m.p99_ms:>7.1f} {m.errors:>4} {m.server_cpu:>5.2f}c "
            f"{m.server_cpu * per_flow:>9.2f} {m.client_cpu:>5.2f}c "
            f"{m.client_cpu * per_flow:>9.2f} {m.other_cpu:>5.2f}c {m.steal_cpu:>5.2f}c "
            f"{m.end.rows['spent']:>8,} {m.end.rows['notes']:>7,} "
            f"{m.end.rows['families']:>8,} {mib(sum(m.end.files.values())):>9} "
            f"{mib(sum(m.end.rss.values()) * 1024):>8}"
        )


def role_of(pid: int, parent: int) -> str:
    """parent, worker, or the multiprocessing helper uvicorn's spawn context starts."""
    if pid == parent:
        return "parent"
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "gone"
    return "helper" if b"resource_tracker" in cmdline else "worker"


def print_summary(rows: list[Minute], samples: list[Sample], tally: Tally) -> None:
    """The figures the targets are about."""
    first, last = rows[0], rows[-1]
    ratio = last.rate / first.rate if first.rate else 0.0
    verdict = "MET" if ratio >= TARGET_DRIFT else "MISSED"
    start, end = samples[0], samples[-1]
    print()
    print(f"first minute: {first.rate:,.1f} flows/s, last minute: {last.rate:,.1f} flows/s")
    print(f"last / first: {ratio:.0%}  (target >= {TARGET_DRIFT:.0%}: {verdict})")
    print(f"p99 flow latency: first minute {first.p99_ms:.1f} ms, last {last.p99_ms:.1f} ms")
    rows_txt = (f"{t} {start.rows[t]:,} -> {end.rows[t]:,}" for t in TABLES)
    print("store rows, start -> end: " + ", ".join(rows_txt))
    files_txt = (f"{k} {start.files.get(k, 0):,} -> {n:,}" for k, n in end.files.items())
    print("store files (bytes), start -> end: " + ", ".join(files_txt))
    for pid, kib in end.rss.items():
        was = start.rss.get(pid, 0) / 1024
        role = end.roles.get(pid, "?")
        print(f"server RSS {role} pid {pid}: {was:.1f} MiB -> {kib / 1024:.1f} MiB")
    flows, wall = len(tally.flows), end.at - start.at
    cli, srv = end.client_cpu - start.client_cpu, end.server_cpu - start.server_cpu
    print(
        f"CPU: server {srv / wall:.2f} cores ({srv / max(flows, 1) * 1000:.2f} ms per flow), "
        f"client {cli / wall:.2f} cores ({cli / max(flows, 1) * 1000:.2f} ms per flow, "
        "3 requests)"
    )
    print(f"errors: {len(tally.errors)} over {flows:,} good flows")
    for at, what in tally.errors[:5]:
        print(f"  at {at:.1f} s: {what}")


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10, help="minutes of load (10)")
    ap.add_argument("--quick", action="store_true", help="one minute")
    ap.add_argument("--clients", type=int, default=8, help="concurrent client threads (8)")
    ap.add_argument("--workers", type=int, default=2, help="mockauth --workers (2)")
    ap.add_argument("--src", type=Path, default=REPO, help="the mockauth checkout to run")
    args = ap.parse_args()
    seconds = 60.0 if args.quick else args.minutes * 60
    tmp = Path(tempfile.mkdtemp(prefix="mockauth-soak-"))
    log(f"starting mockauth --workers {args.workers} (state dir in {tmp}) ...")
    server = start_mockauth(args.workers, tmp, src=args.src.resolve())
    try:
        log(f"{args.clients} clients for {seconds / 60:g} min against {server.base} ...")
        tally, samples = drive(server, args.clients, seconds)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    rows = minutes(tally, samples)
    print()
    print(
        f"mockauth login soak: --workers {args.workers}, {args.clients} client threads, "
        f"{seconds / 60:g} min; a flow = authorize (302) + code grant + refresh grant"
    )
    print_minutes(rows)
    print_summary(rows, samples, tally)
    save(args, rows, samples, tally)
    return 1 if tally.errors else 0


def save(args: argparse.Namespace, rows: list[Minute], samples: list[Sample], tally: Tally) -> None:
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / time.strftime("login-%Y%m%d-%H%M%S.json")
    doc = {
        "clients": args.clients,
        "workers": args.workers,
        "minutes": [asdict(m) | {"end": None} for m in rows],
        "samples": [asdict(s) for s in samples],
        "errors": tally.errors[:100],
        "error_count": len(tally.errors),
    }
    out.write_text(json.dumps(doc, indent=2))
    print(f"\nraw results: {out.relative_to(REPO)}")


if __name__ == "__main__":
    sys.exit(main())

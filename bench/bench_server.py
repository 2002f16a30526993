#!/usr/bin/env python3
"""Load benchmark: mockauth's token and JWKS endpoints against axa's oauth2-mock-server.

    python bench/bench_server.py                # the full run, a few minutes
    python bench/bench_server.py --quick        # one round of 3 s runs, for a smoke test

Starts every server itself on free 127.0.0.1 ports (mockauth from this checkout with
``--workers 2`` and ``--workers 1``, each on a fresh temporary keys dir; the sign-only
server of bench/sign_only.py with the same worker counts; the peer from bench/node_modules,
installed with npm on first use), checks that each server's token response is a real 200
whose signature verifies against its own JWKS, then drives each endpoint with ``wrk`` at
concurrency 1, 8 and 32 and prints requests/s, p50/p99 latency, the non-2xx and
socket-error counts, and the CPU the servers and wrk used. It ends with the target ratios
of the architecture issue and, as information, the RSA-2048 signing limit of all cores
(``openssl speed -multi N rsa2048``). See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
LUA = BENCH_DIR / "wrk_report.lua"
PEER_SCRIPT = BENCH_DIR / "peer_server.mjs"
SIGN_ONLY_SCRIPT = BENCH_DIR / "sign_only.py"
PEER_PACKAGE = BENCH_DIR / "node_modules" / "oauth2-mock-server"
RESULTS_DIR = BENCH_DIR / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Targets of the architecture issue, side by side in one run with --workers 2.
TOKEN_VS_PEER = 2.0
TOKEN_VS_SIGN_ONLY = 0.90  # of a sign-only server on the same uvicorn stack
JWKS_VS_PEER = 2.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- servers


@dataclass
class Server:
    """A running server: what to POST to its token endpoint and where its JWKS is."""

    name: str
    proc: subprocess.Popen[str]
    base: str
    token_path: str
    token_body: str
    jwks_path: str
    output: list[str] = field(default_factory=list)
    targets: tuple[str, ...] = ("token", "jwks")
    state_dir: Path | None = None  # mockauth's --keys-dir, for bench_login.py to watch

    @property
    def token_url(self) -> str:
        return self.base + self.token_path

    @property
    def jwks_url(self) -> str:
        return self.base + self.jwks_path

    def pids(self) -> list[int]:
        """The server process and all its descendants (uvicorn workers)."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / CLK_TCK

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        # The server runs in its own session: its group id is its pid. This ends the
        # workers too, should the supervisor have left any behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def _drain(
    proc: subprocess.Popen[str],
    sink: list[str],
    ready: re.Pattern[str],
    found: list[str],
    event: threading.Event,
) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        sink.append(line.rstrip("\n"))
        m = ready.search(line)
        if m and not found:
            found.append(m.group(1))
            event.set()
    event.set()


def _spawn(
    cmd: list[str], *, env: dict[str, str], cwd: Path, ready: str, timeout: float = 60
) -> tuple[subprocess.Popen[str], str, list[str]]:
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    sink: list[str] = []
    found: list[str] = []
    event = threading.Event()
    threading.Thread(
        target=_drain, args=(proc, sink, re.compile(ready), found, event), daemon=True
    ).start()
    event.wait(timeout)
    if not found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        tail = "\n".join(sink[-20:])
        raise RuntimeError(f"{' '.join(cmd)} did not start:\n{tail}")
    return proc, found[0], sink


def default_m2m_credentials() -> tuple[str, str, str, str]:
    """client_id, client_secret, audience and scope of the embedded default M2M app."""
    sys.path.insert(0, str(REPO))
    from mockauth.tenant.config import DEFAULT_CONFIG_TOML  # this checkout's, not an installed one

    doc = tomllib.loads(DEFAULT_CONFIG_TOML)
    app = next(a for a in doc["apps"] if a.get("type", "m2m") == "m2m")
    audience, scopes = next(
        (aud, scopes) for aud, scopes in app["apis"].items() if "{issuer}" not in aud
    )
    return app["client_id"], app["client_secret"], audience, " ".join(scopes[:2])


def m2m_token_body() -> str:
    """The client_credentials form mockauth's token endpoint is measured with."""
    client_id, secret, audience, scope = default_m2m_credentials()
    return urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "audience": audience,
            "scope": scope,
        }
    )


def start_mockauth(workers: int, tmp: Path, *, label: str = "mockauth", src: Path = REPO) -> Server:
    """``python -m mockauth serve`` with the package from ``src`` (default: this checkout)."""
    keys = tmp / f"keys-{label}-w{workers}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKAUTH_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    cmd = [
        sys.executable,
        "-m",
        "mockauth",
        "serve",
        "--port",
        "0",
        "--workers",
        str(workers),
        "--keys-dir",
        str(keys),
    ]
    proc, url, out = _spawn(cmd, env=env, cwd=tmp, ready=r"mockauth serving on (\S+)")
    name, body = f"{label} w{workers}", m2m_token_body()
    return Server(name, proc, url, "/oauth2/token", body, "/.well-known/jwks", out, state_dir=keys)


def start_sign_only(workers: int, tmp: Path) -> Server:
    """bench/sign_only.py: the same uvicorn stack answering tokens with one signature each.
    It gets mockauth's token body, so the request bytes are the same; it never parses it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKAUTH_")}
    cmd = [sys.executable, str(SIGN_ONLY_SCRIPT), "--port", "0", "--workers", str(workers)]
    proc, url, out = _spawn(cmd, env=env, cwd=tmp, ready=r"sign-only serving on (\S+)")
    body, name = m2m_token_body(), f"sign-only w{workers}"
    return Server(name, proc, url, "/oauth2/token", body, "/.well-known/jwks", out, ("token",))


def nginx_missing(skip: bool, targets: list[str]) -> str | None:
    """Why the nginx ceiling is not measured, or None when it is."""
    if skip:
        return "skipped (--no-nginx)"
    if "jwks" not in targets:
        return "JWKS not measured"
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        return "nginx is not installed (apt-get install -y nginx-light)"
    return None


def ensure_peer() -> str | None:
    """Install the peer into bench/node_modules if needed; None if it cannot run here."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None:
        return "node is not installed (apt-get install -y nodejs npm)"
    if not PEER_PACKAGE.exists():
        if npm is None:
            return "npm is not installed (apt-get install -y npm)"
        log("installing oauth2-mock-server into bench/node_modules (npm) ...")
        res = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"],
            cwd=BENCH_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0 or not PEER_PACKAGE.exists():
            return f"npm install failed: {(res.stderr or res.stdout).strip()[-400:]}"
    return None


def start_peer(tmp: Path) -> Server:
    proc, port, out = _spawn(
        ["node", str(PEER_SCRIPT), "0"],
        env=dict(os.environ),
        cwd=BENCH_DIR,
        ready=r"PEER_READY (\d+)",
    )
    body = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "aud": "https://api.example.com",
            "scope": "read:calendar update:event",
        }
    )
    return Server("peer", proc, f"http://127.0.0.1:{port}", "/token", body, "/jwks", out)


NGINX_CONF = """daemon off;
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path {tmp}/nginx-body;
  proxy_temp_path {tmp}/nginx-proxy;
  fastcgi_temp_path {tmp}/nginx-fastcgi;
  uwsgi_temp_path {tmp}/nginx-uwsgi;
  scgi_temp_path {tmp}/nginx-scgi;
  server {{
    listen 127.0.0.1:{port};
    location = /jwks {{ default_type application/json; return 200 '{body}'; }}
  }}
}}
"""


def start_nginx(tmp: Path, jwks: bytes, workers: int) -> Server:
    """nginx answering a fixed copy of mockauth's JWKS: what this machine and wrk can do at
    all for a small GET, the ceiling any server measured here runs into."""
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    with socket.socket() as probe:  # a free port; nginx cannot listen on port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conf = tmp / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(workers=workers, tmp=tmp, port=port, body=jwks.decode("ascii"))
    )
    proc = subprocess.Popen(
        [exe, "-c", str(conf), "-e", str(tmp / "nginx-error.log")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(base + "/jwks", timeout=1) as resp:
                if resp.read() == jwks:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"nginx did not start: {out[-400:]}")
        time.sleep(0.05)
    return Server(f"nginx w{workers}", proc, base, "", "", "/jwks", targets=("jwks",))


# --------------------------------------------------------------------------- checks


def _b64d(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def check_server(server: Server) -> str:
    """Fail unless the token endpoint answers a real 200 whose token verifies."""
    if "token" not in server.targets:
        with urllib.request.urlopen(server.jwks_url, timeout=10) as resp:
            keys = json.loads(resp.read())["keys"]
        return f"JWKS only ({len(keys)} key, a fixed copy of mockauth's)"
    req = urllib.request.Request(
        server.token_url,
        data=server.token_body.encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(
            f"{server.name}: token endpoint answered {exc.code}: {exc.read()[:300]!r}"
        ) from exc
    if status != 200:
        raise RuntimeError(f"{server.name}: token endpoint answered {status}")
    token = json.loads(raw)["access_token"]
    with urllib.request.urlopen(server.jwks_url, timeout=10) as resp:
        if resp.status != 200:
            raise RuntimeError(f"{server.name}: JWKS answered {resp.status}")
        jwks = json.loads(resp.read())
    header = json.loads(_b64d(token.split(".")[0]))
    if header.get("alg") != "RS256":
        raise RuntimeError(f"{server.name}: token alg is {header.get('alg')!r}, not RS256")
    try:
        import jwt  # PyJWT, a mockauth dependency
    except ImportError:
        return "200, RS256 (PyJWT missing: signature not checked)"
    jwk = next((k for k in jwks["keys"] if k.get("kid") == header.get("kid")), None)
    if jwk is None:
        raise RuntimeError(f"{server.name}: token kid {header.get('kid')!r} not in its JWKS")
    key = jwt.PyJWK(jwk).key
    claims = jwt.decode(
        token, key, algorithms=["RS256"], options={"verify_aud": False, "verify_iss": False}
    )
    return f"200, RS256 signature verifies against its JWKS, aud={claims.get('aud')}"


# --------------------------------------------------------------------------- wrk


def machine_busy_seconds() -> float:
    """CPU-seconds all cores have spent busy since boot (from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def background_load(seconds: float = 2.0) -> float:
    """Cores kept busy by other processes while this benchmark is idle."""
    before, t0 = machine_busy_seconds(), time.monotonic()
    time.sleep(seconds)
    return (machine_busy_seconds() - before) / (time.monotonic() - t0)


@dataclass
class Run:
    server: str
    target: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    socket_errors: int
    first_bad: str
    server_cpu: float  # cores used by the server process tree during the run
    wrk_cpu: float  # cores used by wrk during the run
    other_cpu: float  # cores busy with anything else (other processes, loopback softirq)

    @property
    def per_cpu_second(self) -> float:
        """Requests per CPU-second of the server: its cost per request, robust to noise."""
        return self.rps / self.server_cpu if self.server_cpu > 0 else 0.0


def run_wrk(server: Server, target: str, conc: int, seconds: float) -> Run:
    url = server.token_url if target == "token" else server.jwks_url
    env = dict(
        os.environ,
        BENCH_METHOD="POST" if target == "token" else "GET",
        BENCH_BODY=server.token_body if target == "token" else "",
    )
    threads = min(conc, 2)
    cmd = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(conc),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA),
        url,
    ]
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy_before = machine_busy_seconds()
    server_before, t0 = server.cpu_seconds(), time.monotonic()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t0
    server_after = server.cpu_seconds()
    busy = machine_busy_seconds() - busy_before
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if res.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({res.returncode}): {res.stderr or res.stdout}")
    r = json.loads(line.removeprefix("BENCH_RESULT "))
    wrk_cpu = (
        after_children.ru_utime
        + after_children.ru_stime
        - before_children.ru_utime
        - before_children.ru_stime
    )
    return Run(
        server=server.name,
        target=target,
        concurrency=conc,
        rps=r["requests"] / (r["duration_us"] / 1e6),
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        requests=r["requests"],
        non2xx=r["non2xx"],
        socket_errors=r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"],
        first_bad=r["first_bad"],
        server_cpu=(server_after - server_before) / wall,
        wrk_cpu=wrk_cpu / wall,
        other_cpu=max(0.0, busy - (server_after - server_before) - wrk_cpu) / wall,
    )


# --------------------------------------------------------------------------- openssl


def openssl_sign_limit(cores: int, seconds: int) -> float | None:
    exe = shutil.which("openssl")
    if exe is None:
        return None
    res = subprocess.run(
        [exe, "speed", "-multi", str(cores), "-seconds", str(seconds), "rsa2048"],
        capture_output=True,
        text=True,
        check=False,
    )
    # "rsa 2048 bits 0.000136s 0.000009s   7327.3 115750.0" (sign, verify, sign/s, verify/s)
    m = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", res.stdout, re.M)
    return float(m.group(1)) if m else None


# --------------------------------------------------------------------------- report


def best(runs: list[Run]) -> Run:
    return max(runs, key=lambda r: r.rps)


def print_table(results: dict[tuple[str, str, int], list[Run]]) -> None:
    head = (
        f"{'target':<22} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'requests':>9} {'non-2xx':>8} {'sock err':>8} {'srv CPU':>7} {'wrk CPU':>7} "
        f"{'req/CPU-s':>9} {'other':>6}  "
        f"{'all runs req/s':<s}"
    )
    print(head)
    print("-" * len(head))
    last = None
    for (name, target, conc), runs in results.items():
        if last is not None and (name, target) != last:
            print()
        last = (name, target)
        b = best(runs)
        non2xx = sum(r.non2xx for r in runs)
        sock = sum(r.socket_errors for r in runs)
        label = f"{name} {target}"
        spread = " / ".join(f"{r.rps:,.0f}" for r in runs)
        print(
            f"{label:<22} {conc:>4} {b.rps:>9,.0f} {b.p50_ms:>8.2f} {b.p99_ms:>8.2f} "
            f"{sum(r.requests for r in runs):>9,} {non2xx:>8} {sock:>8} "
            f"{b.server_cpu:>6.2f}c {b.wrk_cpu:>6.2f}c {b.per_cpu_second:>9,.0f} "
            f"{b.other_cpu:>5.2f}c  {spread}"
        )
        for r in runs:
            if r.first_bad:
                print(f"{'':<27}first non-2xx: {r.first_bad}")


def peak(results: dict[tuple[str, str, int], list[Run]], name: str, target: str) -> Run | None:
    runs = [best(v) for (n, t, _), v in results.items() if n == name and t == target]
    return max(runs, key=lambda r: r.rps) if runs else None


def ratio_line(
    label: str, num: Run | None, den: float | None, den_label: str, target: float, pct: bool = False
) -> dict[str, Any] | None:
    if num is None or not den:
        print(f"  {label:<44} n/a ({den_label} not measured)")
        return None
    value = num.rps / den
    ok = value >= target
    shown = f"{value:.0%}" if pct else f"{value:.2f}x"
    goal = f">= {target:.0%}" if pct else f">= {target:g}x"
    print(
        f"  {label:<44} {num.rps:>8,.0f} / {den:>8,.0f} = {shown:>6}  "
        f"(target {goal}: {'MET' if ok else 'MISSED'})  [{den_label}]"
    )
    return {"label": label, "value": value, "target": target, "met": ok}


def print_ratios(
    results: dict[tuple[str, str, int], list[Run]],
    workers: list[int],
    labels: list[str],
    signing: float | None,
) -> list[dict[str, Any]]:
    """The issue's targets for each measured mockauth (the one that counts: --workers 2),
    then the openssl limit and the nginx ceiling as information."""
    print("targets (peak req/s over the concurrencies):")
    ratios: list[dict[str, Any] | None] = []
    ptok, pjw = peak(results, "peer", "token"), peak(results, "peer", "jwks")
    for w in workers:
        sign_only = peak(results, f"sign-only w{w}", "token")
        for label in ["mockauth", *labels]:
            name = f"{label} w{w}"
            tok, jw = peak(results, name, "token"), peak(results, name, "jwks")
            ratios += [
                ratio_line(f"{name} token / peer token", tok, rps(ptok), "peer", TOKEN_VS_PEER),
                ratio_line(
                    f"{name} token / sign-only w{w} token",
                    tok,
                    rps(sign_only),
                    "sign-only",
                    TOKEN_VS_SIGN_ONLY,
                    pct=True,
                ),
                ratio_line(f"{name} JWKS / peer JWKS", jw, rps(pjw), "peer", JWKS_VS_PEER),
            ]
    print("information:")
    for w in workers:
        tok = peak(results, f"mockauth w{w}", "token")
        if tok is not None and signing:
            print(
                f"  {f'mockauth w{w} token / openssl sign limit':<44} {tok.rps:>8,.0f} / "
                f"{signing:>8,.0f} = {tok.rps / signing:>6.0%}  (no target: openssl alone, "
                "no HTTP)"
            )
    fixed = [n for (n, t, _) in results if n.startswith("nginx") and t == "jwks"]
    ceiling = peak(results, fixed[0], "jwks") if fixed else None
    if ceiling is not None and pjw is not None:
        print(
            f"  {'ceiling: nginx JWKS / peer JWKS':<44} {ceiling.rps:>8,.0f} / {pjw.rps:>8,.0f}"
            f" = {ceiling.rps / pjw.rps:>5.2f}x  (a fixed body from C: the most any server"
            " reaches here)"
        )
    return [r for r in ratios if r]


def rps(run: Run | None) -> float | None:
    return run.rps if run else None


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=6, help="whole seconds per wrk run (6)")
    ap.add_argument(
        "--repeat", type=int, default=2, help="rounds; each figure is the best round (2)"
    )
    ap.add_argument("--concurrency", default="1,8,32", help="comma list (1,8,32)")
    ap.add_argument("--workers", default="2,1", help="mockauth --workers values (2,1)")
    ap.add_argument("--no-peer", action="store_true", help="measure mockauth alone")
    ap.add_argument(
        "--no-sign-only", action="store_true", help="skip the sign-only server (bench/sign_only.py)"
    )
    ap.add_argument("--no-openssl", action="store_true", help="skip openssl speed")
    ap.add_argument(
        "--no-nginx", action="store_true", help="skip the nginx JWKS ceiling (when installed)"
    )
    ap.add_argument("--quick", action="store_true", help="one round of 3 s runs")
    ap.add_argument("--targets", default="token,jwks", help="comma list (token,jwks)")
    ap.add_argument(
        "--src",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="also measure the mockauth package found in DIR (a scratch copy "
        "with a change to try), labelled LABEL, interleaved with this checkout",
    )
    args = ap.parse_args()
    if args.quick:
        args.duration, args.repeat = 3, 1
    concs = [int(c) for c in args.concurrency.split(",")]
    workers = [int(w) for w in args.workers.split(",")]
    targets = [t for t in args.targets.split(",") if t]
    extra = [(lbl, Path(d).resolve()) for lbl, _, d in (x.partition("=") for x in args.src)]
    cores = os.cpu_count() or 1

    if shutil.which("wrk") is None:
        log("bench: wrk is not installed; install it with: apt-get install -y wrk")
        return 2

    signing = None
    signing_runs: list[float] = []
    if not args.no_openssl:
        for _ in range(2):  # best of two: a busy machine only ever lowers it
            log(f"openssl speed -multi {cores} -seconds 3 rsa2048 ...")
            value = openssl_sign_limit(cores, 3)
            if value:
                signing_runs.append(value)
        signing = max(signing_runs, default=None)

    peer_note = "skipped (--no-peer)" if args.no_peer else ensure_peer()
    bg = background_load()
    log(f"background load (other processes, before starting servers): {bg:.2f} cores")
    servers: list[Server] = []
    results: dict[tuple[str, str, int], list[Run]] = {}
    checks: dict[str, str] = {}
    tmp = Path(tempfile.mkdtemp(prefix="mockauth-bench-"))
    try:
        for w in workers:
            log(f"starting mockauth --workers {w} ...")
            servers.append(start_mockauth(w, tmp))
            for lbl, src in extra:
                log(f"starting {lbl} (mockauth from {src}) --workers {w} ...")
                servers.append(start_mockauth(w, tmp, label=lbl, src=src))
            if not args.no_sign_only and "token" in targets:
                log(f"starting the sign-only server --workers {w} ...")
                servers.append(start_sign_only(w, tmp))
        if peer_note is None:
            log("starting oauth2-mock-server ...")
            servers.append(start_peer(tmp))
        nginx_note = nginx_missing(args.no_nginx, targets)
        if nginx_note is None:
            log("starting nginx (the JWKS ceiling) ...")
            with urllib.request.urlopen(servers[0].jwks_url, timeout=10) as resp:
                servers.append(start_nginx(tmp, resp.read(), max(workers)))
        for s in servers:
            checks[s.name] = check_server(s)
            log(f"  {s.name} at {s.base}: {checks[s.name]}")
        # Warm up every endpoint (worker imports, JIT, connection pools) before measuring.
        for s in servers:
            for target in targets:
                if target in s.targets:
                    run_wrk(s, target, 8, 1)
        plan = [(s, t, c) for s in servers for t in targets if t in s.targets for c in concs]
        total = len(plan) * args.repeat * args.duration
        log(
            f"measuring {len(plan)} cells x {args.repeat} rounds x {args.duration:g} s "
            f"(~{total / 60:.1f} min) ..."
        )
        # Rounds interleave the servers, so drifting background load hits all of them alike.
        for rnd in range(args.repeat):
            for s, t, c in plan:
                r = run_wrk(s, t, c, args.duration)
                results.setdefault((s.name, t, c), []).append(r)
                log(
                    f"  round {rnd + 1}: {s.name:<12} {t:<5} c={c:<3} {r.rps:>9,.0f} req/s "
                    f"p50 {r.p50_ms:.2f} ms p99 {r.p99_ms:.2f} ms non-2xx {r.non2xx} "
                    f"sock-err {r.socket_errors}"
                )
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(
        f"mockauth load benchmark  ({cores} cores, wrk, {args.duration:g} s per run, "
        f"best of {args.repeat} rounds;"
        " srv/wrk CPU in cores used; req/CPU-s = req/s per server core)"
    )
    print(
        f"  background load before the run: {bg:.2f} of {cores} cores busy with other "
        "processes" + ("  <-- busy machine: figures are low and noisy" if bg > 0.25 else "")
    )
    for name, note in checks.items():
        print(f"  token check {name}: {note}")
    if peer_note:
        print(f"  peer (oauth2-mock-server): not measured: {peer_note}")
    if nginx_note:
        print(f"  nginx (JWKS ceiling): not measured: {nginx_note}")
    print()
    print_table(results)
    errors = sum(r.non2xx + r.socket_errors for runs in results.values() for r in runs)
    print()
    print(
        f"error check: {errors} non-2xx responses or socket errors over "
        f"{sum(r.requests for runs in results.values() for r in runs):,} requests"
        + ("" if errors == 0 else "  <-- NOT CLEAN")
    )
    sign_txt = f"{signing:,.0f} signs/s" if signing else "n/a"
    if len(signing_runs) > 1:
        sign_txt += " (best of " + " / ".join(f"{v:,.0f}" for v in signing_runs) + ")"
    print(f"RSA-2048 signing limit (openssl speed -multi {cores} -seconds 3 rsa2048): {sign_txt}")
    print()
    ratios = print_ratios(results, workers, [lbl for lbl, _ in extra], signing)
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / time.strftime("bench-%Y%m%d-%H%M%S.json")
    out.write_text(
        json.dumps(
            {
                "cores": cores,
                "background_load": bg,
                "duration": args.duration,
                "repeat": args.repeat,
                "openssl_sign_per_s": signing,
                "openssl_runs": signing_runs,
                "checks": checks,
                "peer_note": peer_note,
                "nginx_note": nginx_note,
                "runs": [
                    asdict(r) | {"per_cpu_second": r.per_cpu_second}
                    for runs in results.values()
                    for r in runs
                ],
                "ratios": ratios,
            },
            indent=2,
        )
    )
    print(f"\nraw results: {out.relative_to(REPO)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

"""Fuzz the admin API (/_mockauth/) against its own OpenAPI document with schemathesis.

    python fuzz/fuzz_admin.py                          # a server of its own, 200 examples
    python fuzz/fuzz_admin.py --examples 2000 --seed 7
    python fuzz/fuzz_admin.py --url http://127.0.0.1:8400 [--secret S]   # a running server

Every schemathesis check is on: no 5xx; status codes, content types, headers and bodies as
documented; a body the document admits never gets a 400 and one it refuses never a 2xx; a
405 lists the path's methods; no Authorization needed on loopback without a secret. It runs
the coverage (every documented boundary, and just past it), fuzzing and stateful phases,
then prints the operations tested, the test cases generated and the failures found. The
exit status is schemathesis's: 0 when nothing failed. tests/e2e/test_admin_api.py runs it
in CI with a few examples.

Fault rules accumulate as the fuzzer adds them, and every change re-reads them all: past a
few hundred, each request costs tens of milliseconds. So this file is also a schemathesis
hooks module (SCHEMATHESIS_HOOKS=fuzz_admin) that clears them now and then.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

OPENAPI = "/_mockauth/openapi.json"
FAULTS = "/_mockauth/faults"
KEEP_AT_MOST = 200  # fault rules added before the hook clears them
_added = 0


def _install_hook() -> None:
    import schemathesis

    @schemathesis.hook
    def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
        """Before every KEEP_AT_MOST-th POST of fault rules, delete every rule. (Before, not
        after: a rule just created stays for the checks that look it up.)"""
        global _added
        if case.method.upper() != "POST" or case.path != FAULTS:
            return
        _added += 1
        if _added % KEEP_AT_MOST == 0:
            secret = os.environ.get("FUZZ_ADMIN_SECRET")
            headers = {"Authorization": f"Bearer {secret}"} if secret else {}
            url = os.environ["FUZZ_ADMIN_URL"] + FAULTS
            request = urllib.request.Request(url, method="DELETE", headers=headers)
            with urllib.request.urlopen(request, timeout=30) as answer:
                answer.read()


if os.environ.get("SCHEMATHESIS_HOOKS") == "fuzz_admin" and __name__ != "__main__":
    _install_hook()


def run(url: str, *, examples: int, seed: int | None, secret: str | None) -> int:
    """Run schemathesis against the server at ``url``; print its figures; its exit status."""
    command = [sys.executable, "-m", "schemathesis.cli", "run", url + OPENAPI]
    command += ["--checks", "all", "--no-color", "--suppress-health-check", "all"]
    command += ["--max-examples", str(examples)]
    if seed is not None:
        command += ["--seed", str(seed)]
    if secret is not None:
        command += ["--header", f"Authorization: Bearer {secret}"]
    here = str(Path(__file__).resolve().parent)
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "fuzz_admin",
        "PYTHONPATH": path,
        "NO_COLOR": "1",
        "FUZZ_ADMIN_URL": url,
        "FUZZ_ADMIN_SECRET": secret or "",
    }
    with tempfile.TemporaryDirectory(prefix="fuzz-admin-") as scratch:  # .hypothesis lands here
        done = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True)
    output = done.stdout + done.stderr
    summary = output[output.find("SUMMARY") :] if "SUMMARY" in output else output[-5000:]
    if done.returncode != 0:
        print(output[-40_000:])
    print(summary.strip())
    print(figures(output))
    return done.returncode


def figures(output: str) -> str:
    """One line: operations tested, test cases generated, failures found."""
    tested = re.search(r"Tested: (\d+)", output)
    generated = re.search(r"(\d+) generated", output)
    found = re.search(r"(\d+) unique failures", output)
    return (
        f"fuzz_admin: operations={tested.group(1) if tested else '?'} "
        f"cases={generated.group(1) if generated else '?'} "
        f"failures={found.group(1) if found else 0}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", help="a running mockauth server (default: start one)")
    parser.add_argument("--secret", help="its admin secret, if it has one")
    parser.add_argument("--examples", type=int, default=200, help="per operation and phase")
    parser.add_argument("--seed", type=int, help="replay a run (default: a fresh one)")
    args = parser.parse_args()
    if args.url:
        return run(args.url, examples=args.examples, seed=args.seed, secret=args.secret)
    from mockauth.http.server import ServerThread

    with ServerThread() as server:
        return run(server.url, examples=args.examples, seed=args.seed, secret=None)


if __name__ == "__main__":
    sys.exit(main())

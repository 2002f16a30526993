"""What the browser tests run on: Debian's Chromium driven by Playwright, Kinde's browser SDK
and oauth4webapi from .ci/node (installed by .ci/run), test pages served from loopback, a
mock server whose issuer and pages use hostnames that Chromium maps to 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / ".ci" / "node" / "node_modules"
PAGES = Path(__file__).with_name("browser_pages")
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
SCRIPTS = {
    "kinde-auth-pkce-js.esm.js": NODE
    / "@kinde-oss/kinde-auth-pkce-js/dist/kinde-auth-pkce-js.esm.js",
    "oauth4webapi.js": NODE / "oauth4webapi/build/index.js",
}
INSTALL = (
    "npm install --prefix .ci/node --no-audit --no-fund "
    "@kinde-oss/kinde-auth-pkce-js@4.5.1 oauth4webapi@3.8.9 (as .ci/run does)"
)
# The page and the mock on two hosts of one site, both on loopback: the SDK's cookie mode,
# with the cookie on the mock's own host, as on a Kinde custom domain.
APP_HOST, AUTH_HOST = "app.mock.test", "auth.mock.test"


def require_browser_kit() -> None:
    """Fail with what to do when Chromium or the npm packages are missing."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is needed: apt-get install -y chromium (as .ci/run does)")
    missing = [str(path) for path in SCRIPTS.values() if not path.exists()]
    if missing:
        pytest.fail(f"missing {missing}: {INSTALL}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class AppThread:
    """An ASGI app served by uvicorn on 127.0.0.1:``port`` in a thread."""

    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> AppThread:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "app did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def page_server(config: dict[str, Any]) -> Starlette:
    """Serves the test pages and the SDK files; ``/config.js`` tells a page where the mock is."""

    async def page(request: Request) -> Response:
        name = request.path_params["name"]
        if name in SCRIPTS:
            return FileResponse(SCRIPTS[name], media_type="text/javascript")
        path = PAGES / name
        if name == "config.js":
            import json

            body = f"window.CFG = {json.dumps(config)};"
            return Response(body, media_type="text/javascript")
        if path.parent != PAGES or not path.is_file():
            return Response("not found", 404)
        return FileResponse(path, media_type="text/html")

    return Starlette(routes=[Route("/{name}", page)])


def launch(playwright: Any, *, secure_origins: list[str]) -> Any:
    """Debian's Chromium, headless; the test hostnames map to loopback and count as secure
    (the SDK needs crypto.subtle)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[
            "--host-resolver-rules=MAP *.mock.test 127.0.0.1",
            "--unsafely-treat-insecure-origin-as-secure=" + ",".join(secure_origins),
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
        ],
    )


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def wait_for(page: Any, expression: str, timeout: float = 15_000) -> Any:
    page.wait_for_function(expression, timeout=timeout)
    return page.evaluate(expression)


def console_errors(page: Any) -> list[str]:
    """Collect the page's errors (a refused refresh's 400 in the console is expected)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors

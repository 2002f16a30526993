"""Browser apps against the mock in a real headless Chromium (Debian's, driven by Playwright):
a SPA on Kinde's own browser SDK, a SPA on oauth4webapi, and a server-rendered web app sign in
through the login page, call the user profile, survive a reload, refresh from two tabs at
once, switch organisation with prompt=none, sign up with a new organisation and sign out.
Screenshots of every page go to test-artifacts/browser/."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from mockauth import paths
from mockauth.http.server import ServerThread
from mockauth.tenant.config import parse_config
from tests.e2e.browser_kit import (
    APP_HOST,
    AUTH_HOST,
    AppThread,
    free_port,
    launch,
    page_server,
    require_browser_kit,
    screenshot,
    wait_for,
)

SPA_ID = "5ba" + "0" * 29
WEB_ID, WEB_SECRET = "3eb" + "0" * 29, "W" * 48
ORG_A, ORG_B = "org_a1111111111", "org_b2222222222"


@dataclass(frozen=True)
class Setup:
    mock: ServerThread  # reached by the tests and the web app at 127.0.0.1
    domain: str  # the issuer, as the browser reaches it: http://auth.mock.test:PORT
    spa: str  # the SPA pages' origin: http://app.mock.test:PORT
    web: str  # the server-rendered app's origin


def config(spa: str, web: str) -> bytes:
    return f"""
login_page = true
[lifetimes]
access_token = 3600

[[apis]]
audience = "https://api.example.com"

[[apps]]
name = "Browser SPA"
type = "spa"
client_id = "{SPA_ID}"
redirect_uris = ["{spa}/pkce.html", "{spa}/oauth.html"]
logout_uris = ["{spa}/pkce.html", "{spa}/oauth.html"]

[[apps]]
name = "Server-rendered app"
type = "regular"
client_id = "{WEB_ID}"
client_secret = "{WEB_SECRET}"
redirect_uris = ["{web}/callback"]
logout_uris = ["{web}/"]

[[orgs]]
code = "{ORG_A}"
name = "Alpha"

[[orgs]]
code = "{ORG_B}"
name = "Beta"

[[users]]
email = "jane@example.com"
given_name = "Jane"
family_name = "Doe"
orgs = ["{ORG_A}", "{ORG_B}"]

[[users]]
email = "bob@example.com"
given_name = "Bob"
orgs = ["{ORG_A}"]
""".encode()


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    require_browser_kit()
    auth, spa_port, web_port = free_port(), free_port(), free_port()
    domain = f"http://{AUTH_HOST}:{auth}"
    spa, web = f"http://{APP_HOST}:{spa_port}", f"http://{APP_HOST}:{web_port}"
    parsed = parse_config(config(spa, web), source="browser.toml")
    with ServerThread(parsed, port=auth, issuer=domain) as mock:
        cfg = {"domain": domain, "client_id": SPA_ID, "spa": spa, "second_org": ORG_B}
        pages, app = page_server(cfg), web_app(mock.url, domain, web)
        with AppThread(pages, spa_port), AppThread(app, web_port):
            yield Setup(mock, domain, spa, web)


@pytest.fixture(scope="module")
def browser(setup: Setup) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = launch(playwright, secure_origins=[setup.domain, setup.spa, setup.web])
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Any, setup: Setup) -> Iterator[Any]:
    """A fresh profile per test; the mock's journal and added users start afresh too."""
    setup.mock.tenant.reset()
    ctx = browser.new_context()
    yield ctx
    ctx.close()


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


def pick(page: Any, email: str) -> None:
    """On the mock's login page, sign in as ``email``."""
    page.wait_for_selector("a.choice")
    page.click(f"a.choice:has-text('{email}')")


# --- Kinde's browser SDK (kinde-auth-pkce-js) ---------------------------------------------------


def pkce_page(context: Any, setup: Setup) -> Any:
    page = context.new_page()
    page.goto(setup.spa + "/pkce.html")
    wait_for(page, "window.kindeReady === true")
    return page


def test_kindes_sdk_signs_in_reloads_switches_org_and_signs_out(context: Any, setup: Setup) -> None:
    page = pkce_page(context, setup)
    page.click("#login")
    page.wait_for_url(f"{setup.domain}{paths.AUTHORIZE}*")
    screenshot(page, "login-page")
    pick(page, "jane@example.com")
    assert wait_for(page, "window.kindeEvent") == "redirect", page.evaluate("window.kindeError")
    assert page.evaluate("kinde.getUser()")["email"] == "jane@example.com"
    assert page.evaluate("kinde.getOrganization()")["orgCode"] == ORG_A
    screenshot(page, "spa-signed-in")
    # The user profile, fetched by the page with its bearer token (a preflighted request).
    profile = page.evaluate("profile()")
    assert profile == {"status": 200, "body": {**profile["body"], "email": "jane@example.com"}}
    # A reload restores the session from the SDK's refresh cookie (_kbrte) at the mock.
    page.reload()
    assert wait_for(page, "window.kindeEvent") == "restore"
    assert page.evaluate("kinde.isAuthenticated()") is True
    # Switch organisation without a page: prompt=none with the mock's sign-in session.
    page.click("#switch")
    assert wait_for(page, "window.kindeEvent") == "redirect", page.evaluate("window.kindeError")
    assert page.evaluate("kinde.getOrganization()")["orgCode"] == ORG_B
    # Sign out ends the session: a silent sign-in afterwards is login_required.
    page.click("#logout")
    wait_for(page, "window.kindeReady === true")
    assert page.evaluate("kinde.isAuthenticated()") is False
    page.click("#silent")
    error = wait_for(page, "window.kindeError")
    assert error["errorDescription"] == "login_required", error


def test_kindes_sdk_in_two_tabs_refreshing_at_once_stays_signed_in(
    context: Any, setup: Setup
) -> None:
    first = pkce_page(context, setup)
    first.click("#login")
    pick(first, "bob@example.com")
    assert wait_for(first, "window.kindeEvent") == "redirect"
    setup.mock.tenant.journal.clear()  # before: a fresh page's refresh without a cookie (400)
    second = context.new_page()
    # Both tabs load at once: each restores the session with the same refresh cookie.
    second.goto(setup.spa + "/pkce.html", wait_until="commit")
    first.reload(wait_until="commit")
    for tab in (first, second):
        assert wait_for(tab, "window.kindeEvent") == "restore", tab.evaluate("window.kindeError")
        assert tab.evaluate("kinde.getUser()")["email"] == "bob@example.com"
    # Kinde's SDK may share one tab's refresh with the other (BroadcastChannel); every
    # refresh that reached the mock succeeded (two at once: the oauth4webapi test below).
    refreshes = [
        e.status
        for e in setup.mock.tenant.journal.entries(path=paths.TOKEN)
        if e.grant_type == "refresh_token"
    ]
    assert refreshes and set(refreshes) == {200}


def test_kindes_sdk_signs_up_a_user_with_a_new_organization(context: Any, setup: Setup) -> None:
    page = pkce_page(context, setup)
    page.click("#create-org")
    page.wait_for_selector("input#email")
    assert page.input_value("input#org_name") == "Acme Widgets"
    screenshot(page, "sign-up-page")
    page.fill("input#email", "new@example.com")
    page.fill("input#given_name", "Nova")
    page.fill("input#family_name", "Kim")
    page.click("button")
    assert wait_for(page, "window.kindeEvent") == "redirect", page.evaluate("window.kindeError")
    user = page.evaluate("kinde.getUser()")
    assert (user["email"], user["given_name"]) == ("new@example.com", "Nova")
    org = page.evaluate("kinde.getOrganization()")["orgCode"]
    tenant = setup.mock.tenant
    assert tenant.org(org) is not None and tenant.org(org).name == "Acme Widgets"  # type: ignore[union-attr]
    assert [u.orgs for u in tenant.config.users if u.email == "new@example.com"] == [(org,)]


def test_a_page_of_another_origin_cannot_read_the_token_endpoint(
    context: Any, setup: Setup
) -> None:
    page = context.new_page()
    page.goto(setup.web + "/")  # the web app's origin is not one of the SPA's
    result = page.evaluate(
        """async ([url, client]) => {
          try {
            await fetch(url, {method: "POST", body: new URLSearchParams({grant_type:
              "refresh_token", client_id: client, refresh_token: "x"})});
            return "read";
          } catch (e) { return "blocked"; }
        }""",
        [setup.domain + paths.TOKEN, SPA_ID],
    )
    assert result == "blocked"
    (entry,) = setup.mock.tenant.journal.entries(path=paths.TOKEN)
    assert entry.note is not None and "is not one of app" in entry.note


# --- oauth4webapi --------------------------------------------------------------------------------


def oauth_page(context: Any, setup: Setup) -> Any:
    page = context.new_page()
    page.goto(setup.spa + "/oauth.html")
    wait_for(page, "window.ready === true")
    return page


def test_oauth4webapi_signs_in_reloads_refreshes_switches_and_signs_out(
    context: Any, setup: Setup
) -> None:
    page = oauth_page(context, setup)
    page.click("#login")
    pick(page, "jane@example.com")
    assert wait_for(page, "window.event") == "signed-in"
    assert page.evaluate("claims()")["org_code"] == ORG_A
    profile = page.evaluate("profile()")
    assert profile["status"] == 200 and profile["body"]["email"] == "jane@example.com"
    page.reload()
    assert wait_for(page, "window.event") == "restored"
    # Two tabs refresh at once with the same refresh token: both get tokens (grace period).
    other = oauth_page(context, setup)
    assert other.evaluate("window.event") == "restored"
    both = page.evaluate(
        """async () => {
          const rt = localStorage.getItem("rt");
          const send = () => fetch(CFG.domain + "/oauth2/token", {method: "POST",
            body: new URLSearchParams({grant_type: "refresh_token", client_id: CFG.client_id,
              refresh_token: rt})}).then(r => r.status);
          return Promise.all([send(), send()]);
        }"""
    )
    assert both == [200, 200]
    page.click("#switch")
    assert wait_for(page, "window.event") == "signed-in"
    assert page.evaluate("claims()")["org_code"] == ORG_B
    page.click("#logout")
    wait_for(page, "window.ready === true")
    assert page.inner_text("#who") == "not signed in"
    page.click("#switch")  # prompt=none after sign-out
    assert wait_for(page, "window.event") == "error:login_required"


def test_oauth4webapi_signs_up_with_a_new_organization(context: Any, setup: Setup) -> None:
    page = oauth_page(context, setup)
    page.click("#signup")
    page.wait_for_selector("input#email")
    page.fill("input#email", "maker@example.com")
    page.click("button")
    assert wait_for(page, "window.event") == "signed-in"
    org = page.evaluate("claims()")["org_code"]
    assert setup.mock.tenant.org(org).name == "Beta Labs"  # type: ignore[union-attr]
    # A bad email is shown on the page, with the form to correct it.
    page.click("#signup")
    page.fill("input#email", "maker@example.com")  # taken now
    page.click("button")
    page.wait_for_selector(".error")
    assert "already has an account" in page.inner_text(".error")
    screenshot(page, "sign-up-error")


# --- a server-rendered web app -------------------------------------------------------------------


def web_app(mock: str, issuer: str, origin: str) -> Starlette:
    """A back-end app: it redirects to the mock, exchanges the code server-side with its
    secret, keeps a session, and signs out through the mock's /logout."""
    sessions: dict[str, str] = {}

    async def home(request: Request) -> Response:
        email = sessions.get(request.cookies.get("sid", ""))
        if email is None:
            return HTMLResponse('<h1>Web app</h1><a id="login" href="/login">Sign in</a>')
        return HTMLResponse(f'<h1>Hello {email}</h1><a id="logout" href="/logout">Sign out</a>')

    async def login(request: Request) -> Response:
        query = {
            "response_type": "code",
            "client_id": WEB_ID,
            "redirect_uri": origin + "/callback",
            "scope": "openid email profile",
            "state": "s1",
        }
        return RedirectResponse(f"{issuer}{paths.AUTHORIZE}?{urlencode(query)}")

    async def callback(request: Request) -> Response:
        form = {
            "grant_type": "authorization_code",
            "code": request.query_params["code"],
            "redirect_uri": origin + "/callback",
        }
        async with httpx.AsyncClient() as client:
            answer = await client.post(mock + paths.TOKEN, data=form, auth=(WEB_ID, WEB_SECRET))
        sid = secrets.token_urlsafe(16)
        sessions[sid] = claims(answer.json()["id_token"])["email"]
        response = RedirectResponse("/")
        response.set_cookie("sid", sid, httponly=True)
        return response

    async def logout(request: Request) -> Response:
        sessions.pop(request.cookies.get("sid", ""), None)
        return RedirectResponse(f"{issuer}{paths.LOGOUT}?redirect={origin}/")

    return Starlette(
        routes=[
            Route("/", home),
            Route("/login", login),
            Route("/callback", callback),
            Route("/logout", logout),
        ]
    )


def test_a_server_rendered_app_signs_in_and_out(context: Any, setup: Setup) -> None:
    page = context.new_page()
    page.goto(setup.web + "/")
    page.click("#login")
    pick(page, "bob@example.com")
    page.wait_for_selector("#logout")
    assert page.inner_text("h1") == "Hello bob@example.com"
    page.click("#logout")
    page.wait_for_selector("#login")
    assert page.url == setup.web + "/"


# --- pages a person uses -----------------------------------------------------------------------


def test_the_login_page_works_from_the_keyboard_on_a_phone(browser: Any, setup: Setup) -> None:
    setup.mock.tenant.reset()
    phone = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True)
    try:
        page = phone.new_page()
        page.goto(setup.spa + "/oauth.html")
        wait_for(page, "window.ready === true")
        page.click("#login")
        page.wait_for_selector("a.choice")
        assert page.locator('meta[name="viewport"]').count() == 1
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375  # nothing wider than the phone
        screenshot(page, "login-page-phone")
        page.keyboard.press("Tab")  # the first user, focused
        assert page.evaluate("document.activeElement.className") == "choice"
        page.keyboard.press("Enter")
        assert wait_for(page, "window.event") == "signed-in"
    finally:
        phone.close()


def test_the_device_pages_lead_a_person_through_and_back(context: Any, setup: Setup) -> None:
    tenant = setup.mock.tenant
    tenant.put_app({"name": "Living-room TV", "type": "device", "client_id": "7" * 32})
    started = httpx.post(
        setup.mock.url + paths.DEVICE_AUTH, data={"client_id": "7" * 32, "scope": "openid"}
    ).json()
    page = context.new_page()
    page.goto(setup.domain + paths.DEVICE)
    screenshot(page, "device-code-form")
    page.fill("input#user_code", "BBBBBBBB")  # mistyped
    page.press("input#user_code", "Enter")
    page.wait_for_selector(".error")
    assert "No device is waiting" in page.inner_text(".error")
    screenshot(page, "device-code-unknown")
    page.click("text=Try again")
    page.fill("input#user_code", started["user_code"])
    page.click("button")
    assert page.inner_text(".app") == "Living-room TV is asking"
    pick(page, "jane@example.com")
    page.wait_for_selector("h1:has-text('Device connected')")
    screenshot(page, "device-connected")
    token = httpx.post(
        setup.mock.url + paths.TOKEN,
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": started["device_code"],
            "client_id": "7" * 32,
        },
    )
    assert token.status_code == 200, token.text


def test_signing_out_without_a_redirect_shows_a_page(context: Any, setup: Setup) -> None:
    page = context.new_page()
    page.goto(setup.domain + paths.LOGOUT)
    assert page.inner_text("h1") == "Signed out"
    screenshot(page, "signed-out")

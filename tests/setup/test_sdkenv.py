"""The variables each Kinde SDK reads (mockauth env), without a server: names, formats,
which app, and the warnings about callbacks and audiences."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mockauth.setup.sdkenv import SDKS, Target, choose_app, render, sdk_variables, warnings
from mockauth.tenant.apps import app_table
from mockauth.tenant.config import default_config

ISSUER = "http://127.0.0.1:8400"
APPS = [app_table(a) for a in default_config().with_issuer(ISSUER).apps]
NAMES = {
    "nextjs": [
        "KINDE_CLIENT_ID",
        "KINDE_CLIENT_SECRET",
        "KINDE_ISSUER_URL",
        "KINDE_SITE_URL",
        "KINDE_POST_LOGOUT_REDIRECT_URL",
        "KINDE_POST_LOGIN_REDIRECT_URL",
    ],
    "python": ["KINDE_HOST", "KINDE_CLIENT_ID", "KINDE_CLIENT_SECRET", "KINDE_REDIRECT_URI"],
    "react": [
        "VITE_KINDE_CLIENT_ID",
        "VITE_KINDE_DOMAIN",
        "VITE_KINDE_REDIRECT_URL",
        "VITE_KINDE_LOGOUT_URL",
        "VITE_ENABLE_AUTH",
    ],
    "typescript": [
        "KINDE_DOMAIN",
        "KINDE_CLIENT_ID",
        "KINDE_CLIENT_SECRET",
        "KINDE_REDIRECT_URI",
        "KINDE_LOGOUT_REDIRECT_URI",
    ],
    "m2m": ["KINDE_DOMAIN", "KINDE_MANAGEMENT_CLIENT_ID", "KINDE_MANAGEMENT_CLIENT_SECRET"],
}
NAMES["vite"] = NAMES["react"]


def variables(sdk: str, **kw: str) -> dict[str, str]:
    chosen = SDKS[sdk]
    target = Target(ISSUER, choose_app(chosen, APPS, None), kw.pop("site", chosen.site), **kw)
    return dict(sdk_variables(chosen, target))


@pytest.mark.parametrize("sdk", list(SDKS))
def test_each_sdk_gets_exactly_its_names(sdk: str) -> None:
    assert list(variables(sdk)) == NAMES[sdk]


def test_nextjs_values_are_the_web_apps_and_the_issuer() -> None:
    web = next(a for a in APPS if a["type"] == "regular")
    found = variables("nextjs")
    assert found["KINDE_CLIENT_ID"] == web["client_id"]
    assert found["KINDE_CLIENT_SECRET"] == web["client_secret"]
    assert found["KINDE_ISSUER_URL"] == ISSUER
    assert found["KINDE_SITE_URL"] == "http://localhost:3000"


def test_spa_sdks_sign_in_as_the_spa_on_their_usual_port() -> None:
    assert variables("react")["VITE_KINDE_REDIRECT_URL"] == "http://localhost:3000"
    assert variables("vite")["VITE_KINDE_REDIRECT_URL"] == "http://localhost:5173"
    spa = next(a for a in APPS if a["type"] == "spa")
    assert variables("vite")["VITE_KINDE_CLIENT_ID"] == spa["client_id"]


def test_m2m_is_the_m2m_apps_credentials() -> None:
    m2m = next(a for a in APPS if a["type"] == "m2m")
    found = variables("m2m")
    assert found["KINDE_MANAGEMENT_CLIENT_ID"] == m2m["client_id"]
    assert found["KINDE_MANAGEMENT_CLIENT_SECRET"] == m2m["client_secret"]


def test_an_audience_and_a_ca_bundle_add_their_variables(tmp_path: Path) -> None:
    chosen = SDKS["python"]
    target = Target(ISSUER, choose_app(chosen, APPS, None), chosen.site, "https://api.example.com")
    found = dict(sdk_variables(chosen, target, ca_bundle=tmp_path / "bundle.pem"))
    assert found["KINDE_AUDIENCE"] == "https://api.example.com"
    assert found["REQUESTS_CA_BUNDLE"] == found["SSL_CERT_FILE"] == str(tmp_path / "bundle.pem")
    node = dict(sdk_variables(SDKS["nextjs"], target, ca_bundle=tmp_path / "b.pem"))
    assert node["NODE_EXTRA_CA_CERTS"] == str(tmp_path / "b.pem")


def test_choosing_an_app_says_what_is_wrong() -> None:
    m2m = next(a for a in APPS if a["type"] == "m2m")
    with pytest.raises(LookupError, match="is a m2m app; --sdk nextjs signs in as a regular"):
        choose_app(SDKS["nextjs"], APPS, m2m["client_id"])
    with pytest.raises(LookupError, match="no app with the client_id"):
        choose_app(SDKS["nextjs"], APPS, "f" * 32)
    with pytest.raises(LookupError, match='add an \\[\\[apps\\]\\] table with type = "spa"'):
        choose_app(SDKS["react"], [m2m], None)


def test_the_defaults_fit_the_default_apps_but_for_python_logout() -> None:
    for name, sdk in SDKS.items():
        target = Target(ISSUER, choose_app(sdk, APPS, None), sdk.site)
        found = warnings(sdk, target)
        if name == "python":  # it returns to KINDE_REDIRECT_URI, which no logout_uris lists
            assert len(found) == 1 and "logout redirect http://localhost:8000/callback" in found[0]
        else:
            assert found == [], name


def test_warnings_name_a_callback_and_an_audience_the_app_lacks() -> None:
    sdk = SDKS["nextjs"]
    target = Target(ISSUER, choose_app(sdk, APPS, None), "http://localhost:4000", "https://no.test")
    found = warnings(sdk, target)
    assert any("not granted the audience https://no.test" in w for w in found)
    assert any("callback http://localhost:4000/api/auth/kinde_callback" in w for w in found)


AWKWARD = [("PLAIN", "http://127.0.0.1:8400"), ("SPACE", "a b"), ("QUOTES", 'it\'s "$HOME"')]


def test_json_is_one_object() -> None:
    assert json.loads(render(AWKWARD, "json")) == dict(AWKWARD)


@pytest.mark.parametrize("fmt", ["shell", "dotenv"])
def test_shell_and_dotenv_read_back_in_a_shell(fmt: str) -> None:
    # A dotenv file sourced by sh (as `set -a; . .env` does) gives the same values.
    script = render(AWKWARD, fmt) + 'printf "%s\\n" "$PLAIN" "$SPACE" "$QUOTES"'
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [v for _, v in AWKWARD]


def test_dotenv_leaves_plain_values_unquoted() -> None:
    assert render([("KINDE_HOST", "https://127.0.0.1:8400")], "dotenv") == (
        "KINDE_HOST=https://127.0.0.1:8400\n"
    )

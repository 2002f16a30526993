"""The pages of the device flow: enter the code a device shows, and what happened."""

from __future__ import annotations

from html import escape

from mockauth import paths
from mockauth.oauth.pages.layout import page

_CODE_FORM = (
    f'<form method="get" action="{paths.DEVICE}">'
    '<label for="user_code">Code shown on the device</label>'
    '<input id="user_code" name="user_code" autocomplete="off" autocapitalize="characters" '
    'spellcheck="false" required autofocus><button>Continue</button></form>'
)


def code_form() -> str:
    return page("Connect a device", _CODE_FORM)


def decided(who: str, *, app: str | None, denied: bool) -> str:
    """The page after the user approved or refused a device."""
    if denied:
        return page("Device refused", "<p>The device was refused. You can close this page.</p>")
    text = f"<p>Signed in as {escape(who)}: the device is connected. You can close this page.</p>"
    return page("Device connected", text, app=app)

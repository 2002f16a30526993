"""The page ``login_page = true`` shows at the authorization endpoint: pick who signs in,
or create an account.

Each user is a link back to the same authorization request with their ``login_hint``, so
the flow goes on exactly as an unattended one would; "Create an account" asks again with
``prompt=create``.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import urlencode

from mockauth import paths
from mockauth.oauth.pages.layout import page
from mockauth.tenant.people import User


@dataclass(frozen=True)
class LoginPage:
    """The users who may sign in, and the authorization request to continue."""

    users: list[User]
    pairs: list[tuple[str, str]]
    path: str = paths.AUTHORIZE  # where each link goes on
    app: str | None = None  # the name of the app asking
    sign_up: bool = True  # offer "Create an account" (not for a device)

    def html(self) -> str:
        rows = "".join(self._row(user) for user in self.users)
        if not self.users:
            rows = "<p>No one can sign in yet.</p>"
        if self.sign_up:
            kept = [(k, v) for k, v in self.pairs if k not in ("login_hint", "prompt")]
            href = escape(f"{self.path}?{urlencode([*kept, ('prompt', 'create')])}")
            rows += f'<p><a href="{href}">Create an account</a></p>'
        return page("Sign in as", rows, app=self.app)

    def _row(self, user: User) -> str:
        kept = [(k, v) for k, v in self.pairs if k != "login_hint"]  # an empty one, say
        query = urlencode([*kept, ("login_hint", user.id)])
        label = escape(user.name or user.email)
        detail = escape(f"{user.email} · {user.id}")
        href = escape(f"{self.path}?{query}")
        return f'<a class="choice" href="{href}">{label}<small>{detail}</small></a>'

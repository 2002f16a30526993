"""The page ``login_page = true`` shows at the authorization endpoint: pick who signs in.

Each user is a link back to the same authorization request with their ``login_hint``, so
the flow goes on exactly as an unattended one would.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import urlencode

from mockauth import paths
from mockauth.tenant.people import User


@dataclass(frozen=True)
class LoginPage:
    """The users who may sign in, and the authorization request to continue."""

    users: list[User]
    pairs: list[tuple[str, str]]
    path: str = paths.AUTHORIZE  # where each link goes on

    def html(self) -> str:
        rows = "".join(self._row(user) for user in self.users)
        return (
            "<!doctype html><html><head><meta charset=utf-8><title>Sign in: mockauth</title>"
            "<style>body{font:16px system-ui,sans-serif;max-width:32em;margin:3em auto}"
            "a{display:block;padding:.7em 1em;margin:.4em 0;border:1px solid #ccc;"
            "border-radius:6px;text-decoration:none;color:inherit}a:hover{background:#f4f4f4}"
            "small{color:#666}</style></head><body><h1>Sign in as</h1>"
            f"{rows}<p><small>mockauth: a local mock of Kinde. No password is asked.</small></p>"
            "</body></html>"
        )

    def _row(self, user: User) -> str:
        kept = [(k, v) for k, v in self.pairs if k != "login_hint"]  # an empty one, say
        query = urlencode([*kept, ("login_hint", user.id)])
        label = escape(user.name or user.email)
        detail = escape(f"{user.email} · {user.id}")
        href = escape(f"{self.path}?{query}")
        return f'<a href="{href}">{label}<br><small>{detail}</small></a>'

"""The sign-up page of ``prompt=create``: a new user's email and name (and, for
``is_create_org=true``, the new organisation's name). It posts to /signup with the
authorization request it continues in hidden fields."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from mockauth import paths
from mockauth.oauth.pages.layout import hidden_fields, page

SIGNUP_FIELDS = frozenset({"email", "given_name", "family_name", "org_name"})


@dataclass(frozen=True, kw_only=True)
class SignupPage:
    """The form, pre-filled; ``error`` says why the last try was refused."""

    pairs: list[tuple[str, str]]
    email: str = ""
    org_name: str = ""
    create_org: bool = False
    error: str | None = None
    app: str | None = None

    def html(self) -> str:
        kept = [(k, v) for k, v in self.pairs if k not in SIGNUP_FIELDS and k != "login_hint"]
        error = f'<p class="error" role="alert">{escape(self.error)}</p>' if self.error else ""
        org = (
            _field("org_name", "Organization name", self.org_name, required=True)
            if self.create_org
            else ""
        )
        form = (
            f'{error}<form method="post" action="{paths.SIGNUP}">{hidden_fields(kept)}'
            + _field("email", "Email", self.email, kind="email", required=True, focus=True)
            + _field("given_name", "First name", "")
            + _field("family_name", "Last name", "")
            + org
            + "<button>Create account</button></form>"
        )
        title = "Create your organization" if self.create_org else "Create an account"
        return page(title, form, app=self.app)


def _field(
    name: str,
    label: str,
    value: str,
    *,
    kind: str = "text",
    required: bool = False,
    focus: bool = False,
) -> str:
    flags = (" required" if required else "") + (" autofocus" if focus else "")
    return (
        f'<label for="{name}">{escape(label)}</label>'
        f'<input id="{name}" name="{name}" type="{kind}" value="{escape(value)}"{flags}>'
    )

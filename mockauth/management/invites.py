"""Invitations to an organisation: list, create, read, revoke. mockauth sends no email
(``is_sent`` is false) and nothing accepts an invitation (``accepted_on`` stays null): they
are records an app can list and revoke."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from mockauth.management import inputs, lookup
from mockauth.management.errors import ManagementBadRequest, ManagementConflict
from mockauth.management.operations import Call, Reply, op, success
from mockauth.management.pagination import token_page
from mockauth.management.shapes import created_on, iso
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.invites import Invite
from mockauth.tenant.people import EMAIL_RE, Org

PATH = "/organization/{org_code}/invites"
SORTS = ("created_on_asc", "created_on_desc", "email_asc", "email_desc", "name_asc", "name_desc")
# Kinde's limits, with its codes (EMAIL_TOO_LONG, ...).
LIMITS = {"email": 254, "first_name": 64, "last_name": 64}


def invite_entry(call: Call, invite: Invite) -> dict[str, Any]:
    catalog = call.config.catalog
    roles = []
    for key in invite.roles:
        role = catalog.role(key)
        roles.append({"key": key, "name": role.name if role is not None else key})
    return {
        "id": invite.code,
        "code": invite.code,
        "email": invite.email,
        "first_name": invite.first_name,
        "last_name": invite.last_name,
        "full_name": invite.full_name,
        "created_on": created_on(invite.created_on, call.tenant.started_at),
        "is_sent": False,
        "accepted_on": None,
        "roles": roles,
        "is_revoked": invite.is_revoked,
        "invite_link": f"{call.tenant.issuer}/team_invitation?code={invite.code}",
    }


def _sorted(invites: list[Invite], sort: str | None) -> list[Invite]:
    if sort is None:
        return invites
    if sort not in SORTS:
        raise ManagementBadRequest(f"sort must be one of {', '.join(SORTS)}.")
    keys = {
        "created_on": lambda i: i.created_on or "",
        "email": lambda i: i.email.lower(),
        "name": lambda i: i.full_name.lower(),
    }
    return sorted(invites, key=keys[sort.rsplit("_", 1)[0]], reverse=sort.endswith("_desc"))


@op("GET", PATH, "read:organization_invites", "getOrganizationInvites")
def get_organization_invites(call: Call) -> Reply:
    org = lookup.org(call.config, call.params["org_code"])
    revoked = call.flag("include_revoked")
    call.flag("include_accepted")  # none is ever accepted
    invites = [i for i in org.invites if revoked or not i.is_revoked]
    page, token = token_page(
        _sorted(invites, call.q("sort")), call.page_size(), call.q("next_token")
    )
    return success(invites=[invite_entry(call, i) for i in page], next_token=token)


def _text(body: Any, name: str, *, required: bool = False) -> str | None:
    value = inputs.text(body, name, limit=10_000, required=required)
    if value is not None and len(value) > LIMITS[name]:
        raise ManagementBadRequest(
            f"{name} must be at most {LIMITS[name]} characters.", code=f"{name.upper()}_TOO_LONG"
        )
    return value


@op("POST", PATH, "create:organization_invites", "createOrganizationInvite")
def create_organization_invite(call: Call) -> Reply:
    body = call.table()
    body.only({"email", "first_name", "last_name", "roles", "send_email"})
    email = _text(body, "email", required=True) or ""
    if not EMAIL_RE.match(email):
        raise body.fail("email", email, "must be an email address")
    first_name, last_name = _text(body, "first_name"), _text(body, "last_name")
    roles = inputs.strings(body, "roles")
    if roles is None:
        raise body.fail("roles", None, "required: an array of role keys")
    inputs.boolean(body, "send_email")  # mockauth sends no email
    invite = Invite(
        code="inv_" + secrets.token_hex(8),
        email=email,
        roles=tuple(roles),
        created_on=iso(call.tenant.clock()),
        first_name=first_name,
        last_name=last_name,
    )

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        org = lookup.org(config, call.params["org_code"])
        for key in roles:
            if config.catalog.role(key) is None:
                raise lookup.not_found("role", key, by="key")
        _not_twice(config, org, email)
        return lookup.put_org(config, replace(org, invites=(*org.invites, invite))), None

    call.tenant.update(change)
    entry = invite_entry(call, invite)
    return 201, {"code": "INVITATION_CREATED", "message": "Invitation created", "invite": entry}


def _not_twice(config: ServerConfig, org: Org, email: str) -> None:
    """One pending invitation per email, and none for a member."""
    if any(i.email.lower() == email.lower() and not i.is_revoked for i in org.invites):
        raise ManagementConflict(
            f"{email[:100]!r} has a pending invitation to this organization.",
            code="INVITATION_ALREADY_EXISTS",
        )
    if any(u.email.lower() == email.lower() and org.code in u.orgs for u in config.users):
        raise ManagementConflict(
            f"{email[:100]!r} is a member of this organization already.",
            code="USER_ALREADY_MEMBER",
        )


def _invite(org: Org, code: str) -> Invite:
    found = next((i for i in org.invites if i.code == code), None)
    if found is None:
        raise lookup.not_found("invitation", code, "INVITATION_NOT_FOUND", by="code")
    return found


@op("GET", PATH + "/{invite_code}", "read:organization_invites", "getOrganizationInvite")
def get_organization_invite(call: Call) -> Reply:
    org = lookup.org(call.config, call.params["org_code"])
    entry = invite_entry(call, _invite(org, call.params["invite_code"]))
    return 200, {"message": "Success", **entry}


@op("DELETE", PATH + "/{invite_code}", "delete:organization_invites", "deleteOrganizationInvite")
def delete_organization_invite(call: Call) -> Reply:
    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        org = lookup.org(config, call.params["org_code"])
        invite = _invite(org, call.params["invite_code"])
        if invite.is_revoked:
            raise ManagementBadRequest(
                "The invitation is revoked already.", code="INVITATION_ALREADY_REVOKED"
            )
        invites = tuple(replace(i, is_revoked=True) if i == invite else i for i in org.invites)
        return lookup.put_org(config, replace(org, invites=invites)), None

    call.tenant.update(change)
    return success()


OPERATIONS = [
    get_organization_invites,
    create_organization_invite,
    get_organization_invite,
    delete_organization_invite,
]

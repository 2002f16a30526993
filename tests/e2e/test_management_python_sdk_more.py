"""Kinde's own Python client against mockauth over HTTPS, the rest of issue 14's resources:
sessions, MFA, identities, invitations, logos, passkeys, connections, role scopes and
users, application access roles, a member's API scopes and the business. Each answer must
parse into the client's models (a status or a shape it does not expect raises, or gives
None)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from kinde_sdk.management import ManagementClient
from kinde_sdk.management import models as m
from kinde_sdk.management.exceptions import (
    BadRequestException,
    ConflictException,
    NotFoundException,
)

from mockauth import paths
from mockauth.http.server import ServerThread
from tests.management.kit import ORG, USER_ID

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _authorize(
    server: ServerThread, browser: requests.Session, **extra: str
) -> dict[str, list[str]]:
    """The web app's sign-in at the authorization endpoint, with the browser's cookies: where
    it sends the browser back to, as query parameters."""
    web = server.tenant.config.apps[1]
    params = {
        "client_id": web.client_id,
        "redirect_uri": web.redirect_uris[0],
        "response_type": "code",
        "scope": "openid",
        **extra,
    }
    answer = browser.get(server.url + paths.AUTHORIZE, params=params, allow_redirects=False)
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["location"]).query)


def test_sessions_are_ended_and_mfa_has_no_factor(
    kinde: ManagementClient, kinde_server: ServerThread
) -> None:
    assert kinde_server.tls is not None
    browser = requests.Session()
    browser.verify = str(kinde_server.tls.bundle)
    assert "code" in _authorize(kinde_server, browser, login_hint="jane@example.com")
    assert "code" in _authorize(kinde_server, browser, prompt="none")
    sessions = kinde.users_api.get_user_sessions(USER_ID)
    assert isinstance(sessions, m.GetUserSessionsResponse)
    assert sessions.sessions == [] and sessions.has_more is False
    kinde_server.tenant.clock.advance(1)  # the session started a second before it ends
    assert isinstance(kinde.users_api.delete_user_sessions(USER_ID), m.SuccessResponse)
    assert _authorize(kinde_server, browser, prompt="none")["error"] == ["login_required"]
    with pytest.raises(NotFoundException):
        kinde.users_api.get_user_sessions("kp_missing")
    mfa = kinde.users_api.get_users_mfa(USER_ID)
    assert isinstance(mfa, m.GetUserMfaResponse) and mfa.mfa is None
    assert isinstance(kinde.users_api.reset_users_mfa_all(USER_ID), m.SuccessResponse)
    with pytest.raises(NotFoundException) as raised:
        kinde.users_api.reset_users_mfa(USER_ID, "mfa_0193278a00ac29b3f6d4e4d462d55c47")
    assert "MFA_FACTOR_NOT_FOUND" in str(raised.value.body)
    orgs = kinde.organizations_api
    assert orgs.get_org_user_mfa(ORG, USER_ID).mfa is None
    assert isinstance(orgs.reset_org_user_mfa_all(ORG, USER_ID), m.SuccessResponse)
    with pytest.raises(NotFoundException):
        orgs.reset_org_user_mfa(ORG, USER_ID, "mfa_x")
    done = orgs.replace_organization_mfa(ORG, {"enabled_factors": ["mfa:email"]})
    assert isinstance(done, m.SuccessResponse)
    done = orgs.update_organization_sessions(
        ORG, {"sso_session_persistence_mode": "persistent", "authenticated_session_lifetime": 60}
    )
    assert isinstance(done, m.SuccessResponse)


def test_identities_are_updated_and_deleted(kinde: ManagementClient) -> None:
    users = kinde.users_api
    phone = users.create_user_identity(USER_ID, {"value": "+15550199", "type": "phone"})
    ident = phone.identity.id
    updated = kinde.identities_api.update_identity(ident, {"is_primary": True})
    assert isinstance(updated, m.SuccessResponse)
    assert isinstance(kinde.identities_api.delete_identity(ident), m.SuccessResponse)
    kinds = [i.type for i in users.get_user_identities(USER_ID).identities]
    assert "phone" not in kinds
    email = next(i.id for i in users.get_user_identities(USER_ID).identities if i.type == "email")
    with pytest.raises(BadRequestException):
        kinde.identities_api.delete_identity(email)


def test_invitations_are_created_listed_and_revoked(kinde: ManagementClient) -> None:
    kinde.roles_api.create_role({"key": "member", "name": "Member"})
    orgs = kinde.organizations_api
    created = orgs.create_organization_invite(
        ORG, {"email": "sam@example.com", "first_name": "Sam", "roles": ["member"]}
    )
    assert isinstance(created, m.CreateOrganizationInviteResponse)
    invite = created.invite
    assert invite.code.startswith("inv_") and invite.full_name == "Sam"
    assert invite.is_sent is False and invite.roles[0].name == "Member"
    got = orgs.get_organization_invite(ORG, invite.code)
    assert isinstance(got, m.GetOrganizationInviteResponse) and got.email == "sam@example.com"
    listed = orgs.get_organization_invites(ORG, sort="email_asc", page_size=5)
    assert isinstance(listed, m.GetOrganizationInvitesResponse)
    assert [i.code for i in listed.invites] == [invite.code]
    with pytest.raises(ConflictException):
        orgs.create_organization_invite(ORG, {"email": "SAM@example.com", "roles": []})
    assert isinstance(orgs.delete_organization_invite(ORG, invite.code), m.SuccessResponse)
    assert orgs.get_organization_invites(ORG).invites == []
    revoked = orgs.get_organization_invites(ORG, include_revoked=True).invites
    assert revoked[0].is_revoked is True
    with pytest.raises(NotFoundException):
        orgs.get_organization_invite(ORG, "inv_missing")


def test_logos_are_kept_by_name(kinde: ManagementClient) -> None:
    envs = kinde.environments_api
    assert isinstance(envs.add_logo("light", ("acme.png", PNG)), m.SuccessResponse)
    logos = envs.read_logo()
    assert isinstance(logos, m.ReadEnvLogoResponse)
    assert [(logo.type, logo.file_name) for logo in logos.logos] == [("light", "acme.png")]
    assert isinstance(envs.delete_logo("light"), m.SuccessResponse)
    assert envs.delete_logo("light") is None  # 204: no logo to delete
    with pytest.raises(BadRequestException):
        envs.add_logo("dark", ("notes.txt", b"plain text"))
    orgs = kinde.organizations_api
    assert isinstance(orgs.add_organization_logo(ORG, "dark", ("d.png", PNG)), m.SuccessResponse)
    read = orgs.read_organization_logo(ORG)
    assert isinstance(read, m.ReadLogoResponse)
    assert read.logos[0].path == f"/logo_dark?p_org_code={ORG}"
    assert isinstance(orgs.delete_organization_logo(ORG, "dark"), m.SuccessResponse)


def test_passkey_policies(kinde: ManagementClient) -> None:
    envs = kinde.environments_api
    env = envs.get_passkey()
    assert isinstance(env, m.GetPasskey200Response) and env.policy == "off" and not env.enabled
    updated = envs.update_passkey({"policy": "optional"})
    assert isinstance(updated, m.UpdatePasskey200Response) and updated.enabled is True
    orgs = kinde.organizations_api
    org = orgs.get_organization_passkey(ORG)
    assert isinstance(org, m.GetOrganizationPasskey200Response)
    assert (org.policy, org.is_override_environment_passkey_settings) == ("optional", False)
    own = orgs.update_organization_passkey(ORG, {"policy": "mandatory"})
    assert isinstance(own, m.UpdateOrganizationPasskey200Response)
    assert own.is_override_environment_passkey_settings is True
    assert orgs.get_organization_passkey(ORG).environment_policy == "optional"
    back = orgs.update_organization_passkey(
        ORG, {"is_override_environment_passkey_settings": False}
    )
    assert back.policy == "optional"


def test_connections_of_apps_and_orgs(kinde: ManagementClient) -> None:
    apps = kinde.applications_api
    web = apps.get_applications().applications[1].id
    conn = apps.get_application_connections(web).connections[0].connection.id
    assert apps.enable_connection(web, conn) is None  # the spec's 200 has no body
    with pytest.raises(BadRequestException):
        apps.remove_connection(web, conn)
    orgs = kinde.organizations_api
    listed = orgs.get_organization_connections(ORG)
    assert isinstance(listed, m.GetConnectionsResponse) and listed.connections
    orgs.enable_org_connection(ORG, conn)
    with pytest.raises(NotFoundException):
        orgs.enable_org_connection(ORG, "conn_missing")


def test_roles_scopes_users_and_access(kinde: ManagementClient, kinde_server: ServerThread) -> None:
    apis = kinde.apis_api
    api_id = apis.add_apis({"name": "Files", "audience": "https://files.example.com"}).api.id
    scope_id = apis.add_api_scope(api_id, {"key": "read:files"}).scope.id
    role_id = kinde.roles_api.create_role({"key": "reader", "name": "Reader"}).role.id
    roles = kinde.roles_api
    added = roles.add_role_scope(role_id, {"scope_id": scope_id})
    assert isinstance(added, m.AddRoleScopeResponse) and added.code == "ROLE_SCOPE_ADDED"
    scopes = roles.get_role_scopes(role_id)
    assert isinstance(scopes, m.RoleScopesResponse)
    assert [(s.key, s.api_id) for s in scopes.scopes] == [("read:files", api_id)]
    deleted = roles.delete_role_scope(role_id, scope_id)
    assert isinstance(deleted, m.DeleteRoleScopeResponse)
    system = roles.get_system_permissions()
    assert isinstance(system, m.GetSystemPermissionsResponse) and system.system_permissions == []
    held = roles.get_role_system_permissions(role_id)
    assert isinstance(held, m.RoleSystemPermissionsResponse)
    same = roles.update_role_system_permissions(role_id, {"system_permissions": []})
    assert isinstance(same, m.UpdateRoleSystemPermissionsResponse)
    orgs = kinde.organizations_api
    orgs.create_organization_user_role(ORG, USER_ID, {"role_id": role_id})
    users = roles.get_role_users(role_id)
    assert isinstance(users, m.GetRoleUsersResponse)
    assert [(u.id, u.org_codes) for u in users.users] == [(USER_ID, [ORG])]
    in_org = orgs.get_organization_role_users(ORG, role_id)
    assert isinstance(in_org, m.GetOrganizationRoleUsersResponse)
    assert [u.id for u in in_org.users] == [USER_ID]
    count = orgs.get_organization_role_users_count(ORG, role_id)
    assert isinstance(count, m.GetOrganizationRoleUsersCountResponse) and count.count == 1
    orgs.add_organization_user_api_scope(ORG, USER_ID, api_id, scope_id)
    found = kinde.search_api.search_users(query="jane@").results[0].api_scopes
    assert [(s.org_code, s.scope, s.api_id) for s in found] == [(ORG, "read:files", api_id)]
    orgs.delete_organization_user_api_scope(ORG, USER_ID, api_id, scope_id)
    apps = kinde.applications_api
    web = kinde_server.tenant.config.apps[1].client_id
    assert isinstance(apps.add_application_access_role(web, role_id), m.SuccessResponse)
    access = apps.get_application_access_roles(web)
    assert isinstance(access, m.GetApplicationAccessRolesResponse)
    assert [r.key for r in access.roles] == ["reader"] and access.has_more is False
    assert isinstance(apps.remove_application_access_role(web, role_id), m.SuccessResponse)


def test_the_business_is_updated(kinde: ManagementClient) -> None:
    done = kinde.business_api.update_business(
        {"business_name": "Acme", "industry_key": "software", "is_click_wrap": True}
    )
    assert isinstance(done, m.SuccessResponse)
    business = kinde.business_api.get_business().business
    assert (business.name, business.industry, business.has_clickwrap) == (
        "Acme",
        "Software",
        True,
    )

"""Kinde's own Python client against mockauth over HTTPS: ``kinde-python-sdk``'s
ManagementClient fetches its token, calls every served resource, and parses each answer
into its models (a status or a shape it does not expect raises, or gives None)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

# The test extra installs it (pyproject.toml); a missing client is an error, not a skip.
from kinde_sdk.management import ManagementClient
from kinde_sdk.management import models as m
from kinde_sdk.management.exceptions import (
    BadRequestException,
    ConflictException,
    ForbiddenException,
    NotFoundException,
)

from mockauth.http.server import ServerThread
from tests.management.kit import ORG, USER_ID


def test_the_client_gets_its_token_and_lists_users(kinde: ManagementClient) -> None:
    users = kinde.users_api.get_users(page_size=10, expand="organizations,identities")
    assert isinstance(users, m.UsersResponse)
    jane = next(u for u in users.users if u.id == USER_ID)
    assert jane.email == "jane@example.com" and jane.organizations == [ORG]
    assert jane.identities[0].type == "email"


def test_users_created_updated_read_and_deleted(kinde: ManagementClient) -> None:
    created = kinde.users_api.create_user(
        {
            "profile": {"given_name": "Ada", "family_name": "Lovelace"},
            "identities": [
                {"type": "email", "is_verified": True, "details": {"email": "ada@example.com"}},
                {"type": "username", "details": {"username": "ada"}},
            ],
        }
    )
    assert isinstance(created, m.CreateUserResponse) and created.created
    assert created.id.startswith("kp_")
    user = kinde.users_api.get_user_data(id=created.id)
    assert isinstance(user, m.User)
    assert (user.preferred_email, user.username, user.first_name) == (
        "ada@example.com",
        "ada",
        "Ada",
    )
    updated = kinde.users_api.update_user(created.id, {"family_name": "King", "is_suspended": True})
    assert isinstance(updated, m.UpdateUserResponse) and updated.family_name == "King"
    assert updated.is_suspended is True
    found = kinde.users_api.get_users(email="ADA@example.com")
    assert [u.id for u in found.users] == [created.id]
    searched = kinde.search_api.search_users(query="ada@")
    assert isinstance(searched, m.SearchUsersResponse)
    assert [r.id for r in searched.results] == [created.id]
    identities = kinde.users_api.get_user_identities(created.id)
    assert isinstance(identities, m.GetIdentitiesResponse)
    assert {i.type for i in identities.identities} == {"email", "username"}
    identity = kinde.identities_api.get_identity(identities.identities[0].id)
    assert isinstance(identity, m.Identity)
    phone = kinde.users_api.create_user_identity(
        created.id, {"value": "+15550100", "type": "phone"}
    )
    assert isinstance(phone, m.CreateIdentityResponse) and phone.identity.id
    done = kinde.users_api.set_user_password(created.id, {"hashed_password": "$2b$10$abc"})
    assert isinstance(done, m.SuccessResponse)
    assert isinstance(kinde.users_api.refresh_user_claims(created.id), m.SuccessResponse)
    assert isinstance(kinde.users_api.delete_user(id=created.id), m.SuccessResponse)
    with pytest.raises(NotFoundException) as raised:
        kinde.users_api.get_user_data(id=created.id)
    assert "USER_NOT_FOUND" in str(raised.value.body)


def test_organizations_and_their_members(kinde: ManagementClient) -> None:
    perm = kinde.permissions_api.create_permission({"key": "read:reports", "name": "Reports"})
    assert isinstance(perm, m.SuccessResponse)
    perms = kinde.permissions_api.get_permissions(sort="name_asc", page_size=50)
    assert isinstance(perms, m.GetPermissionsResponse)
    perm_id = next(p.id for p in perms.permissions if p.key == "read:reports")
    role = kinde.roles_api.create_role({"key": "analyst", "name": "Analyst"})
    assert isinstance(role, m.CreateRolesResponse)
    created = kinde.organizations_api.create_organization({"name": "Acme", "handle": "acme"})
    assert isinstance(created, m.CreateOrganizationResponse)
    code = created.organization.code
    org = kinde.organizations_api.get_organization(code=code)
    assert isinstance(org, m.GetOrganizationResponse) and org.name == "Acme"
    assert isinstance(
        kinde.organizations_api.update_organization(
            code, update_organization_request={"name": "Acme Inc"}
        ),
        m.SuccessResponse,
    )
    listed = kinde.organizations_api.get_organizations(sort="name_desc")
    assert isinstance(listed, m.GetOrganizationsResponse)
    assert "Acme Inc" in [o.name for o in listed.organizations]
    added = kinde.organizations_api.add_organization_users(
        code, {"users": [{"id": USER_ID, "roles": ["analyst"], "permissions": ["read:reports"]}]}
    )
    assert isinstance(added, m.AddOrganizationUsersResponse) and added.users_added == [USER_ID]
    members = kinde.organizations_api.get_organization_users(code, sort="email_asc")
    assert isinstance(members, m.GetOrganizationUsersResponse)
    assert members.organization_users[0].roles == ["analyst"]
    roles = kinde.organizations_api.get_organization_user_roles(code, USER_ID)
    assert isinstance(roles, m.GetOrganizationsUserRolesResponse)
    assert [r.id for r in roles.roles] == [role.role.id]
    perms_held = kinde.organizations_api.get_organization_user_permissions(
        code, USER_ID, expand="roles"
    )
    assert isinstance(perms_held, m.GetOrganizationsUserPermissionsResponse)
    assert [p.key for p in perms_held.permissions] == [
        "read:calendar",
        "update:event",
        "read:reports",
    ]
    api = kinde.organizations_api
    assert isinstance(
        api.delete_organization_user_role(code, USER_ID, role.role.id), m.SuccessResponse
    )
    assert isinstance(
        api.create_organization_user_role(code, USER_ID, {"role_id": role.role.id}),
        m.SuccessResponse,
    )
    assert isinstance(
        api.delete_organization_user_permission(code, USER_ID, perm_id), m.SuccessResponse
    )
    assert isinstance(
        api.create_organization_user_permission(code, USER_ID, {"permission_id": perm_id}),
        m.SuccessResponse,
    )
    updated = api.update_organization_users(
        code, {"users": [{"id": USER_ID, "operation": "delete"}]}
    )
    assert isinstance(updated, m.UpdateOrganizationUsersResponse)
    assert updated.users_removed == [USER_ID]
    api.add_organization_users(code, {"users": [{"id": USER_ID}]})
    assert isinstance(api.remove_organization_user(code, USER_ID), m.SuccessResponse)
    assert isinstance(api.delete_organization_handle(code), m.SuccessResponse)
    assert isinstance(api.delete_organization(code), m.SuccessResponse)
    with pytest.raises(NotFoundException):
        api.get_organization(code=code)


def test_roles_and_permissions(kinde: ManagementClient) -> None:
    perm = kinde.permissions_api.create_permission({"key": "write:docs", "name": "Write"})
    assert isinstance(perm, m.SuccessResponse)
    perm_id = next(
        p.id for p in kinde.permissions_api.get_permissions().permissions if p.key == "write:docs"
    )
    assert isinstance(
        kinde.permissions_api.update_permissions(
            perm_id, {"name": "Write docs", "description": "d"}
        ),
        m.SuccessResponse,
    )
    role_id = kinde.roles_api.create_role({"key": "editor", "name": "Editor"}).role.id
    role = kinde.roles_api.get_role(role_id)
    assert isinstance(role, m.GetRoleResponse) and role.role.key == "editor"
    # Kinde answers PATCH /roles/{id} with 201: the client parses it as a SuccessResponse.
    renamed = kinde.roles_api.update_roles(role_id, {"name": "Editors", "key": "editors"})
    assert isinstance(renamed, m.SuccessResponse)
    changed = kinde.roles_api.update_role_permissions(role_id, {"permissions": [{"id": perm_id}]})
    assert isinstance(changed, m.UpdateRolePermissionsResponse)
    assert changed.permissions_added == [perm_id]
    held = kinde.roles_api.get_role_permissions(role_id, sort="name_asc")
    assert isinstance(held, m.RolePermissionsResponse)
    assert [p.key for p in held.permissions] == ["write:docs"]
    assert isinstance(kinde.roles_api.remove_role_permission(role_id, perm_id), m.SuccessResponse)
    roles = kinde.roles_api.get_roles(sort="name_asc", page_size=1)
    assert isinstance(roles, m.GetRolesResponse) and len(roles.roles) == 1
    rest = kinde.roles_api.get_roles(sort="name_asc", next_token=roles.next_token)
    assert "editors" in [r.key for r in roles.roles + rest.roles]
    assert isinstance(kinde.roles_api.delete_role(role_id), m.SuccessResponse)
    assert isinstance(kinde.permissions_api.delete_permission(perm_id), m.SuccessResponse)
    with pytest.raises(ConflictException):
        kinde.permissions_api.create_permission({"key": "read:reports", "name": "Again"})
    with pytest.raises(NotFoundException):
        kinde.roles_api.get_role("no-such-role")


def test_feature_flags_at_every_level(kinde: ManagementClient) -> None:
    made = kinde.feature_flags_api.create_feature_flag(
        {
            "name": "Theme",
            "key": "theme",
            "type": "str",
            "allow_override_level": "usr",
            "default_value": "light",
        }
    )
    assert isinstance(made, m.SuccessResponse)
    env = kinde.environments_api.get_environement_feature_flags()
    assert isinstance(env, m.GetEnvironmentFeatureFlagsResponse)
    assert env.feature_flags["theme"].value == "light"
    kinde.environments_api.update_environement_feature_flag_override("theme", {"value": "sepia"})
    org_api = kinde.organizations_api
    assert isinstance(
        org_api.update_organization_feature_flag_override(ORG, "theme", "dark"), m.SuccessResponse
    )
    flags = org_api.get_organization_feature_flags(ORG)
    assert isinstance(flags, m.GetOrganizationFeatureFlagsResponse)
    assert (flags.feature_flags["theme"].type, flags.feature_flags["theme"].value) == (
        "str",
        "dark",
    )
    assert isinstance(
        kinde.users_api.update_user_feature_flag_override(USER_ID, "theme", "blue"),
        m.SuccessResponse,
    )
    assert isinstance(
        org_api.delete_organization_feature_flag_override(ORG, "theme"), m.SuccessResponse
    )
    assert isinstance(org_api.delete_organization_feature_flag_overrides(ORG), m.SuccessResponse)
    envs = kinde.environments_api
    assert isinstance(envs.delete_environement_feature_flag_override("theme"), m.SuccessResponse)
    assert isinstance(envs.delete_environement_feature_flag_overrides(), m.SuccessResponse)
    assert isinstance(
        kinde.feature_flags_api.update_feature_flag("theme", "Theme", "d", "str", "org", "dim"),
        m.SuccessResponse,
    )
    assert envs.get_environement_feature_flags().feature_flags["theme"].value == "dim"
    environment = envs.get_environment()
    assert isinstance(environment, m.GetEnvironmentResponse)
    with pytest.raises(BadRequestException):
        kinde.feature_flags_api.create_feature_flag(
            {"name": "N", "key": "n", "type": "int", "default_value": "many"}
        )
    assert isinstance(kinde.feature_flags_api.delete_feature_flag("theme"), m.SuccessResponse)


def test_properties_and_categories(kinde: ManagementClient) -> None:
    category = kinde.property_categories_api.create_category({"name": "Profile", "context": "usr"})
    assert isinstance(category, m.CreateCategoryResponse)
    cat_id = category.category.id
    org_cat = kinde.property_categories_api.create_category({"name": "Org", "context": "org"})
    categories = kinde.property_categories_api.get_categories(context="usr")
    assert isinstance(categories, m.GetCategoriesResponse) and categories.has_more is False
    assert isinstance(
        kinde.property_categories_api.update_category(cat_id, {"name": "About"}), m.SuccessResponse
    )
    created = kinde.properties_api.create_property(
        {
            "name": "Team",
            "key": "team",
            "type": "single_line_text",
            "context": "usr",
            "is_private": False,
            "category_id": cat_id,
        }
    )
    assert isinstance(created, m.CreatePropertyResponse)
    kinde.properties_api.create_property(
        {
            "name": "Plan",
            "key": "plan",
            "type": "single_line_text",
            "context": "org",
            "is_private": False,
            "category_id": org_cat.category.id,
        }
    )
    props = kinde.properties_api.get_properties(context="usr")
    assert isinstance(props, m.GetPropertiesResponse) and props.properties[0].key == "team"
    assert isinstance(
        kinde.properties_api.update_property(
            created.var_property.id if hasattr(created, "var_property") else created.property.id,
            {"name": "Squad", "is_private": True, "category_id": cat_id},
        ),
        m.SuccessResponse,
    )
    users = kinde.users_api
    assert isinstance(users.update_user_property(USER_ID, "team", "core"), m.SuccessResponse)
    assert isinstance(
        users.update_user_properties(USER_ID, {"properties": {"team": "web"}}), m.SuccessResponse
    )
    values = users.get_user_property_values(USER_ID)
    assert isinstance(values, m.GetPropertyValuesResponse)
    assert [(p.key, p.value) for p in values.properties] == [("team", "web")]
    orgs = kinde.organizations_api
    assert isinstance(orgs.update_organization_property(ORG, "plan", "pro"), m.SuccessResponse)
    assert isinstance(
        orgs.update_organization_properties(ORG, {"properties": {"plan": "team"}}),
        m.SuccessResponse,
    )
    assert orgs.get_organization_property_values(ORG).properties[0].value == "team"
    app_cat = kinde.property_categories_api.create_category({"name": "App", "context": "app"})
    tier = kinde.properties_api.create_property(
        {
            "name": "Tier",
            "key": "tier",
            "type": "single_line_text",
            "context": "app",
            "is_private": False,
            "category_id": app_cat.category.id,
        }
    )
    m2m = kinde.applications_api.get_applications().applications[0].id
    value = m.UpdateApplicationsPropertyRequestValue("gold")  # the client's oneOf wrapper
    done = kinde.applications_api.update_applications_property(
        m2m, "tier", m.UpdateApplicationsPropertyRequest(value=value)
    )
    assert isinstance(done, m.SuccessResponse)
    values = kinde.applications_api.get_application_property_values(m2m)
    assert [(p.key, p.value) for p in values.properties] == [("tier", "gold")]
    tier_id = tier.var_property.id if hasattr(tier, "var_property") else tier.property.id
    assert isinstance(kinde.properties_api.delete_property(tier_id), m.SuccessResponse)
    assert kinde.applications_api.get_application_property_values(m2m).properties == []


def test_applications_and_their_urls(kinde: ManagementClient) -> None:
    apps = kinde.applications_api
    created = apps.create_application({"name": "Preview", "type": "reg"})
    assert isinstance(created, m.CreateApplicationResponse)
    app_id = created.application.id
    assert len(created.application.client_secret) == 50
    app = apps.get_application(app_id)
    assert isinstance(app, m.GetApplicationResponse) and app.application.type == "reg"
    listed = apps.get_applications(sort="name_asc")
    assert isinstance(listed, m.GetApplicationsResponse)
    assert "Preview" in [a.name for a in listed.applications]
    apps.update_application(
        app_id, {"name": "Preview app", "homepage_uri": "https://preview.example.com"}
    )
    assert apps.get_application(app_id).application.name == "Preview app"
    callbacks = kinde.callbacks_api
    # The Vercel preview recipe: add the preview's callback and logout URLs.
    assert isinstance(
        callbacks.add_redirect_callback_urls(
            app_id, {"urls": ["https://pr-1.example.com/api/auth/kinde_callback"]}
        ),
        m.SuccessResponse,
    )
    callbacks.replace_redirect_callback_urls(
        app_id, {"urls": ["https://a.example.com/cb", "https://b.example.com/cb"]}
    )
    callbacks.delete_callback_urls(app_id, "https://a.example.com/cb")
    urls = callbacks.get_callback_urls(app_id)
    assert isinstance(urls, m.RedirectCallbackUrls) and urls.redirect_urls == [
        "https://b.example.com/cb"
    ]
    callbacks.add_logout_redirect_urls(app_id, {"urls": ["https://pr-1.example.com"]})
    callbacks.replace_logout_redirect_urls(
        app_id, {"urls": ["https://pr-2.example.com", "https://pr-3.example.com"]}
    )
    callbacks.delete_logout_urls(app_id, "https://pr-2.example.com")
    logout = callbacks.get_logout_urls(app_id)
    assert isinstance(logout, m.LogoutRedirectUrls) and logout.logout_urls == [
        "https://pr-3.example.com"
    ]
    tokens = apps.update_application_tokens(app_id, {"access_token_lifetime": 600})
    assert isinstance(tokens, m.SuccessResponse)
    connections = apps.get_application_connections(app_id)
    assert isinstance(connections, m.GetConnectionsResponse)
    assert isinstance(kinde.connections_api.get_connections(), m.GetConnectionsResponse)
    assert isinstance(apps.get_application_property_values(app_id), m.GetPropertyValuesResponse)
    assert isinstance(apps.delete_application(app_id), m.SuccessResponse)


def test_apis_and_scopes(kinde: ManagementClient, kinde_server: ServerThread) -> None:
    apis = kinde.apis_api
    listed = apis.get_apis(expand="scopes")
    assert isinstance(listed, m.GetApisResponse)
    management = next(a for a in listed.apis if a.is_management_api)
    assert management.audience == kinde_server.issuer + "/api"
    created = apis.add_apis({"name": "Reports", "audience": "https://reports.example.com"})
    assert isinstance(created, m.CreateApisResponse)
    api_id = created.api.id
    scope = apis.add_api_scope(api_id, {"key": "read:reports", "description": "Read"})
    assert isinstance(scope, m.CreateApiScopesResponse)
    scope_id = scope.scope.id
    apis.update_api_scope(api_id, scope_id, {"description": "Read reports"})
    got = apis.get_api_scope(api_id, scope_id)
    assert isinstance(got, m.GetApiScopeResponse) and got.scope.description == "Read reports"
    assert isinstance(apis.get_api_scopes(api_id), m.GetApiScopesResponse)
    m2m = kinde_server.tenant.config.apps[0].client_id
    connected = apis.update_api_applications(api_id, {"applications": [{"id": m2m}]})
    assert isinstance(connected, m.AuthorizeAppApiResponse)
    assert connected.applications_connected == [m2m]
    apis.add_api_application_scope(api_id, m2m, scope_id)
    api = apis.get_api(api_id)
    assert isinstance(api, m.GetApiResponse)
    assert api.api.applications[0].type == "Machine to machine (M2M)"
    assert kinde_server.tenant.app(m2m).apis["https://reports.example.com"] == ("read:reports",)
    apis.delete_api_application_scope(api_id, m2m, scope_id)
    apis.delete_api_scope(api_id, scope_id)
    deleted = apis.delete_api(api_id)
    assert isinstance(deleted, m.DeleteApiResponse)
    with pytest.raises(BadRequestException):
        apis.delete_api(management.id)


def test_business_and_lists(kinde: ManagementClient) -> None:
    business = kinde.business_api.get_business()
    assert isinstance(business, m.GetBusinessResponse) and business.business.name == "mockauth"
    assert isinstance(kinde.industries_api.get_industries(), m.GetIndustriesResponse)
    assert isinstance(kinde.timezones_api.get_timezones(), m.GetTimezonesResponse)


def test_a_token_without_the_scope_gets_a_forbidden_exception(kinde_server: ServerThread) -> None:
    # A second app, granted one scope only, through the same client.
    tenant = kinde_server.tenant
    audience = kinde_server.issuer + "/api"
    tenant.put_app(
        {
            "name": "Reader",
            "type": "m2m",
            "client_id": "0123456789abcdef0123456789abcdef",
            "client_secret": "R" * 50,
            "apis": {audience: ["read:roles"]},
        }
    )
    host = urlsplit(kinde_server.url).netloc
    reader = ManagementClient(host, "0123456789abcdef0123456789abcdef", "R" * 50)
    assert isinstance(reader.roles_api.get_roles(), m.GetRolesResponse)
    with pytest.raises(ForbiddenException) as raised:
        reader.users_api.get_users()
    assert raised.value.status == 403
    assert "read:users" in str(raised.value.body)

"""The scopes of Kinde's Management API that mockauth serves: every operation's ``x-scope``
(or, where Kinde's OpenAPI document has no such key, the scope its description names).

The tenant knows them without any management code (an ``[[apis]]`` table for
``{issuer}/api`` defines them all); tests hold this list equal to the route table's.
"""

from __future__ import annotations

MANAGEMENT_AUDIENCE_PATH = "/api"

MANAGEMENT_SCOPES: tuple[str, ...] = tuple(
    sorted(
        {
            # users and identities
            "read:users",
            "create:users",
            "update:users",
            "delete:users",
            "update:user_refresh_claims",
            "update:user_feature_flags",
            "read:user_properties",
            "update:user_properties",
            "read:user_identities",
            "create:user_identities",
            "update:user_passwords",
            "read:user_sessions",
            "delete:user_sessions",
            "read:user_mfa",
            "delete:user_mfa",
            "read:identities",
            "update:identities",
            "delete:identities",
            # organisations
            "read:organizations",
            "create:organizations",
            "update:organizations",
            "delete:organizations",
            "delete:organization_handles",
            "read:organization_feature_flags",
            "update:organization_feature_flags",
            "delete:organization_feature_flags",
            "read:organization_properties",
            "update:organization_properties",
            "read:organization_users",
            "create:organization_users",
            "update:organization_users",
            "delete:organization_users",
            "read:organization_user_roles",
            "create:organization_user_roles",
            "delete:organization_user_roles",
            "read:organization_user_permissions",
            "create:organization_user_permissions",
            "delete:organization_user_permissions",
            "create:organization_user_api_scopes",
            "delete:organization_user_api_scopes",
            "read:organization_user_mfa",
            "delete:organization_user_mfa",
            "update:organization_mfa",
            "read:organization_invites",
            "create:organization_invites",
            "delete:organization_invites",
            "read:organization_connections",
            "create:organization_connections",
            "delete:organization_connections",
            "read:organization_passkey",
            "update:organization_passkey",
            # roles and permissions
            "read:roles",
            "create:roles",
            "update:roles",
            "delete:roles",
            "read:role_permissions",
            "update:role_permissions",
            "delete:role_permissions",
            "read:role_scopes",
            "create:role_scopes",
            "delete:role_scopes",
            "read:system_permissions",
            "read:role_system_permissions",
            "update:role_system_permissions",
            "read:permissions",
            "create:permissions",
            "update:permissions",
            "delete:permissions",
            # feature flags and the environment
            "create:feature_flags",
            "update:feature_flags",
            "delete:feature_flags",
            "read:environments",
            "update:environments",
            "read:passkey",
            "update:passkey",
            "read:environment_feature_flags",
            "update:environment_feature_flags",
            "delete:environment_feature_flags",
            # properties
            "read:properties",
            "create:properties",
            "update:properties",
            "delete:properties",
            "read:property_categories",
            "create:property_categories",
            "update:property_categories",
            # applications and their URLs
            "read:applications",
            "create:applications",
            "update:applications",
            "delete:applications",
            "read:application_connections",
            "create:application_connections",
            "delete:application_connections",
            "read:application_properties",
            "update:application_properties",
            "update:application_tokens",
            "read:applications_redirect_uris",
            "create:applications_redirect_uris",
            "update:applications_redirect_uris",
            "delete:applications_redirect_uris",
            "read:application_logout_uris",
            "create:application_logout_uris",
            "update:application_logout_uris",
            "delete:application_logout_uris",
            # APIs
            "read:apis",
            "create:apis",
            "update:apis",
            "delete:apis",
            "read:api_scopes",
            "create:api_scopes",
            "update:api_scopes",
            "delete:apis_scopes",
            "create:api_application_scopes",
            "delete:apis_application_scopes",
            # business, lists
            "read:businesses",
            "update:businesses",
            "read:industries",
            "read:timezones",
            "read:connections",
        }
    )
)


def is_management_audience(audience: str, issuer: str | None) -> bool:
    """``{issuer}/api`` as written in a config, or with the issuer filled in."""
    if audience == "{issuer}" + MANAGEMENT_AUDIENCE_PATH:
        return True
    return issuer is not None and audience == issuer + MANAGEMENT_AUDIENCE_PATH

"""Multi-factor authentication: mockauth signs users in without a second factor, so no user
has one enrolled (``mfa`` is null), resetting all of a user's factors succeeds with nothing
to do, and no factor id names one (404). An organisation's MFA settings are checked and
accepted; nothing reads them back."""

from __future__ import annotations

from mockauth.errors import ManagementNotFound
from mockauth.management import inputs, lookup
from mockauth.management.operations import Call, Reply, op, success

FACTORS = ("mfa:email", "mfa:sms", "mfa:authenticator_app")


def _no_factor(factor_id: str) -> ManagementNotFound:
    return lookup.not_found("MFA factor", factor_id, "MFA_FACTOR_NOT_FOUND")


@op("GET", "/users/{user_id}/mfa", "read:user_mfa", "GetUsersMFA")
def get_users_mfa(call: Call) -> Reply:
    lookup.user(call.config, call.params["user_id"])
    return success(mfa=None)


@op("DELETE", "/users/{user_id}/mfa", "delete:user_mfa", "ResetUsersMFAAll")
def reset_users_mfa_all(call: Call) -> Reply:
    lookup.user(call.config, call.params["user_id"])
    return success()


@op("DELETE", "/users/{user_id}/mfa/{factor_id}", "delete:user_mfa", "ResetUsersMFA")
def reset_users_mfa(call: Call) -> Reply:
    lookup.user(call.config, call.params["user_id"])
    raise _no_factor(call.params["factor_id"])


@op(
    "GET",
    "/organizations/{org_code}/users/{user_id}/mfa",
    "read:organization_user_mfa",
    "GetOrgUserMFA",
)
def get_org_user_mfa(call: Call) -> Reply:
    lookup.member(call.config, call.params["org_code"], call.params["user_id"])
    return success(mfa=None)


@op(
    "DELETE",
    "/organizations/{org_code}/users/{user_id}/mfa",
    "delete:organization_user_mfa",
    "ResetOrgUserMFAAll",
)
def reset_org_user_mfa_all(call: Call) -> Reply:
    lookup.member(call.config, call.params["org_code"], call.params["user_id"])
    return success()


@op(
    "DELETE",
    "/organizations/{org_code}/users/{user_id}/mfa/{factor_id}",
    "delete:organization_user_mfa",
    "ResetOrgUserMFA",
)
def reset_org_user_mfa(call: Call) -> Reply:
    lookup.member(call.config, call.params["org_code"], call.params["user_id"])
    raise _no_factor(call.params["factor_id"])


@op("PUT", "/organizations/{org_code}/mfa", "update:organization_mfa", "ReplaceOrganizationMFA")
def replace_organization_mfa(call: Call) -> Reply:
    body = call.table()
    body.only({"enabled_factors", "is_recovery_codes_enabled"})
    inputs.boolean(body, "is_recovery_codes_enabled")
    factors = inputs.strings(body, "enabled_factors", most=len(FACTORS))
    if factors is None:
        raise body.fail("enabled_factors", None, "required: an array of MFA factors")
    for i, factor in enumerate(factors):
        if factor not in FACTORS:
            raise body.fail(f"enabled_factors[{i}]", factor, f"must be one of {', '.join(FACTORS)}")
    lookup.org(call.config, call.params["org_code"])
    return success()


OPERATIONS = [
    get_users_mfa,
    reset_users_mfa_all,
    reset_users_mfa,
    get_org_user_mfa,
    reset_org_user_mfa_all,
    reset_org_user_mfa,
    replace_organization_mfa,
]

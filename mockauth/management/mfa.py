"""Multi-factor authentication: mockauth signs users in without a second factor, so no user
has one enrolled (``mfa`` is null), resetting all of a user's factors succeeds with nothing
to do, and no factor id names one (404). An organisation's MFA settings are checked and
accepted; nothing reads them back."""

from __future__ import annotations

from mockauth.management import inputs, lookup
from mockauth.management.errors import ManagementNotFound
from mockauth.management.operations import Call, Reply, op, success

FACTORS = ("mfa:email", "mfa:sms", "mfa:authenticator_app")


def _no_factor(factor_id: str) -> ManagementNotFound:
    return lookup.not_found("MFA factor", factor_id, "MFA_FACTOR_NOT_FOUND")


def _person(call: Call) -> None:
    """The user the path names (and, under an organisation, a member of it), else 404."""
    if "org_code" in call.params:
        lookup.member(call.config, call.params["org_code"], call.params["user_id"])
    else:
        lookup.user(call.config, call.params["user_id"])


def _factors(call: Call) -> Reply:
    _person(call)
    return success(mfa=None)


def _reset_all(call: Call) -> Reply:
    _person(call)
    return success()


def _reset(call: Call) -> Reply:
    _person(call)
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


USER = "/users/{user_id}/mfa"
MEMBER = "/organizations/{org_code}/users/{user_id}/mfa"
OPERATIONS = [
    op("GET", USER, "read:user_mfa", "GetUsersMFA")(_factors),
    op("DELETE", USER, "delete:user_mfa", "ResetUsersMFAAll")(_reset_all),
    op("DELETE", USER + "/{factor_id}", "delete:user_mfa", "ResetUsersMFA")(_reset),
    op("GET", MEMBER, "read:organization_user_mfa", "GetOrgUserMFA")(_factors),
    op("DELETE", MEMBER, "delete:organization_user_mfa", "ResetOrgUserMFAAll")(_reset_all),
    op("DELETE", MEMBER + "/{factor_id}", "delete:organization_user_mfa", "ResetOrgUserMFA")(
        _reset
    ),
    replace_organization_mfa,
]

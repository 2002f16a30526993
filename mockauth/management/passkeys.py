"""Passkey policies: the environment's (``[environment] passkey_policy``) and an
organisation's own, which overrides it (kept and answered back; mockauth's sign-in asks for
no passkey)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mockauth.management import inputs, lookup
from mockauth.management.errors import ManagementBadRequest
from mockauth.management.operations import Call, Reply, op, success
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.environment import PASSKEY_POLICIES
from mockauth.tenant.people import Org

OVERRIDE = "is_override_environment_passkey_settings"


def _policy(policy: str) -> dict[str, Any]:
    return {"enabled": policy != "off", "policy": policy}


@op("GET", "/passkey", "read:passkey", "getPasskey")
def get_passkey(call: Call) -> Reply:
    return success(**_policy(call.config.environment.passkey_policy))


@op("PUT", "/passkey", "update:passkey", "updatePasskey")
def update_passkey(call: Call) -> Reply:
    body = call.table()
    body.only({"policy"})
    policy: str = inputs.choice(body, "policy", PASSKEY_POLICIES, required=True)

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        environment = replace(config.environment, passkey_policy=policy)
        return replace(config, environment=environment), None

    call.tenant.update(change)
    return success(**_policy(policy))


def _org_passkey(config: ServerConfig, org: Org) -> dict[str, Any]:
    policy = org.passkey_policy or config.environment.passkey_policy
    return {**_policy(policy), OVERRIDE: org.passkey_policy is not None}


@op(
    "GET",
    "/organizations/{org_code}/passkey",
    "read:organization_passkey",
    "getOrganizationPasskey",
)
def get_organization_passkey(call: Call) -> Reply:
    config = call.config
    org = lookup.org(config, call.params["org_code"])
    environment_policy = config.environment.passkey_policy
    return success(**_org_passkey(config, org), environment_policy=environment_policy)


@op(
    "PUT",
    "/organizations/{org_code}/passkey",
    "update:organization_passkey",
    "updateOrganizationPasskey",
)
def update_organization_passkey(call: Call) -> Reply:
    body = call.table()
    body.only({"policy", OVERRIDE})
    policy = inputs.choice(body, "policy", PASSKEY_POLICIES)
    override = inputs.boolean(body, OVERRIDE)
    if override is False and policy is not None:
        raise ManagementBadRequest(
            f"A policy needs {OVERRIDE} true (false goes back to the environment's)."
        )

    def change(config: ServerConfig) -> tuple[ServerConfig, dict[str, Any]]:
        org = lookup.org(config, call.params["org_code"])
        own = org.passkey_policy
        if override is False:
            own = None
        elif policy is not None or override:
            own = policy or own or config.environment.passkey_policy
        new = replace(org, passkey_policy=own)
        return lookup.put_org(config, new), _org_passkey(config, new)

    return success(**call.tenant.update(change))


OPERATIONS = [get_passkey, update_passkey, get_organization_passkey, update_organization_passkey]

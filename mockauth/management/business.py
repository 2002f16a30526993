"""The business (the config's [business]: read and updated) and fixed lists (industries,
time zones)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mockauth.management import inputs
from mockauth.management.errors import ManagementBadRequest
from mockauth.management.operations import Call, Reply, op, success
from mockauth.management.shapes import iso
from mockauth.tenant.config import ServerConfig, business_table, parse_business

INDUSTRIES = (("construction", "Construction"), ("software", "Software"), ("other", "Other"))
TIMEZONES = (
    ("london_greenwich_mean_time", "London (Greenwich Mean Time) [+00:00]"),
    ("los_angeles_pacific_standard_time", "Los Angeles (Pacific Standard Time) [-08:00]"),
    (
        "sydney_australian_eastern_standard_time",
        "Sydney (Australian Eastern Standard Time) [+10:00]",
    ),
)


@op("GET", "/business", "read:businesses", "getBusiness")
def get_business(call: Call) -> Reply:
    business = call.config.business
    host = call.tenant.issuer.split("://", 1)[-1]
    entry = {
        "code": "bus_" + "".join(c for c in host if c.isalnum())[:20],
        "name": business.name,
        "phone": business.phone,
        "email": business.email,
        "industry": business.industry,
        "timezone": business.timezone,
        "privacy_url": business.privacy_url,
        "terms_url": business.terms_url,
        "has_clickwrap": business.has_clickwrap,
        "has_kinde_branding": business.has_kinde_branding,
        "created_on": iso(call.tenant.started_at),
    }
    return success(business=entry)


# updateBusiness's fields, and the [business] keys they set.
_TEXTS = {
    "business_name": "name",
    "email": "email",
    "phone": "phone",
    "privacy_url": "privacy_url",
    "terms_url": "terms_url",
}
_FLAGS = {"is_click_wrap": "has_clickwrap", "is_show_kinde_branding": "has_kinde_branding"}
_LISTS = {"industry_key": ("industry", INDUSTRIES), "timezone_key": ("timezone", TIMEZONES)}


@op("PATCH", "/business", "update:businesses", "updateBusiness")
def update_business(call: Call) -> Reply:
    body = call.table()
    body.only({*_TEXTS, *_FLAGS, *_LISTS, "kinde_perk_code"})
    changes: dict[str, Any] = {}
    for wire, ours in _TEXTS.items():
        value = inputs.text(body, wire)
        if value is not None:
            changes[ours] = value
    for wire, ours in _FLAGS.items():
        flag = inputs.boolean(body, wire)
        if flag is not None:
            changes[ours] = flag
    for wire, (ours, known) in _LISTS.items():
        key = inputs.text(body, wire)
        if key is not None:
            names = dict(known)
            if key not in names:
                raise ManagementBadRequest(
                    f"{wire} must be one of {', '.join(names)}.", code=f"INVALID_{wire.upper()}"
                )
            changes[ours] = names[key]
    inputs.text(body, "kinde_perk_code")  # no plans, so no perks

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        table = {**business_table(config.business), **changes}
        return replace(config, business=parse_business(table, source="request")), None

    call.tenant.update(change)
    return success()


@op("GET", "/industries", "read:industries", "getIndustries")
def get_industries(call: Call) -> Reply:
    return success(industries=[{"key": k, "name": n} for k, n in INDUSTRIES])


@op("GET", "/timezones", "read:timezones", "getTimezones")
def get_timezones(call: Call) -> Reply:
    return success(timezones=[{"key": k, "name": n} for k, n in TIMEZONES])


OPERATIONS = [get_business, update_business, get_industries, get_timezones]

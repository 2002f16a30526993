"""The business and fixed lists (industries, time zones), from the config's [business]."""

from __future__ import annotations

from mockauth.management.operations import Call, Reply, op, success
from mockauth.management.shapes import iso

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
        "has_clickwrap": False,
        "has_kinde_branding": True,
        "created_on": iso(call.tenant.started_at),
    }
    return success(business=entry)


@op("GET", "/industries", "read:industries", "getIndustries")
def get_industries(call: Call) -> Reply:
    return success(industries=[{"key": k, "name": n} for k, n in INDUSTRIES])


@op("GET", "/timezones", "read:timezones", "getTimezones")
def get_timezones(call: Call) -> Reply:
    return success(timezones=[{"key": k, "name": n} for k, n in TIMEZONES])


OPERATIONS = [get_business, get_industries, get_timezones]

"""Feature flags: create (type and default), update, delete; the environment's own values
(overrides of the defaults). Organisation and user overrides are under orgs.py and users.py.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from mockauth.management import inputs, lookup
from mockauth.management.errors import ManagementBadRequest, ManagementConflict
from mockauth.management.operations import Call, Reply, op, success
from mockauth.management.shapes import iso
from mockauth.management.values import override_value
from mockauth.tenant.catalog import KEY_RE, OVERRIDE_LEVELS, FeatureFlag, stable_id
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.flagvalues import FLAG_TYPE_NAMES, flag_text

# The Management API names types str, int, bool; tokens say s, i, b.
TYPES = {name: short for short, name in FLAG_TYPE_NAMES.items()}


def _flag(
    key: str, name: str, description: str, type_name: str, level: str, default: str
) -> FeatureFlag:
    if not KEY_RE.match(key):
        raise ManagementBadRequest(f"key {key[:100]!r} must be 1 to 200 printable characters.")
    flag_type = TYPES[type_name]
    return FeatureFlag(
        id=stable_id("flag", key),
        key=key,
        type=flag_type,
        default=override_value(flag_type, default),
        name=name,
        description=description,
        allow_override_level=level,
    )


@op("POST", "/feature_flags", "create:feature_flags", "CreateFeatureFlag")
def create_feature_flag(call: Call) -> Reply:
    body = call.table()
    body.only({"name", "description", "key", "type", "allow_override_level", "default_value"})
    flag = _flag(
        inputs.text(body, "key", limit=200, required=True) or "",
        inputs.text(body, "name", required=True) or "",
        inputs.text(body, "description", limit=1000) or "",
        inputs.choice(body, "type", tuple(TYPES), required=True),
        inputs.choice(body, "allow_override_level", OVERRIDE_LEVELS) or "usr",
        inputs.text(body, "default_value", limit=1000, required=True) or "",
    )

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        if config.catalog.flag(flag.key) is not None:
            raise ManagementConflict(
                f"A feature flag has the key {flag.key!r}.", code="FLAG_KEY_ALREADY_EXISTS"
            )
        flags = (*config.catalog.feature_flags, flag)
        return lookup.put_catalog(config, feature_flags=flags), None

    call.tenant.update(change)
    return success(201)


@op("PUT", "/feature_flags/{feature_flag_key}", "update:feature_flags", "UpdateFeatureFlag")
def update_feature_flag(call: Call) -> Reply:
    key = call.params["feature_flag_key"]
    type_name = call.required("type")
    level = call.required("allow_override_level")
    if type_name not in TYPES or level not in ("env", "org"):
        raise ManagementBadRequest(
            "type must be str, int or bool; allow_override_level env or org."
        )
    name, description = call.required("name"), call.q("description") or ""
    flag = _flag(key, name, description, type_name, level, call.required("default_value"))

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        old = lookup.flag(config, key)
        new = replace(flag, id=old.id, env_value=old.env_value if old.type == flag.type else None)
        flags = tuple(new if f.key == key else f for f in config.catalog.feature_flags)
        config = lookup.put_catalog(config, feature_flags=flags)
        if old.type != new.type:  # overrides of the old type would no longer fit
            config = _without_overrides(config, key)
        return config, None

    call.tenant.update(change)
    return success()


@op("DELETE", "/feature_flags/{feature_flag_key}", "delete:feature_flags", "DeleteFeatureFlag")
def delete_feature_flag(call: Call) -> Reply:
    key = call.params["feature_flag_key"]

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        lookup.flag(config, key)
        flags = tuple(f for f in config.catalog.feature_flags if f.key != key)
        return lookup.put_catalog(_without_overrides(config, key), feature_flags=flags), None

    call.tenant.update(change)
    return success()


def _without_overrides(config: ServerConfig, key: str) -> ServerConfig:
    def kept(values: object) -> MappingProxyType[str, bool | str | int]:
        assert isinstance(values, MappingProxyType | dict)
        return MappingProxyType({k: v for k, v in values.items() if k != key})

    return replace(
        config,
        orgs=tuple(replace(o, feature_flags=kept(o.feature_flags)) for o in config.orgs),
        users=tuple(replace(u, feature_flags=kept(u.feature_flags)) for u in config.users),
    )


# --- the environment -----------------------------------------------------------------------


@op("GET", "/environment", "read:environments", "getEnvironment")
def get_environment(call: Call) -> Reply:
    issuer = call.tenant.issuer
    environment = {
        "code": "production",
        "name": "Production",
        "is_default": True,
        "is_live": True,
        "kinde_domain": issuer.split("://", 1)[-1],
        "custom_domain": None,
        "theme_code": "light",
        "color_scheme": "light",
        "created_on": iso(call.tenant.started_at),
    }
    return success(environment=environment)


@op(
    "GET",
    "/environment/feature_flags",
    "read:environment_feature_flags",
    "GetEnvironementFeatureFlags",
)
def get_environement_feature_flags(call: Call) -> Reply:
    flags = {
        f.key: {"type": FLAG_TYPE_NAMES[f.type], "value": flag_text(f.env)}
        for f in call.config.catalog.feature_flags
    }
    return success(feature_flags=flags, next_token=None)


@op(
    "PATCH",
    "/environment/feature_flags/{feature_flag_key}",
    "update:environment_feature_flags",
    "UpdateEnvironementFeatureFlagOverride",
)
def update_environement_feature_flag_override(call: Call) -> Reply:
    body = call.table()
    body.only({"value"})
    text = inputs.text(body, "value", limit=1000, required=True) or ""
    key = call.params["feature_flag_key"]

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        old = lookup.flag(config, key)
        return _put_flag(config, replace(old, env_value=override_value(old.type, text))), None

    call.tenant.update(change)
    return success()


def _put_flag(config: ServerConfig, new: FeatureFlag) -> ServerConfig:
    flags = tuple(new if f.key == new.key else f for f in config.catalog.feature_flags)
    return lookup.put_catalog(config, feature_flags=flags)


@op(
    "DELETE",
    "/environment/feature_flags/{feature_flag_key}",
    "delete:environment_feature_flags",
    "DeleteEnvironementFeatureFlagOverride",
)
def delete_environement_feature_flag_override(call: Call) -> Reply:
    key = call.params["feature_flag_key"]

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        return _put_flag(config, replace(lookup.flag(config, key), env_value=None)), None

    call.tenant.update(change)
    return success()


@op(
    "DELETE",
    "/environment/feature_flags",
    "delete:environment_feature_flags",
    "DeleteEnvironementFeatureFlagOverrides",
)
def delete_environement_feature_flag_overrides(call: Call) -> Reply:
    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        flags = tuple(replace(f, env_value=None) for f in config.catalog.feature_flags)
        return lookup.put_catalog(config, feature_flags=flags), None

    call.tenant.update(change)
    return success()


OPERATIONS = [
    create_feature_flag,
    update_feature_flag,
    delete_feature_flag,
    get_environment,
    get_environement_feature_flags,
    update_environement_feature_flag_override,
    delete_environement_feature_flag_override,
    delete_environement_feature_flag_overrides,
]

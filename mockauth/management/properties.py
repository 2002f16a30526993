"""Properties (of users, organisations and applications) and property categories: list,
create, update, delete. Values are set under users.py, orgs.py and apps.py."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from mockauth.management import inputs, lookup
from mockauth.management.errors import ManagementBadRequest, ManagementConflict
from mockauth.management.operations import Call, Reply, op, success
from mockauth.tenant.catalog import (
    CONTEXTS,
    KEY_RE,
    PROPERTY_TYPES,
    Category,
    Property,
    prefixed_id,
)
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.validate import Table


def _context(call: Call) -> str | None:
    context = call.q("context")
    if context is not None and context not in CONTEXTS:
        raise ManagementBadRequest(f"context must be one of {', '.join(CONTEXTS)}.")
    return context


@op("GET", "/properties", "read:properties", "GetProperties")
def get_properties(call: Call) -> Reply:
    context = _context(call)
    found = [p for p in call.config.catalog.properties if context in (None, p.context)]
    page, more = call.cursor_page(found, lambda p: p.id)
    entries = [
        {
            "id": p.id,
            "key": p.key,
            "name": p.name,
            "is_private": p.is_private,
            "description": p.description,
            "is_kinde_property": False,
        }
        for p in page
    ]
    return success(properties=entries, has_more=more)


def _category(config: ServerConfig, body: Table) -> str:
    ident = inputs.text(body, "category_id", required=True) or ""
    if config.catalog.category(ident) is None:
        raise lookup.not_found("property category", ident)
    return ident


@op("POST", "/properties", "create:properties", "CreateProperty")
def create_property(call: Call) -> Reply:
    body = call.table()
    body.only({"name", "description", "key", "type", "context", "is_private", "category_id"})
    key = inputs.text(body, "key", limit=200, required=True) or ""
    if not KEY_RE.match(key):
        raise body.fail("key", key, "must be 1 to 200 printable ASCII characters, no spaces")
    fields = {
        "key": key,
        "name": inputs.text(body, "name", required=True) or "",
        "description": inputs.text(body, "description", limit=1000) or "",
        "type": inputs.choice(body, "type", PROPERTY_TYPES, required=True),
        "context": inputs.choice(body, "context", CONTEXTS, required=True),
        "is_private": bool(inputs.boolean(body, "is_private")),
    }
    ident = prefixed_id("prop_", inputs.new_uuid())

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        if config.catalog.property(key) is not None:
            raise ManagementConflict(
                f"A property has the key {key!r}.", code="PROPERTY_KEY_ALREADY_EXISTS"
            )
        prop = Property(id=ident, category_id=_category(config, body), **fields)
        return lookup.put_catalog(config, properties=(*config.catalog.properties, prop)), None

    call.tenant.update(change)
    return success(201, property={"id": ident})


def _by_id(config: ServerConfig, ident: str) -> Property:
    found = next((p for p in config.catalog.properties if p.id == ident), None)
    if found is None:
        raise lookup.not_found("property", ident)
    return found


@op("PUT", "/properties/{property_id}", "update:properties", "UpdateProperty")
def update_property(call: Call) -> Reply:
    body = call.table()
    body.only({"name", "description", "is_private", "category_id"})
    name = inputs.text(body, "name", required=True) or ""
    description = inputs.text(body, "description", limit=1000)
    private = inputs.boolean(body, "is_private")

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        old = _by_id(config, call.params["property_id"])
        new = replace(
            old,
            name=name,
            description=old.description if description is None else description,
            is_private=old.is_private if private is None else private,
            category_id=_category(config, body),
        )
        props = tuple(new if p.id == old.id else p for p in config.catalog.properties)
        return lookup.put_catalog(config, properties=props), None

    call.tenant.update(change)
    return success()


@op("DELETE", "/properties/{property_id}", "delete:properties", "DeleteProperty")
def delete_property(call: Call) -> Reply:
    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        old = _by_id(config, call.params["property_id"])

        def kept(values: object) -> MappingProxyType[str, str]:
            assert isinstance(values, MappingProxyType | dict)
            return MappingProxyType({k: v for k, v in values.items() if k != old.key})

        config = replace(
            config,
            users=tuple(replace(u, properties=kept(u.properties)) for u in config.users),
            orgs=tuple(replace(o, properties=kept(o.properties)) for o in config.orgs),
            apps=tuple(replace(a, properties=kept(a.properties)) for a in config.apps),
        )
        props = tuple(p for p in config.catalog.properties if p.id != old.id)
        return lookup.put_catalog(config, properties=props), None

    call.tenant.update(change)
    return success()


# --- categories ----------------------------------------------------------------------------


@op("GET", "/property_categories", "read:property_categories", "GetCategories")
def get_categories(call: Call) -> Reply:
    context = _context(call)
    found = [c for c in call.config.catalog.categories if context in (None, c.context)]
    page, more = call.cursor_page(found, lambda c: c.id)
    return success(categories=[{"id": c.id, "name": c.name} for c in page], has_more=more)


@op("POST", "/property_categories", "create:property_categories", "CreateCategory")
def create_category(call: Call) -> Reply:
    body = call.table()
    body.only({"name", "context"})
    name = inputs.text(body, "name", required=True) or ""
    context = inputs.choice(body, "context", CONTEXTS, required=True)
    category = Category(id=prefixed_id("cat_", inputs.new_uuid()), name=name, context=context)

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        if any(c.name == name and c.context == context for c in config.catalog.categories):
            raise ManagementConflict(
                f"A {context} category is named {name[:100]!r}.", code="CATEGORY_ALREADY_EXISTS"
            )
        categories = (*config.catalog.categories, category)
        return lookup.put_catalog(config, categories=categories), None

    call.tenant.update(change)
    return success(201, category={"id": category.id})


@op("PUT", "/property_categories/{category_id}", "update:property_categories", "UpdateCategory")
def update_category(call: Call) -> Reply:
    body = call.table()
    body.only({"name"})
    name = inputs.text(body, "name", required=True) or ""

    def change(config: ServerConfig) -> tuple[ServerConfig, None]:
        old = config.catalog.category(call.params["category_id"])
        if old is None:
            raise lookup.not_found("property category", call.params["category_id"])
        new = replace(old, name=name)
        categories = tuple(new if c.id == old.id else c for c in config.catalog.categories)
        return lookup.put_catalog(config, categories=categories), None

    call.tenant.update(change)
    return success()


OPERATIONS = [
    get_properties,
    create_property,
    update_property,
    delete_property,
    get_categories,
    create_category,
    update_category,
]

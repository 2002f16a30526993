"""Logos of the environment and of each organisation: read, add (a multipart upload of a
PNG, JPEG, GIF, WebP or SVG image), delete. mockauth shows no logo, so it keeps the file's
name by type (light, dark) and not the image; anything that is not an image is a 400."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from mockauth.management import lookup
from mockauth.management.errors import ManagementBadRequest
from mockauth.management.operations import Call, Reply, op, success
from mockauth.management.uploads import Upload
from mockauth.tenant.config import ServerConfig
from mockauth.tenant.environment import LOGO_TYPES

ORG_PATH = "/organizations/{org_code}/logos"
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f/\\]")


def _kind(call: Call) -> str:
    kind = call.params["type"]
    if kind not in LOGO_TYPES:
        raise ManagementBadRequest(f"The logo type must be one of {', '.join(LOGO_TYPES)}.")
    return kind


def _is_image(data: bytes) -> bool:
    if data.startswith(_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return True
    text = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<svg", b"<?xml")) and b"<svg" in text


def _file_name(call: Call, kind: str) -> str:
    """The uploaded logo's file name (its last path part), once it is an image."""
    upload: Upload = call.upload("logo")
    if not _is_image(upload.data):
        raise ManagementBadRequest(
            "The logo must be a PNG, JPEG, GIF, WebP or SVG image.", code="INVALID_LOGO"
        )
    name = re.split(r"[/\\]", upload.filename or "")[-1]
    name = _UNSAFE.sub("", name)[:256].strip()
    return name or f"logo_{kind}"


def _with(logos: Mapping[str, str], kind: str, name: str | None) -> Mapping[str, str]:
    out = {k: v for k, v in logos.items() if k != kind}
    if name is not None:
        out[kind] = name
    return MappingProxyType({k: out[k] for k in LOGO_TYPES if k in out})


# --- the environment -----------------------------------------------------------------------


@op("GET", "/environment/logos", "read:environments", "ReadLogo")
def read_logo(call: Call) -> Reply:
    logos = call.config.environment.logos
    return success(logos=[{"type": k, "file_name": v} for k, v in logos.items()])


def _env_logo(call: Call, kind: str, name: str | None) -> bool:
    """Set (or with None, drop) the environment's logo of ``kind``; whether it had one."""

    def change(config: ServerConfig) -> tuple[ServerConfig, bool]:
        environment = config.environment
        had = kind in environment.logos
        new = replace(environment, logos=_with(environment.logos, kind, name))
        return replace(config, environment=new), had

    return call.tenant.update(change)


@op("PUT", "/environment/logos/{type}", "update:environments", "AddLogo", upload=True)
def add_logo(call: Call) -> Reply:
    kind = _kind(call)
    _env_logo(call, kind, _file_name(call, kind))
    return success()


@op("DELETE", "/environment/logos/{type}", "update:environments", "DeleteLogo")
def delete_logo(call: Call) -> Reply:
    return success() if _env_logo(call, _kind(call), None) else (204, {})


# --- organisations -------------------------------------------------------------------------


def _org_entry(code: str, kind: str, name: str) -> dict[str, Any]:
    path = "/logo" if kind == "light" else "/logo_dark"
    return {"type": kind, "file_name": name, "path": f"{path}?p_org_code={code}"}


@op("GET", ORG_PATH, "read:organizations", "ReadOrganizationLogo")
def read_organization_logo(call: Call) -> Reply:
    org = lookup.org(call.config, call.params["org_code"])
    return success(logos=[_org_entry(org.code, k, v) for k, v in org.logos.items()])


def _org_logo(call: Call, kind: str, name: str | None) -> bool:
    def change(config: ServerConfig) -> tuple[ServerConfig, bool]:
        org = lookup.org(config, call.params["org_code"])
        new = replace(org, logos=_with(org.logos, kind, name))
        return lookup.put_org(config, new), kind in org.logos

    return call.tenant.update(change)


@op(
    "POST",
    ORG_PATH + "/{type}",
    "update:organizations",
    "AddOrganizationLogo",
    upload=True,
)
def add_organization_logo(call: Call) -> Reply:
    kind = _kind(call)
    _org_logo(call, kind, _file_name(call, kind))
    return success()


@op("DELETE", ORG_PATH + "/{type}", "update:organizations", "DeleteOrganizationLogo")
def delete_organization_logo(call: Call) -> Reply:
    return success() if _org_logo(call, _kind(call), None) else (204, {})


OPERATIONS = [
    read_logo,
    add_logo,
    delete_logo,
    read_organization_logo,
    add_organization_logo,
    delete_organization_logo,
]

"""Kinde's two ways of paging: a ``next_token`` (page_size, next_token) and cursors by id
(page_size, starting_after, ending_before, with ``has_more``)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import TypeVar

from mockauth.management.errors import ManagementBadRequest

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 500


def page_size(value: str | None, default: int = DEFAULT_PAGE_SIZE) -> int:
    if value is None or value == "":
        return default
    if not value.isascii() or not value.isdigit() or not 1 <= int(value[:6]) <= MAX_PAGE_SIZE:
        raise ManagementBadRequest(
            f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}.", code="INVALID_PAGE_SIZE"
        )
    return int(value)


def token_page(items: Sequence[T], size: int, next_token: str | None) -> tuple[list[T], str | None]:
    """One page, and the token of the next (None on the last)."""
    start = _offset(next_token)
    page = list(items[start : start + size])
    more = start + size < len(items)
    return page, _token(start + size) if more else None


def cursor_page(
    items: Sequence[T],
    size: int,
    key: Callable[[T], str],
    *,
    starting_after: str | None = None,
    ending_before: str | None = None,
) -> tuple[list[T], bool]:
    """One page after (or before) the item with the given id, and whether more follow."""
    ids = [key(i) for i in items]
    if starting_after:
        start = _index(ids, starting_after, "starting_after") + 1
        page = list(items[start : start + size])
        return page, start + size < len(items)
    if ending_before:
        end = _index(ids, ending_before, "ending_before")
        begin = max(end - size, 0)
        return list(items[begin:end]), begin > 0
    return list(items[:size]), size < len(items)


def _index(ids: list[str], ident: str, name: str) -> int:
    try:
        return ids.index(ident)
    except ValueError:
        raise ManagementBadRequest(
            f"{name} {ident[:100]!r} is not the id of an item in this list.", code="INVALID_CURSOR"
        ) from None


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix == "offset" and number.isdigit() and len(number) < 10:
            return int(number)
    except (ValueError, UnicodeDecodeError):
        pass
    raise ManagementBadRequest("next_token is not one this server gave.", code="INVALID_TOKEN")

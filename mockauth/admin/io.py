"""The admin API's JSON in and out: request bodies read as JSON, answers never cached, and
what the bodies of its own endpoints (keys, clock, journal) may hold. The directory's
bodies (apps, APIs, users, orgs) and fault rules are config tables, ruled by the parsers."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mockauth.errors import InvalidRequestError
from mockauth.oauth.params import read_body
from mockauth.tenant.validate import Bounds

# What ConfigErrors raised while reading a request name as their source.
SOURCE = "request body"
MAX_BODY = 256 * 1024
NO_STORE = {"Cache-Control": "no-store"}

# What each body may hold, with the ranges of its numbers (the OpenAPI document states these).
_SECONDS = 100 * 365 * 86_400.0  # far beyond any token lifetime, within time_t
OVERLAP = Bounds(0.0, _SECONDS)
ROTATE_KEYS = frozenset({"overlap"})
RETIRE_KEYS = frozenset({"kid"})
# A clock change is one of these; None: ``freeze``, which takes only true (now).
CLOCK_CHANGES: dict[str, Bounds | None] = {
    "offset": Bounds(-_SECONDS, _SECONDS),
    "advance": Bounds(-_SECONDS, _SECONDS),
    "frozen_at": Bounds(0.0, _SECONDS),
    "freeze": None,
}
JOURNAL_FILTERS = ("path", "client_id", "status", "fault", "since", "limit")
JOURNAL_NUMBERS = ("status", "since", "limit")  # non-negative integers of at most 12 digits
JOURNAL_NUMBER_DIGITS = 12


def json_response(data: object, status: int = 200) -> Response:
    return Response(json.dumps(data), status, media_type="application/json", headers=NO_STORE)


async def read_json(request: Request, *, optional: bool = False) -> Any:
    raw = await read_body(request, MAX_BODY)
    if not raw.strip():
        if optional:
            return {}
        raise InvalidRequestError("The request body must be a JSON document.")
    try:
        body = json.loads(raw)
        # "\ud800" is valid JSON but no text: it could not be sent back or put in a page.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRequestError("The request body holds a lone surrogate (\\ud800).") from exc
    except ValueError as exc:
        raise InvalidRequestError(f"The request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise InvalidRequestError("The request body is nested too deeply.") from exc
    return body

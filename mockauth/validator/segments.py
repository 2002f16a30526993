"""Step 1 of validation: a compact JWS's structure, before any key is looked at.

Three segments, each canonical unpadded base64url (jwks._b64decode), header and payload
JSON objects: no NaN or Infinity, no lone surrogate, not nested past what json decodes.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

from mockauth.errors import MalformedTokenError
from mockauth.validator.jwks import _b64decode

MAX_TOKEN_LENGTH = 65_536


def split_token(token: object) -> list[str]:
    """The three segments of a compact JWS; MalformedTokenError unless there are three."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise MalformedTokenError("not a token string of at most 64 KiB")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedTokenError(f"a JWS has 3 segments, this has {len(parts)}")
    return parts


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


_JSON = json.JSONDecoder(parse_constant=_reject_constant)
# A \uD800-\uDFFF escape: json decodes a lone one into a str no UTF-8 can hold (RFC 8259 8.2),
# which would fail later in the API that stores or logs the claim. Pairs are fine and rare.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def json_segment(segment: str, what: str) -> dict[str, Any]:
    """A header or payload segment as the JSON object it must be; else MalformedTokenError."""
    raw = _b64decode(segment, what, canonical=True)
    try:
        text = raw.decode("utf-8")
        value = _JSON.decode(text)
        if _SURROGATE_ESCAPE.search(text):
            json.dumps(value, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError if lone
    # ValueError covers UnicodeError; RecursionError: nested too deeply, before any key.
    except (ValueError, RecursionError):
        raise MalformedTokenError(f"the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedTokenError(f"the {what} is not a JSON object")
    return value

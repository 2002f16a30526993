"""JOSE encodings: unpadded base64url, and a JSON segment of a compact JWS."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE wants it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_segment(value: Mapping[str, Any]) -> str:
    """A JSON object as a compact JWS segment (no spaces, ASCII, base64url)."""
    return b64url(json.dumps(value, separators=(",", ":")).encode())

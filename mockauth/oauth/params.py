"""OAuth request parameters: form bodies read size-capped and strictly decoded, repeated
parameters found, audiences and scopes read as Kinde reads them."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, unquote_plus

from starlette.requests import ClientDisconnect, Request

from mockauth.errors import InvalidRequestError, RequestTooLargeError
from mockauth.tenant.journal import RequestSummary

MAX_BODY = 64 * 1024
MAX_FIELDS = 100
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Form:
    """A decoded form body; ``one`` enforces RFC 6749's single-occurrence rule."""

    fields: tuple[tuple[str, str], ...]

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.fields if k == name]

    def one(self, name: str) -> str | None:
        """The parameter's value, None when absent; sent twice is invalid_request."""
        values = self.all(name)
        if len(values) > 1:
            raise InvalidRequestError(f"The '{name}' parameter was included more than once.")
        return values[0] if values else None

    def required(self, name: str) -> str:
        value = self.one(name)
        if not value:
            raise InvalidRequestError(f"The request is missing the required '{name}' parameter.")
        return value


def body_too_large(limit: int = MAX_BODY) -> RequestTooLargeError:
    return RequestTooLargeError(f"The request body must be at most {limit} bytes.")


def content_length(value: bytes | str) -> int | None:
    """A Content-Length header's value, or None when it is not a number. Past 18 digits it
    is only "too large" (int() of thousands of digits raises, or takes quadratic time)."""
    digits = value.decode("latin-1") if isinstance(value, bytes) else value
    if not digits.isascii() or not digits.isdigit():
        return None
    stripped = digits.lstrip("0")
    return int(stripped or "0") if len(stripped) <= 18 else 10**18


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The whole request body, refused (413) past ``limit`` bytes before more is read."""
    header = request.headers.get("content-length")
    length = None if header is None else content_length(header)
    if header is not None and length is None:
        raise InvalidRequestError("The Content-Length header is not a number.")
    if length is not None and length > limit:
        raise body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise body_too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect as exc:
        # The client hung up (or sent a broken chunked body): a client error, not a 500 to log.
        raise InvalidRequestError("The connection closed before the whole body arrived.") from exc
    return b"".join(chunks)


async def read_form(request: Request) -> Form:
    """Read and parse an application/x-www-form-urlencoded body, or raise an OAuthError."""
    body = await read_body(request)
    return parse_form(body, request.headers.get("content-type", ""))


def parse_form(body: bytes, content_type: str) -> Form:
    """Parse a whole form body sent with ``content_type``, or raise an OAuthError."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != FORM_TYPE and (body or media_type):
        raise InvalidRequestError(f"The request body must be sent as {FORM_TYPE}.")
    if body.count(b"&") >= MAX_FIELDS:  # as parse_qsl counts them
        raise InvalidRequestError(f"The request body has more than {MAX_FIELDS} parameters.")
    try:
        fields = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequestError("The request body is not a valid UTF-8 form.") from exc
    return Form(tuple(fields))


def repeated_names(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """The parameters sent more than once, in order (RFC 6749 3.1: none may be)."""
    seen: set[str] = set()
    repeated: list[str] = []
    for name, _ in pairs:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


def requested_audiences(values: list[str]) -> list[str]:
    """Every audience, whether repeated or space-separated, in order and without repeats."""
    audiences = list(dict.fromkeys(a for value in values for a in value.split()))
    if not audiences:
        raise InvalidRequestError("The request is missing the required 'audience' parameter.")
    return audiences


def requested_scope(value: str | None) -> str | None:
    """The ``scope`` parameter as Kinde reads it: empty or blank is the same as absent.

    Kinde's OAuth layer (Ory Fosite) splits ``scope`` and drops empty items, so it cannot
    tell ``scope=`` from no scope; ``@kinde/management-api-js`` always sends ``scope=``.
    """
    return value if value is not None and value.split() else None


def parse_basic(value: str) -> tuple[str, str] | None:
    """(client_id, secret) from an Authorization header value; None when it is not Basic.

    Raises ValueError when it is Basic but malformed.
    """
    scheme, _, param = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    # ValueError covers binascii.Error, UnicodeDecodeError and non-ASCII header text.
    decoded = base64.b64decode(param.strip(), validate=True).decode("utf-8")
    user, sep, password = decoded.partition(":")
    if not sep:
        raise ValueError("Basic credentials without ':'")
    # RFC 6749 2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote_plus(user), unquote_plus(password)


def summarize(
    path: str, pairs: Iterable[tuple[str, str]], headers: Iterable[tuple[bytes, bytes]]
) -> RequestSummary:
    """What fault rules and the journal may know of a request: its form or query pairs, and
    the HTTP Basic client id when those name none."""
    summary = RequestSummary.from_pairs(path, pairs)
    if summary.client_id is None:
        for name, value in headers:
            if name.lower() == b"authorization":
                try:
                    basic = parse_basic(value.decode("latin-1"))
                except ValueError:
                    basic = None
                if basic is not None:
                    return replace(summary, client_id=basic[0])
    return summary

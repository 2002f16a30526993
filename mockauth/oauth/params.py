"""Reading OAuth form bodies: size-capped, strictly decoded, duplicates detected."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request

from mockauth.errors import InvalidRequestError, RequestTooLargeError

MAX_BODY = 64 * 1024
# httptools buffers headers without any bound; oversize ones get an OAuth 431 (server.py).
MAX_HEADER_BYTES = 32 * 1024
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


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The whole request body, refused (413) past ``limit`` bytes before more is read."""
    length = request.headers.get("content-length")
    if length is not None and not (length.isascii() and length.isdigit()):
        raise InvalidRequestError("The Content-Length header is not a number.")
    if length is not None and int(length) > limit:
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

"""A multipart/form-data body (the logo uploads, as Kinde's clients send them) read into its
fields, with the standard library's MIME parser; anything else is Kinde's 400."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from mockauth.management.errors import ManagementBadRequest

FORM_DATA = "multipart/form-data"


@dataclass(frozen=True)
class Upload:
    """One field of the form: a file's name (None for a plain field), type and bytes."""

    filename: str | None
    content_type: str
    data: bytes


def parse_uploads(raw: bytes, content_type: str) -> dict[str, Upload]:
    """The form's fields by name (the first of each name)."""
    if content_type.split(";", 1)[0].strip().lower() != FORM_DATA:
        raise ManagementBadRequest(f"The request body must be {FORM_DATA}.")
    try:
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("ascii")
        message = BytesParser(policy=policy.HTTP).parsebytes(head + raw)
        if not isinstance(message, EmailMessage) or not message.is_multipart():
            raise ValueError("not a multipart body")
        fields: dict[str, Upload] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_content_disposition() != "form-data" or not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            fields.setdefault(name, Upload(part.get_filename(), part.get_content_type(), data))
    except (ValueError, LookupError, TypeError, UnicodeError) as exc:
        raise ManagementBadRequest(f"The {FORM_DATA} body cannot be read.") from exc
    return fields

"""Reading a multipart/form-data body (RFC 7578) as Discord does for a message with files: the
`payload_json` part and the `files[n]` parts. The fake Discord reads the service's uploads with it,
and the tests check them with it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any

_FILE_PART = re.compile(r"files\[(?P<n>[0-9]+)\]")


class BadForm(ValueError):
    """Not a form Discord would read."""


@dataclass(frozen=True, slots=True)
class FilePart:
    """One `files[n]` part."""

    n: int
    filename: str
    content_type: str
    data: bytes


def is_form(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"


def read_form(content_type: str, body: bytes) -> tuple[dict[str, Any], list[FilePart]]:
    """The message payload (from `payload_json`) and the file parts, in the order sent."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise BadForm("the body is not multipart")
    payload: dict[str, Any] | None = None
    files: list[FilePart] = []
    for part in message.iter_parts():
        if part.get_content_disposition() != "form-data":
            raise BadForm("a part without Content-Disposition: form-data")
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(data, bytes):
            raise BadForm("a part without a name")
        if name == "payload_json":
            payload = json.loads(data)
            continue
        match = _FILE_PART.fullmatch(name)
        filename = part.get_filename()
        if match is None or not filename:
            raise BadForm(f"part {name!r} is neither payload_json nor files[n] with a filename")
        files.append(FilePart(int(match["n"]), filename, part.get_content_type(), data))
    if not isinstance(payload, dict):
        raise BadForm("no payload_json part holding a JSON object")
    return payload, files

"""What a request to /interactions must pass before it is parsed: a size limit, a share of the
memory all unsigned bodies may hold at once, and an Ed25519 signature by Discord's public key
(or a development key pair in mock mode)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from app.text_rules import canonical_uint

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from app.settings import Settings

log = logging.getLogger("coach_plans")

MAX_BODY_BYTES = 1024 * 1024
MAX_CLOCK_SKEW_SECONDS = 300
SIGNATURE_HEADERS = frozenset((b"x-signature-ed25519", b"x-signature-timestamp"))
# Bodies not yet checked may hold this much memory together, past the first FREE_BODY_BYTES of
# each: Discord's own are a few kilobytes, so only bodies near the limit, held open by a client
# that is not Discord, ever wait on it.
BODY_BUDGET_BYTES = 32 * 1024 * 1024
FREE_BODY_BYTES = 64 * 1024
# A Unix time in seconds has 10 digits until the year 2286; more is not a time (and would
# overflow a float in the comparison with now).
_TIMESTAMP_DIGITS = 12


class BodyBudget:
    """The memory held by the unsigned bodies being read, in one process (one event loop: no
    lock is needed between a check and its update)."""

    def __init__(self, total: int = BODY_BUDGET_BYTES) -> None:
        self.total = total
        self.held = 0

    def take(self, size: int) -> bool:
        """Hold `size` more bytes of a body; False when that would pass the budget."""
        if self.held + size > self.total:
            return False
        self.held += size
        return True

    def give_back(self, size: int) -> None:
        self.held -= size


BODIES = BodyBudget()


class BodyTooLarge(Exception):
    """The body is over MAX_BODY_BYTES: known from Content-Length before it is read, or cut as
    it arrives."""


class BodiesBusy(Exception):
    """The bodies being read already hold all the memory they may share."""


class ClientGone(Exception):
    """The client went away (or was too slow: app/runtime/server.py) before its body was
    complete."""


async def read_body(receive: Callable[[], Awaitable[Mapping[str, Any]]], declared: bytes) -> bytes:
    """The raw body, straight from the ASGI messages (it arrives in one almost always)."""
    # A length check first: int() refuses a string of more than 4300 digits.
    if declared.isdigit() and (len(declared) > 9 or int(declared) > MAX_BODY_BYTES):
        raise BodyTooLarge()
    chunks = []
    size = 0
    held = 0  # taken from the shared budget, for the part past FREE_BODY_BYTES
    try:
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise ClientGone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BodyTooLarge()
            over = max(0, size - FREE_BODY_BYTES) - held
            if over:
                if not BODIES.take(over):
                    raise BodiesBusy()
                held += over
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        BODIES.give_back(held)  # the signature check follows at once, without awaiting


def load_or_create_mock_key(path: Path) -> SigningKey:
    """The development signing key; made once and kept so `coach-plans send` can sign too."""
    try:
        return SigningKey(bytes.fromhex(path.read_text().strip()))
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = SigningKey.generate()
    # O_EXCL: if two workers race, one writes and both then read the same key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return SigningKey(bytes.fromhex(path.read_text().strip()))
    with os.fdopen(fd, "w") as file:
        file.write(key.encode().hex() + "\n")
    log.info("made a development signing key in %s", path)
    return key


def verify_key_for(settings: Settings) -> VerifyKey:
    """The key Discord's requests are checked against: DISCORD_PUBLIC_KEY, or in mock mode the
    development key's."""
    if settings.mock_mode:
        return load_or_create_mock_key(settings.mock_key_file).verify_key
    assert settings.discord_public_key is not None  # enforced by Settings
    return VerifyKey(bytes.fromhex(settings.discord_public_key))


def sign(key: SigningKey, timestamp: str, body: bytes) -> str:
    return key.sign(timestamp.encode() + body).signature.hex()


def verify(key: VerifyKey, signature_hex: str, timestamp: str, body: bytes) -> bool:
    """True only for a well-formed signature of timestamp + raw body by `key`.

    discord_interactions.verify_key does the same check, but builds the key from hex on every
    call and prints failures to stdout; this one takes the key built once at start-up."""
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    if len(signature) != 64:
        return False
    try:
        key.verify(timestamp.encode() + body, signature)
    except BadSignatureError:
        return False
    return True


def check_signature(headers: dict[bytes, bytes], key: VerifyKey, body: bytes) -> str | None:
    """Why a request is not Discord's, or None when it is: its X-Signature-Ed25519 signs
    X-Signature-Timestamp + body with `key`, and that time is within 5 minutes of now."""
    signature = headers.get(b"x-signature-ed25519", b"").decode("latin-1")
    timestamp = headers.get(b"x-signature-timestamp", b"").decode("latin-1")
    if not signature or not timestamp:
        return "Missing X-Signature-Ed25519 or X-Signature-Timestamp header."
    if not verify(key, signature, timestamp, body):
        return "The request signature is not valid."
    # Only checked once the signature proves the timestamp is the one that was signed.
    sent = canonical_uint(timestamp, _TIMESTAMP_DIGITS)
    if sent is None:
        return "X-Signature-Timestamp is not a Unix time."
    if abs(time.time() - sent) > MAX_CLOCK_SKEW_SECONDS:
        return "The request timestamp is more than 5 minutes away from now (a replay?)."
    return None

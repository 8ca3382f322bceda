"""Ed25519 request signatures: Discord's public key, or a development key pair in mock mode."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from app.settings import Settings

log = logging.getLogger("coach_plans")


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

"""Where archived chart images are kept: a local directory (the default) or an S3-compatible
bucket (CHART_BUCKET, app/chart_bucket.py); app/services.py picks one. Both speak this
module's `ChartStore`.

A chart is stored under the name `<chart id>-<first 32 hex of its SHA-256><ext>` in the database
(`stored_path`), whichever the backend, so a plan's record never changes when the archive moves
and the ETag of GET /charts/{id} stays the same. The directory keeps files by that name; the
bucket keys objects by the content hash alone (`object_key`), so equal images are kept once.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Literal, Protocol

import anyio.to_thread

Backend = Literal["directory", "bucket"]

_NAME = re.compile(r"(?P<id>[0-9]+)-(?P<digest>[0-9a-f]{32})(?P<ext>\.[a-z]{3,4})")


class StoreError(Exception):
    """The store could not do what was asked; `reason` says why, in an operator's words.
    `transient` faults (5xx, SlowDown, a dropped connection) may pass on their own; `retried`
    says the store has already retried it as often as the retry policy allows."""

    def __init__(self, reason: str, *, transient: bool, retried: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retried = retried


class ChartStore(Protocol):
    backend: Backend

    async def put(self, name: str, data: bytes, content_type: str) -> None:
        """Keep `data` under `name`; raises StoreError."""

    async def get(self, name: str) -> bytes | None:
        """The bytes kept under `name`, None when there are none; raises StoreError."""

    async def check(self) -> None:
        """Raise StoreError unless the store can be written to and read now."""

    async def close(self) -> None: ...


def stored_name(chart_id: int, data: bytes, ext: str) -> str:
    return f"{chart_id}-{hashlib.sha256(data).hexdigest()[:32]}{ext}"


def digest_of(name: str) -> str | None:
    """The content hash a stored name carries, or None when it is not such a name."""
    match = _NAME.fullmatch(name)
    return match["digest"] if match else None


def holds(name: str, data: bytes) -> bool:
    """The bytes are the ones the name says (their hash starts with the name's digest)."""
    digest = digest_of(name)
    return digest is not None and hashlib.sha256(data).hexdigest()[:32] == digest


def object_key(name: str) -> str:
    """The bucket's key for a stored name: its content hash and extension."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"not a stored chart name: {name!r}")
    return f"charts/{match['digest']}{match['ext']}"


class DirectoryStore:
    """Files under CHART_STORAGE_DIR, each written atomically."""

    backend: Backend = "directory"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def put(self, name: str, data: bytes, content_type: str) -> None:
        try:
            await anyio.to_thread.run_sync(self._write, name, data)
        except OSError as exc:
            raise StoreError(f"{self.folder}: {exc.strerror or exc}", transient=True) from exc

    async def get(self, name: str) -> bytes | None:
        try:
            return await anyio.to_thread.run_sync((self.folder / name).read_bytes)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(
                f"{self.folder / name}: {exc.strerror or exc}", transient=True
            ) from exc

    async def check(self) -> None:
        def writable() -> bool:
            self.folder.mkdir(parents=True, exist_ok=True)
            return os.access(self.folder, os.W_OK | os.X_OK)

        try:
            ok = await anyio.to_thread.run_sync(writable)
        except OSError as exc:
            raise StoreError(f"{self.folder}: {exc.strerror or exc}", transient=True) from exc
        if not ok:
            raise StoreError(f"{self.folder} is not writable", transient=False)

    async def close(self) -> None:
        pass

    def _write(self, name: str, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # Per process, so two workers archiving the same chart never write into one file.
        partial = self.folder / f".{name}.{os.getpid()}.part"
        try:
            partial.write_bytes(data)
            partial.replace(self.folder / name)  # atomic: a reader never sees half a file
        except BaseException:
            partial.unlink(missing_ok=True)  # a full disk must not keep what did fit
            raise

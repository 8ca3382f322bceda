"""Where archived chart images are kept: a local directory (the default) or an S3-compatible
bucket (CHART_BUCKET, app/charts/bucket.py); app/runtime/services.py picks one. Both speak this
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
from typing import BinaryIO, Literal, Protocol

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
    spool: Path  # where downloads are written before they are kept

    async def put_file(self, name: str, path: Path, content_type: str) -> None:
        """Keep the bytes of the file at `path` under `name`; the file may be moved away.
        Raises StoreError."""

    async def get(self, name: str) -> bytes | None:
        """The bytes kept under `name`, None when there are none; raises StoreError."""

    async def open(self, name: str) -> BinaryIO | None:
        """The bytes kept under `name` as a file open for reading at its start (the caller
        closes it), None when there are none; raises StoreError."""

    async def check(self) -> None:
        """Raise StoreError unless the store can be written to and read now."""

    async def close(self) -> None: ...


def stored_name(chart_id: int, data: bytes, ext: str) -> str:
    return named(chart_id, hashlib.sha256(data).hexdigest(), ext)


def named(chart_id: int, sha256: str, ext: str) -> str:
    """The stored name of chart `chart_id` whose bytes have this SHA-256 (hex)."""
    return f"{chart_id}-{sha256[:32]}{ext}"


def spool_file(folder: Path, chart_id: int) -> Path:
    """Where a download of the chart is written as it arrives. Per process, so two workers
    downloading the same chart never write into one file; a dot file, so it is no chart."""
    return folder / f".{chart_id}.{os.getpid()}.part"


def _open_binary(path: Path) -> BinaryIO:
    return path.open("rb")


def size_of(file: BinaryIO) -> int:
    return os.fstat(file.fileno()).st_size


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
    """Files under CHART_STORAGE_DIR, each put in place atomically."""

    backend: Backend = "directory"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.spool = folder  # the same file system: a spooled download is renamed into place

    async def put_file(self, name: str, path: Path, content_type: str) -> None:
        try:
            # Atomic: a reader never sees half a file.
            await anyio.to_thread.run_sync(path.replace, self.folder / name)
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

    async def open(self, name: str) -> BinaryIO | None:
        path = self.folder / name
        try:
            return await anyio.to_thread.run_sync(_open_binary, path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{path}: {exc.strerror or exc}", transient=True) from exc

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

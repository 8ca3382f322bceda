"""Archived charts in an S3-compatible bucket (Tigris on Fly, AWS S3, MinIO…), through obstore.

Why obstore: the store is built in the warm-up, and a cold machine waits on it. Import time on
top of httpx (which the warm-up loads anyway), best of five of `python -X importtime`, 2 cores:
obstore 0.12 2 ms; botocore's SigV4 signer over httpx 63 ms; aiobotocore 3.10 211 ms (plus
about 100 ms more to build its S3 client from botocore's JSON models); aioboto3 241 ms. obstore
is async, typed, and wraps the Rust `object_store` crate of Apache Arrow.

obstore's own retries are turned off: retries follow the service's one policy (app/retry.py),
and each is logged. obstore reports an S3 failure as text that carries the HTTP status and the
S3 error code of the answer; `_fault` reads them from there to say what went wrong.

A chart goes up from its spooled download in one PUT (obstore holds it in memory meanwhile), and
comes back for a message through a temporary file, copied in pieces.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, TypeVar

import anyio
import obstore
from obstore.store import S3Store

from app.charts.store import Backend, StoreError, object_key
from app.retry import Again, Backoff, GaveUp, Retry, RetryTime, is_transient
from app.settings import Settings

log = logging.getLogger("coach_plans")
T = TypeVar("T")

_STATUS = re.compile(r"status code: (\d{3})")
_CODE = re.compile(r"<Code>(\w+)</Code>")
# When no answer came, the operating system's words ("Connection reset by peer"), else the kind.
_CAUSE = re.compile(r'message: "([^"]{1,200})"')
_KIND = re.compile(r"HttpError \{\s*kind: (\w+)")
# A read is copied to a temporary file in pieces of this size (obstore's default is 10 MiB).
READ_CHUNK = 256 * 1024


class BucketStore:
    """Objects under `charts/` in CHART_BUCKET, keyed by their content hash."""

    backend: Backend = "bucket"

    def __init__(
        self, settings: Settings, *, waited_on: bool = True, waits: RetryTime | None = None
    ) -> None:
        """`waited_on`: someone waits on each read (a chart request, a plan card being sent),
        so reads retry once, quickly; `charts migrate` waits out the full backoff instead.
        `waits`: the clock and sleeps of the retries (tests pass one that moves when slept)."""
        self.bucket = bucket = settings.chart_bucket or ""
        self.spool = Path(tempfile.gettempdir())  # downloads wait there until they are uploaded
        endpoint = settings.aws_endpoint_url_s3
        secret = settings.aws_secret_access_key
        timeout = timedelta(seconds=settings.connection_timeout)
        given = {
            "endpoint": endpoint,
            "access_key_id": settings.aws_access_key_id,
            "secret_access_key": secret.get_secret_value() if secret else None,
        }
        self.store = S3Store(
            bucket,
            region=settings.aws_region or "us-east-1",
            client_options={
                "allow_http": bool(endpoint and endpoint.startswith("http://")),
                "connect_timeout": timeout,
                "timeout": timeout * 3,  # a whole request, as a chart download's deadline
            },
            retry_config={"max_retries": 0, "retry_timeout": timeout},
            **{key: value for key, value in given.items() if value is not None},  # type: ignore[arg-type]
        )
        waits = waits or RetryTime()
        self.backoff = Backoff(
            settings.reconnect_attempts, settings.reconnect_delay_seconds, time=waits
        )
        self.read_backoff = (
            Backoff(
                min(settings.reconnect_attempts, 1),
                min(settings.reconnect_delay_seconds, 0.5),
                time=waits,
            )
            if waited_on
            else self.backoff
        )

    async def put_file(self, name: str, path: Path, content_type: str) -> None:
        key = object_key(name)
        attributes = {"Content-Type": content_type}

        async def put() -> None:
            # One PUT (no multipart upload, which could leave parts behind when cut off):
            # obstore holds the chart in memory while it is sent, one chart per transfer.
            await obstore.put_async(
                self.store, key, path, attributes=attributes, use_multipart=False
            )

        await self._retrying(f"PUT {key}", put, self.backoff)

    async def get(self, name: str) -> bytes | None:
        key = object_key(name)

        async def get() -> bytes | None:
            try:
                result = await obstore.get_async(self.store, key)
                return bytes(await result.bytes_async())
            except FileNotFoundError as exc:
                if "NoSuchBucket" in str(exc):
                    raise
                return None

        return await self._retrying(f"GET {key}", get, self.read_backoff)

    async def open(self, name: str) -> BinaryIO | None:
        key = object_key(name)

        async def copy() -> BinaryIO | None:
            copied: BinaryIO = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
            try:
                try:
                    result = await obstore.get_async(self.store, key)
                except FileNotFoundError as exc:
                    if "NoSuchBucket" in str(exc):
                        raise
                    copied.close()
                    return None
                async for chunk in result.stream(min_chunk_size=READ_CHUNK):
                    await anyio.to_thread.run_sync(copied.write, chunk)
                copied.seek(0)
                return copied
            except BaseException:
                copied.close()
                raise

        return await self._retrying(f"GET {key}", copy, self.read_backoff)

    async def check(self) -> None:
        """One listing of at most one key: the bucket exists and these credentials may read it."""
        try:
            async for _ in obstore.list(self.store, prefix="charts/", chunk_size=1):
                break
        except Exception as exc:
            raise self._fault(exc) from exc

    async def close(self) -> None:
        pass  # obstore's connections close with the store

    async def _retrying(self, what: str, call: Callable[[], Awaitable[T]], backoff: Backoff) -> T:
        async def one_try() -> T:
            try:
                return await call()
            except Exception as exc:
                fault = self._fault(exc)
                if not fault.transient:
                    log.warning("chart bucket: %s failed: %s", what, fault.reason)
                    fault.retried = True
                    raise fault from exc
                fault.__cause__ = exc  # what obstore said, kept for the give-up
                raise Again(fault.reason) from fault

        def retrying(retry: Retry) -> None:
            log.warning(
                "chart bucket: %s failed: %s; retry %d of %d in %.1fs",
                what,
                retry.why,
                retry.number,
                retry.retries,
                retry.wait,
            )

        try:
            return await backoff.run_async(one_try, retrying)
        except GaveUp as gave_up:
            fault = gave_up.last.__cause__  # one_try raises each Again from its fault
            if not isinstance(fault, StoreError):
                raise
            log.warning("chart bucket: %s failed: %s", what, fault.reason)
            fault.retried = True
            raise fault  # noqa: B904 - its cause is obstore's error, set above

    def _fault(self, exc: Exception) -> StoreError:
        text = str(exc)
        status_match, code_match = _STATUS.search(text), _CODE.search(text)
        code = code_match[1] if code_match else ""
        where = f"bucket {self.bucket!r}"
        if code == "NoSuchBucket":
            return StoreError(f"{where} does not exist (NoSuchBucket)", transient=False)
        if status_match is None:
            # No answer at all: refused, reset (also mid-upload) or timed out.
            cause = _CAUSE.search(text) or _KIND.search(text)
            why = cause[1] if cause else text.split("\n", 1)[0][-200:]
            return StoreError(f"{where} could not be reached: {why}", transient=True)
        status = int(status_match[1])
        named = f"HTTP {status}" + (f" {code}" if code else "")
        if status in (401, 403):
            return StoreError(
                f"{where} refused access ({named}): check AWS_ACCESS_KEY_ID, "
                "AWS_SECRET_ACCESS_KEY and the bucket's permissions",
                transient=False,
            )
        return StoreError(f"{where} answered {named}", transient=is_transient(status))

"""`coach-plans charts migrate`: copy the local chart archive (CHART_STORAGE_DIR) into the bucket.

Plans' records need no change: a chart's stored name is the same in both stores
(app/charts/store.py). Each file is checked against the hash its name carries before it is sent,
and each object is read back and checked after. An object already in the bucket with the right
bytes is left alone, so a second run, or a run after an interruption, copies only what is missing.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread

from app.charts.bucket import BucketStore
from app.charts.downloads import IMAGE_TYPES
from app.charts.store import StoreError, digest_of, holds
from app.settings import Settings

log = logging.getLogger("coach_plans")

# The extension each stored name was given from its content type (app/charts/downloads.py).
_TYPES = {extension: content_type for content_type, extension in IMAGE_TYPES.items()}


@dataclass(slots=True)
class Outcome:
    copied: int = 0
    present: int = 0  # already in the bucket, verified
    failed: list[str] = field(default_factory=list)  # "name: why"


def archived_files(folder: Path) -> list[Path]:
    """The archive's charts; partial writes (dot files) and anything else are not charts."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and digest_of(p.name) is not None)


def _file_holds(path: Path) -> bool:
    """The file's bytes are the ones its name says, read in pieces."""
    with path.open("rb") as file:
        digest = hashlib.file_digest(file, "sha256").hexdigest()
    return digest[:32] == digest_of(path.name)


async def copy_one(bucket: BucketStore, path: Path, outcome: Outcome) -> None:
    name = path.name
    if not await anyio.to_thread.run_sync(_file_holds, path):
        outcome.failed.append(f"{name}: the file's bytes do not match the hash in its name")
        return
    try:
        if (kept := await bucket.get(name)) is not None and holds(name, kept):
            outcome.present += 1
            return
        del kept
        await bucket.put_file(name, path, _TYPES.get(path.suffix, "application/octet-stream"))
        kept = await bucket.get(name)
    except StoreError as exc:
        outcome.failed.append(f"{name}: {exc.reason}")
        return
    if kept is None or not holds(name, kept):
        outcome.failed.append(f"{name}: the bucket's copy does not match after upload")
        return
    outcome.copied += 1


async def migrate(settings: Settings, outcome: Outcome, *, progress: bool = True) -> None:
    """Copy every chart of the archive; `outcome` counts as it goes, so an interrupted run
    still tells what it did."""
    from tqdm import tqdm  # only for this command

    files = archived_files(settings.chart_storage_dir)
    bucket = BucketStore(settings, waited_on=False)  # a bulk copy waits out a SlowDown
    await bucket.check()  # a missing bucket or wrong keys stop the run before it starts
    bar = tqdm(total=len(files), unit="chart", disable=not progress, file=sys.stderr)
    try:
        for path in files:
            await copy_one(bucket, path, outcome)
            bar.update()
    finally:
        bar.close()
        await bucket.close()


def run(settings: Settings) -> int:
    """The command: 0 when every chart is in the bucket and verified, 1 otherwise, 130 when
    interrupted (Ctrl-C): what was copied stays, and the next run goes on from there."""
    if not settings.chart_bucket:
        print(
            "coach-plans: setting error: CHART_BUCKET: not set (or BUCKET_NAME): "
            "name the bucket to copy the charts into",
            file=sys.stderr,
        )
        return 2
    where = f"{settings.chart_storage_dir} to bucket {settings.chart_bucket!r}"
    print(f"copying charts from {where}", file=sys.stderr)
    outcome = Outcome()
    interrupted = False
    try:
        anyio.run(migrate, settings, outcome)
    except StoreError as exc:
        print(f"coach-plans: cannot use the bucket: {exc.reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        interrupted = True
    for line in outcome.failed:
        print(f"not copied: {line}", file=sys.stderr)
    print(
        f"{outcome.copied} copied, {outcome.present} already in the bucket, "
        f"{len(outcome.failed)} failed"
    )
    if interrupted:
        print("coach-plans: interrupted; run it again to copy the rest", file=sys.stderr)
        return 130
    return 1 if outcome.failed else 0

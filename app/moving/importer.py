"""`coach-plans import`: plans of the format `coach-plans/1` (or of the original bot's database,
app/moving/legacy.py) into this deployment's database, with every timestamp they had.

Each plan is written whole or not at all (a savepoint of its own in a transaction of
BATCH_PLANS, app/storage/transfer.py), so an import interrupted anywhere can be run again: what
it wrote is "already there" the second time. A running service may write meanwhile; the
database's locks and its one-live-plan index keep the two apart. Neither the date window nor the
quotas apply: these plans were posted long ago, under whatever rules stood then.

Charts: bytes already in the chart store with the same SHA-256 are linked to the new chart, never
fetched again; the others are archived from their URL as a new chart's are (app/charts/archive.py:
Discord's CDN only, refused for good when it answers that they are gone). Those that could not be
archived are named.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import anyio
import httpx

from app.charts.downloads import IMAGE_TYPES
from app.charts.migrate import archived_files
from app.charts.store import ChartStore, StoreError, digest_of, named
from app.moving.format import BadLine, Line, decode
from app.observability.metrics import Metrics
from app.records import Chart
from app.runtime.resources import Services
from app.runtime.services import build_services
from app.settings import Settings
from app.storage.transfer import Stored, chart_state, store_plans

# Plans written per transaction: one commit (and fsync) for the lot, rather than one each, yet a
# transaction short enough that a running service's writes wait only milliseconds for it.
BATCH_PLANS = 100
# Where a record came from, for the report: "line 12", "old plan 7".
Labelled = tuple[str, Line | BadLine]


@dataclass(slots=True)
class Counts:
    imported: int = 0
    present: int = 0  # already there
    skipped: int = 0  # conflicts
    bad: int = 0

    def __str__(self) -> str:
        return (
            f"{self.imported} imported, {self.present} already there, "
            f"{self.skipped} skipped, {self.bad} bad"
        )


def lines_of(file: TextIO, guild: str | None) -> Iterator[Labelled]:
    """The file's plans, read a line at a time; blank lines are no plans."""
    for number, text in enumerate(file, start=1):
        if not text.strip():
            continue
        try:
            yield f"line {number}", decode(text, guild)
        except BadLine as exc:
            yield f"line {number}", exc


class Linker:
    """Finds a chart's bytes already in the store by their hash, and keeps them under the new
    chart's name: a bucket keys objects by content hash alone, so nothing is copied there; a
    directory gets a hard link (a copy across file systems)."""

    def __init__(self, store: ChartStore) -> None:
        self.store = store
        self._names: dict[str, str] | None = None  # a directory's charts by their digest

    async def link(self, chart_id: int, sha256: str, content_type: str) -> str | None:
        """The new chart's stored name, once its bytes are kept under it; None when the store
        lacks them."""
        ext = IMAGE_TYPES.get(content_type)
        if ext is None:
            return None
        name = named(chart_id, sha256, ext)
        folder: Path | None = getattr(self.store, "folder", None)
        try:
            if folder is None:
                data = await self.store.get(name)
                return name if data and hashlib.sha256(data).hexdigest() == sha256 else None
            return await anyio.to_thread.run_sync(self._link_file, folder, name, sha256)
        except (StoreError, OSError):
            return None

    def remember(self, name: str) -> None:
        """A chart this import archived: a later plan with the same image links to it."""
        if self._names is not None and (digest := digest_of(name)) is not None:
            self._names.setdefault(digest, name)

    def _link_file(self, folder: Path, name: str, sha256: str) -> str | None:
        if self._names is None:
            self._names = {digest_of(p.name) or "": p.name for p in archived_files(folder)}
        found = self._names.get(sha256[:32])
        if found is None:
            return None
        source = folder / found
        with source.open("rb") as file:
            if hashlib.file_digest(file, "sha256").hexdigest() != sha256:
                return None
        target = folder / name
        if not target.exists():
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
        return name


class Importer:
    def __init__(self, services: Services, report: TextIO, counts: Counts) -> None:
        self.services = services
        self.engine = services.engine
        self.linker = Linker(services.store)
        self.report = report
        self.counts = counts
        self.unarchived = 0

    def say(self, label: str, message: str) -> None:
        print(f"{label}: {message}", file=self.report)

    async def run(self, records: Iterable[Labelled]) -> Counts:
        batch: list[tuple[str, Line]] = []
        for label, record in records:
            if isinstance(record, BadLine):
                self.counts.bad += 1
                self.say(label, f"bad, nothing of it was written: {record}")
                continue
            batch.append((label, record))
            if len(batch) >= BATCH_PLANS:
                await self.write(batch)
                batch = []
        await self.write(batch)
        return self.counts

    async def write(self, batch: list[tuple[str, Line]]) -> None:
        if not batch:
            return
        plans = [line.plan for _, line in batch]
        written = await self.services.write(store_plans, self.engine, plans)
        for (label, line), stored in zip(batch, written, strict=True):
            plan = line.plan
            if stored.outcome == "conflict":
                self.counts.skipped += 1
                self.say(
                    label,
                    f"skipped: guild {plan.guild_id} already has a different live plan of "
                    f"coach {plan.coach} for {plan.date}",
                )
                continue
            if stored.outcome == "present":
                self.counts.present += 1
            else:
                self.counts.imported += 1
            # A plan already there too: an interrupted import may have left its charts pending.
            await self.charts(label, line, stored)

    async def charts(self, label: str, line: Line, stored: Stored) -> None:
        plan = line.plan
        for chart_id, moved, sha in zip(stored.chart_ids, plan.charts, line.sha256, strict=False):
            stored_path, refused = await self.services.read(chart_state, self.engine, chart_id)
            if stored_path is None and refused is None:
                linked = (
                    None
                    if sha is None
                    else await self.linker.link(chart_id, sha, moved.content_type)
                )
                if linked is not None:
                    await self.services.write(self.services.plans.mark_archived, chart_id, linked)
                    continue
                chart = Chart(
                    id=chart_id,
                    plan_id=stored.plan_id or 0,
                    url=moved.url,
                    filename=moved.filename,
                    content_type=moved.content_type,
                    size=moved.size,
                    stored_path=None,
                    added_at=moved.added_at,
                )
                await self.services.charts.keep(chart, server=plan.guild_id)
                stored_path, refused = await self.services.read(chart_state, self.engine, chart_id)
                if stored_path is not None:
                    self.linker.remember(stored_path)
                    continue
            if stored_path is None:
                self.unarchived += 1
                why = f"refused: {refused}" if refused else "its URL could not be reached now"
                self.say(label, f"chart {moved.filename} ({moved.url}) not archived: {why}")


async def import_records(
    settings: Settings,
    records: Iterable[Labelled],
    report: TextIO,
    transport: httpx.AsyncBaseTransport | None = None,
    counts: Counts | None = None,
) -> Counts:
    """Import every record and count what became of each in `counts`, which tells what was
    done even when the import is interrupted."""
    # The tools borrow mock mode's "no Discord key needed"; charts still come from Discord's CDN.
    real = settings.model_copy(update={"mock_mode": False})
    services = build_services(real, Metrics(), transport)
    importer = Importer(services, report, counts or Counts())
    try:
        return await importer.run(records)
    finally:
        if importer.unarchived:
            print(
                f"{importer.unarchived} chart(s) not archived (named above): their plans keep "
                "the URL",
                file=report,
            )
        with anyio.CancelScope(shield=True):
            await services.close()


def run(settings: Settings, records: Iterable[Labelled]) -> int:
    """The command: counts on stdout, each line's trouble on stderr; 0 when nothing was bad,
    1 otherwise, 130 when interrupted (what was written stays; run it again for the rest)."""
    counts = Counts()
    try:
        anyio.run(lambda: import_records(settings, records, sys.stderr, counts=counts))
    except KeyboardInterrupt:
        print(counts)
        print("coach-plans: interrupted; run it again to import the rest", file=sys.stderr)
        return 130
    print(counts)
    return 1 if counts.bad else 0

"""`coach-plans export`: every plan of a guild (or of all guilds) as JSON Lines on stdout.

Plans are read a batch at a time (app/storage/transfer.py) and written as they come, so a million
plans take no more memory than a thousand. Each archived chart's SHA-256 is computed from the
store's bytes, so an import elsewhere can link the bytes it already holds instead of fetching them.
"""

from __future__ import annotations

import hashlib
import sys
from typing import TextIO

import anyio

from app.charts.store import ChartStore, StoreError
from app.moving.format import Line, encode
from app.runtime.services import open_store
from app.settings import Settings
from app.storage.database import make_engine, migrate
from app.storage.transfer import MovedChart, whole_plans


async def _sha256(store: ChartStore, chart: MovedChart) -> str | None:
    """The hash of the chart's archived bytes; None when it has none (or they cannot be read)."""
    if chart.stored_path is None:
        return None
    try:
        file = await store.open(chart.stored_path)
    except StoreError:
        return None
    if file is None:
        return None
    digest = hashlib.sha256()
    with file:
        while chunk := file.read(1 << 16):
            digest.update(chunk)
    return digest.hexdigest()


async def export(
    settings: Settings, out: TextIO, guild: str | None = None, *, progress: bool = False
) -> int:
    """Write the plans to `out`; how many."""
    from tqdm import tqdm  # only for this command

    engine = make_engine(settings.database_url, pooled=False)
    store = open_store(settings)
    written = 0
    try:
        migrate(engine)
        with tqdm(unit=" plans", disable=not progress, file=sys.stderr) as bar:
            for plan in whole_plans(engine, guild):
                shas = tuple([await _sha256(store, chart) for chart in plan.charts])
                out.write(encode(Line(plan, shas)) + "\n")
                written += 1
                bar.update()
    finally:
        await store.close()
        engine.dispose()
    out.flush()
    return written


def run(settings: Settings, guild: str | None) -> int:
    """The command; the progress bar only when stderr is a terminal, so a pipe or a log file
    gets none of it."""
    anyio.run(lambda: export(settings, sys.stdout, guild, progress=sys.stderr.isatty()))
    return 0

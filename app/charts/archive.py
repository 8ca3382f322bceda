"""Archiving Discord's copy of each chart in the chart store (its attachment URLs expire).

A chart whose download fails for a reason that may pass keeps its Discord URL (plans still show
it) and is retried later: at every start and then every RETRY_INTERVAL_SECONDS, by one instance
at a time (a lease in the shared database). So is a chart the store would not keep (a bucket
missing, refusing or down): it is never lost, only late. One refused for good is never fetched
again. Until a chart is archived, /charts/{id} answers 404 saying so:
Discord's URL may already have expired, and the read API promises only archived bytes.

Chart transfers (a download into the store; a message's upload of the charts it shows) take a
slot of `Transfers`: TRANSFERS_MAX at a time in the process, at most TRANSFERS_PER_SERVER of them
for one Discord server, so a server that posts many charts, or slow ones, waits on its own
queue while other servers' charts go by.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

import anyio
import httpx

from app.charts import downloads as chart_downloads
from app.charts.downloads import Passing, Refused, StoreFailed
from app.charts.store import ChartStore, StoreError
from app.errors import ChartNotFound
from app.plans.service import PlanService
from app.records import Chart
from app.retry import Again, Backoff, GaveUp, RetryTime
from app.settings import Settings
from app.storage.threads import DatabaseThreads

if TYPE_CHECKING:
    from app.storage.leases import Lease

log = logging.getLogger("coach_plans")

RETRY_INTERVAL_SECONDS = 600.0
# Background retries work on this many charts at a time.
RETRY_CONCURRENCY = 4
# Chart transfers at once, in all and for one server. A transfer streams through files, but a
# bucket's upload holds its chart in memory (app/charts/bucket.py): 12 of 10 MiB stay well within
# a 512 MiB machine. Four at a time still fetch a plan's ten charts within seconds.
TRANSFERS_MAX = 12
TRANSFERS_PER_SERVER = 4


class Transfers:
    """Slots for chart transfers: TRANSFERS_MAX in all, at most TRANSFERS_PER_SERVER for one
    server (or for the background retries, `server` None). Each queue is first come, first
    served; a server's transfers wait in their own queue before they wait for the shared one,
    so no server holds more than its share, and one that piles up work delays only itself."""

    def __init__(self, total: int = TRANSFERS_MAX, per_server: int = TRANSFERS_PER_SERVER) -> None:
        self.total = anyio.CapacityLimiter(total)
        self.per_server = per_server
        self.servers: dict[str | None, anyio.CapacityLimiter] = {}

    @contextlib.asynccontextmanager
    async def slot(self, server: str | None) -> AsyncIterator[None]:
        own = self.servers.get(server)
        if own is None:
            own = self.servers[server] = anyio.CapacityLimiter(self.per_server)
        try:
            async with own, self.total:
                yield
        finally:
            if own.borrowed_tokens == 0 and own.statistics().tasks_waiting == 0:
                self.servers.pop(server, None)  # an idle server's queue is not kept


class ChartArchive:
    """Keeps Discord's chart images in the chart store and records each outcome."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        plans: PlanService,
        threads: DatabaseThreads,
        store: ChartStore,
        lease: Lease | None = None,
        waits: RetryTime | None = None,
    ) -> None:
        """`waits`: the clock and sleeps of each chart's retries (tests pass one that moves
        when slept)."""
        self.settings = settings
        self.http = http
        self.plans = plans
        self.threads = threads
        self.store = store
        self.lease = lease  # None: this process is alone on its database
        self.backoff = Backoff(
            settings.reconnect_attempts,
            settings.reconnect_delay_seconds,
            time=waits or RetryTime(),
            clock=plans.clock,
        )
        self.transfers = Transfers()
        # Charts being downloaded now, each with the event its end sets, so a command and the
        # background retry never fetch the same chart at once: the second waits for the first.
        self.in_flight: dict[int, anyio.Event] = {}

    async def open(self, chart: Chart) -> BinaryIO | None:
        """An archived chart as a file open at its start, for a message that uploads it (the
        caller closes it); None when the store has none or cannot answer now (the message then
        names the chart instead)."""
        if not chart.stored_path:
            return None
        try:
            return await self.store.open(chart.stored_path)
        except StoreError as exc:
            log.warning("chart %s could not be read from the store: %s", chart.id, exc.reason)
            return None

    async def archive_now(self, charts: Sequence[Chart], server: str | None) -> None:
        """The command path: these charts of `server` side by side (as its transfer slots
        allow), all within one deadline, so the deferred answer is edited in time; what still
        fails or waits then is left to the retries."""
        seconds = chart_downloads.deadline(self.settings)

        async def one(chart: Chart) -> None:
            with anyio.move_on_after(seconds) as scope:
                await self.keep(chart, server=server)
            if scope.cancelled_caught:
                log.warning(
                    "chart %s (%s) was not archived within %gs; it is retried later",
                    chart.id,
                    chart.filename,
                    seconds,
                )

        await _each(charts, one)

    async def archive_pending(self) -> int:
        """Retry every chart of a live plan that is neither archived nor refused for good;
        returns how many were archived. Each chart is on its own: every attempt has its
        deadline, and a slow one holds one of RETRY_CONCURRENCY slots, never the others.
        Skipped while another instance holds the lease: it is retrying the same charts."""
        lease = self.lease
        if lease is not None and not await self.threads.read(lease.acquire):
            log.info("another instance is retrying the pending charts; this one leaves them to it")
            return 0
        try:
            return await self._archive_pending()
        finally:
            if lease is not None:
                with anyio.CancelScope(shield=True):
                    await self.threads.read(lease.release)

    async def _archive_pending(self) -> int:
        pending = await self.threads.read(self.plans.unarchived_charts)
        if not pending:
            return 0
        log.info("archiving %d chart(s) that could not be downloaded before", len(pending))
        slots = anyio.CapacityLimiter(RETRY_CONCURRENCY)
        archived = 0

        async def one(chart: Chart) -> None:
            nonlocal archived
            async with slots:
                archived += await self.keep(chart, recheck=True)

        await _each(pending, one)
        return archived

    async def keep_archiving(self, interval: float = RETRY_INTERVAL_SECONDS) -> None:
        """Background task of the lifespan: retries failed downloads now and then."""
        while True:
            try:
                await self.archive_pending()
            except Exception:
                log.exception("retrying chart downloads failed; will try again later")
            await anyio.sleep(interval)

    async def keep(self, chart: Chart, *, server: str | None = None, recheck: bool = False) -> bool:
        """Archive one chart: RECONNECT_ATTEMPTS + 1 attempts, exponential backoff between them,
        each in a transfer slot of `server` (None: the background retries' own). A refusal for
        good is recorded; a passing failure leaves the chart pending. True when the chart was
        archived. Never raises, but for cancellation.

        When another task is archiving the chart, this waits for it to end, so that what the
        caller reads next is that outcome; that task counts it (False here). With `recheck`
        (`chart` was read a while ago: the retry pass), a chart settled since is left alone."""
        running = self.in_flight.get(chart.id)
        if running is not None:
            await running.wait()
            return False
        done = self.in_flight[chart.id] = anyio.Event()
        try:
            if recheck and not await self.threads.read(self._still_pending, chart.id):
                return False
            return await self._keep(chart, server)
        except Exception:
            log.exception("archiving chart %s (%s) failed; retried later", chart.id, chart.filename)
            return False
        finally:
            del self.in_flight[chart.id]
            done.set()

    def _still_pending(self, chart_id: int) -> bool:
        try:
            now = self.plans.chart(chart_id)
        except ChartNotFound:  # its plan was deleted since
            return False
        return now.stored_path is None and now.failed_reason is None

    async def _keep(self, chart: Chart, server: str | None) -> bool:
        async def one_try() -> str:
            try:
                async with self.transfers.slot(server):
                    return await chart_downloads.attempt(
                        self.http, self.settings, chart, self.store
                    )
            except StoreFailed as failed:
                if failed.again:
                    raise Again(str(failed)) from failed
                raise  # the store retried what could pass, or nothing can
            except Passing as passing:
                raise Again(str(passing)) from passing

        try:
            name = await self.backoff.run_async(one_try)
        except Refused as refused:
            log.warning(
                "chart %s (%s) is refused for good: %s; it will not be downloaded again",
                chart.id,
                chart.filename,
                refused.reason,
            )
            await self.threads.write(self.plans.mark_failed, chart.id, refused.reason)
            return False
        except StoreFailed as failed:
            log.warning(
                "chart %s (%s) was downloaded but not kept: %s; it stays pending and is "
                "retried later",
                chart.id,
                chart.filename,
                failed,
            )
            return False
        except GaveUp as gave_up:
            log.warning(
                "could not archive chart %s (%s) after %d attempt(s) (%s); it keeps its Discord "
                "URL and is retried later",
                chart.id,
                chart.filename,
                gave_up.tries,
                gave_up.last.why,
            )
            return False
        await self.threads.write(self.plans.mark_archived, chart.id, name)
        return True


async def _each(charts: Sequence[Chart], one: Callable[[Chart], Coroutine[Any, Any, None]]) -> None:
    """`one` for every chart, side by side; returns when all are done."""
    async with anyio.create_task_group() as group:
        for chart in charts:
            group.start_soon(one, chart)

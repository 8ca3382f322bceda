"""The service with one performance mechanism switched off, for docs/performance.md's figures.

`BENCH_VARIANT=NAME python bench/variants.py serve ...` runs `coach-plans serve ...` with the
mechanism NAME replaced by the plain way of doing the same job (VARIANTS). The switch lives here,
in the bench, and nowhere in the service's settings. It is applied when this module is imported,
so `serve --workers N` (whose worker processes re-import the main module) gets it too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any


def _no_gc_tweak() -> None:
    """The collector stays on while starting, and nothing is frozen once listening."""
    import gc

    gc.disable = gc.freeze = lambda: None


def _no_prepared_read() -> None:
    """The hot reads go through SQLAlchemy's execute(), as any other query does."""
    from app.storage.database import PreparedRead

    init = PreparedRead.__init__

    def __init__(self: PreparedRead, engine: Any, statement: Any) -> None:
        init(self, engine, statement)
        self.statement = statement  # type: ignore[attr-defined]

    def rows(self: PreparedRead, **params: Any) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(self.statement, params))  # type: ignore[attr-defined]

    PreparedRead.__init__ = __init__  # type: ignore[method-assign]
    PreparedRead.rows = rows  # type: ignore[method-assign]


def _no_write_lock() -> None:
    """Writers go straight to BEGIN IMMEDIATE, and wait in SQLite's busy handler."""
    from app.storage import database

    def begin(connection: Any) -> None:
        write = connection.get_execution_options().get(database.WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    database._sqlite_begin = begin


def _no_plain_metrics() -> None:
    """Every count goes to a prometheus-client Counter or Histogram as it is made."""
    from prometheus_client import CollectorRegistry, Counter, Histogram

    from app.observability import metrics

    init = metrics.Metrics.__init__

    def __init__(self: Any) -> None:
        init(self)
        registry = CollectorRegistry()
        self.requests = Counter("requests", "", ["outcome"], registry=registry)
        self.latency = Histogram(
            "duration", "", ["method", "route"], buckets=metrics.BUCKETS, registry=registry
        )
        self.interactions = Counter("interactions", "", ["command"], registry=registry)

    def observe(self: Any, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels("error" if status >= 400 else "success").inc()
        self.latency.labels(method, route).observe(seconds)

    def count_interaction(self: Any, command: str) -> None:
        self.interactions.labels(command).inc()

    metrics.Metrics.__init__ = __init__  # type: ignore[method-assign]
    metrics.Metrics.observe = observe  # type: ignore[method-assign]
    metrics.Metrics.count_interaction = count_interaction  # type: ignore[method-assign]


VARIANTS: dict[str, Callable[[], None]] = {
    "on": lambda: None,
    "no-gc-tweak": _no_gc_tweak,
    "no-prepared-read": _no_prepared_read,
    "no-write-lock": _no_write_lock,
    "no-plain-metrics": _no_plain_metrics,
    # The wake front is switched off by serving with --config (bench/mechanisms.py).
}


def apply(name: str) -> None:
    VARIANTS[name]()


def record_collections(path: str) -> None:
    """Write the collector's passes so far (count and ms per generation) and the objects frozen
    to `path` after each pass of generation 1 or 2: the server may be stopped at any time."""
    import gc
    import json
    import time

    passes = {generation: [0, 0.0] for generation in (0, 1, 2)}
    began = [0.0]

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
            return
        counted = passes[info["generation"]]
        counted[0] += 1
        counted[1] += (time.perf_counter() - began[0]) * 1000
        if info["generation"] >= 1:
            with open(path, "w") as out:
                json.dump({"passes": passes, "frozen": gc.get_freeze_count()}, out)

    gc.callbacks.append(note)


apply(os.environ.get("BENCH_VARIANT", "on"))
if os.environ.get("BENCH_GC_LOG"):
    record_collections(os.environ["BENCH_GC_LOG"])

if __name__ == "__main__":
    from app.cli import main

    sys.exit(main(sys.argv[1:]))

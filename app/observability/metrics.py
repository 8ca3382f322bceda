"""Counters and latency histograms, shown as JSON on /metrics and as Prometheus text.

Every count is made on the event loop's thread (the request middleware, the interactions
endpoint), so the numbers are plain integers, and prometheus-client, which writes the text format
through a custom collector when /metrics/prometheus is scraped, is imported then: a woken server
counts from before it listens (app/runtime/wake.py), and importing prometheus-client there would
delay its first answer. Per request, its Counter and Histogram objects would cost the same; the
figures: docs/performance.md ("Plain-integer metrics").
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import Metric

# Upper bounds in seconds; a last, implicit bucket takes the slower answers (+Inf).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


@dataclass
class Timings:
    """One route's latency histogram: a count per bucket (not cumulative) and the sum."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total_seconds: float = 0.0


class Metrics:
    """One per app, so several apps in one process (tests) do not share counts."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.outcomes = {"success": 0, "error": 0}
        self.timings: dict[tuple[str, str], Timings] = {}
        self.commands: dict[str, int] = {}

    @cached_property
    def registry(self) -> CollectorRegistry:
        """The counts for prometheus-client's text format; it is imported at the first scrape,
        not on the start path."""
        from prometheus_client import CollectorRegistry

        registry = CollectorRegistry()
        registry.register(_Exposition(self))
        return registry

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.outcomes["error" if status >= 400 else "success"] += 1
        timings = self.timings.get((method, route))
        if timings is None:
            timings = self.timings[method, route] = Timings()
        # A value equal to a bound belongs to that bound's bucket ("le"), as bisect_left finds.
        timings.counts[bisect_left(BUCKETS, seconds)] += 1
        timings.total_seconds += seconds

    def count_interaction(self, command: str) -> None:
        self.commands[command] = self.commands.get(command, 0) + 1

    def snapshot(self) -> dict[str, object]:
        requests = dict(self.outcomes)
        total = requests["success"] + requests["error"]
        by_command = dict(self.commands)
        return {
            "uptime_seconds": round(time.monotonic() - self.started, 3),
            "requests": {
                "total": total,
                **requests,
                "error_rate_percent": round(100 * requests["error"] / total, 2) if total else 0.0,
            },
            "interactions": {"total": sum(by_command.values()), "by_command": by_command},
        }


class _Exposition:
    """A prometheus-client collector: the counts as metric families, built when scraped."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        requests = CounterMetricFamily(
            "coach_plans_requests",
            "HTTP requests answered, by outcome (success < 400 <= error).",
            labels=["outcome"],
        )
        for outcome, count in self.metrics.outcomes.items():
            requests.add_metric([outcome], count)
        yield requests

        latency = HistogramMetricFamily(
            "coach_plans_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            labels=["method", "route"],
        )
        bounds = [str(float(bound)) for bound in BUCKETS] + ["+Inf"]  # as "le" labels read
        for (method, route), timings in list(self.metrics.timings.items()):
            cumulative, running = [], 0
            for bound, count in zip(bounds, timings.counts, strict=True):
                running += count
                cumulative.append((bound, running))
            latency.add_metric([method, route], cumulative, timings.total_seconds)
        yield latency

        interactions = CounterMetricFamily(
            "coach_plans_interactions",
            "Discord interactions handled, by command (or interaction kind).",
            labels=["command"],
        )
        for command, count in list(self.metrics.commands.items()):
            interactions.add_metric([command], count)
        yield interactions

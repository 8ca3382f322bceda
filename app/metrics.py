"""Counters and latency histograms, shown as JSON on /metrics and as Prometheus text."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """One registry per app, so several apps in one process (tests) do not share counts."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "coach_plans_requests",
            "HTTP requests answered, by outcome (success < 400 <= error).",
            ["outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "coach_plans_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.interactions = Counter(
            "coach_plans_interactions",
            "Discord interactions handled, by command (or interaction kind).",
            ["command"],
            registry=self.registry,
        )

        # Labelled children looked up once: labels() costs microseconds on every request.
        self._outcomes = {name: self.requests.labels(name) for name in ("success", "error")}
        self._latencies: dict[tuple[str, str], Any] = {}
        self._commands: dict[str, Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self._outcomes["error" if status >= 400 else "success"].inc()
        key = (method, route)
        child = self._latencies.get(key)
        if child is None:
            child = self._latencies[key] = self.latency.labels(method, route)
        child.observe(seconds)

    def count_interaction(self, command: str) -> None:
        child = self._commands.get(command)
        if child is None:
            child = self._commands[command] = self.interactions.labels(command)
        child.inc()

    def snapshot(self) -> dict[str, object]:
        requests = {"success": 0, "error": 0}
        for sample in next(iter(self.requests.collect())).samples:
            if sample.name.endswith("_total"):
                requests[sample.labels["outcome"]] = int(sample.value)
        total = requests["success"] + requests["error"]
        by_command = {
            sample.labels["command"]: int(sample.value)
            for sample in next(iter(self.interactions.collect())).samples
            if sample.name.endswith("_total")
        }
        return {
            "uptime_seconds": round(time.monotonic() - self.started, 3),
            "requests": {
                "total": total,
                **requests,
                "error_rate_percent": round(100 * requests["error"] / total, 2) if total else 0.0,
            },
            "interactions": {"total": sum(by_command.values()), "by_command": by_command},
        }

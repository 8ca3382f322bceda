"""Cold start: from process start to the first answer, as a machine woken from zero meets it.

Each start is a new process: a bare Starlette app's first GET, then ours with its first signed
PING, its first /plans and its first /plan with a chart. A command's answer may be a deferral
while the app and its storage are built; then what counts for the user is its final content,
which reaches a small local stand-in for Discord's API and CDN as an edit of the deferred
answer.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from run import Bench

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 40_000
DEADLINE_SECONDS = 3.0  # Discord's, for the first answer; we hold the final content to it too


@dataclass
class LocalDiscord:
    """Discord's webhook endpoints and CDN on 127.0.0.1: serves chart files, notes every call
    to an interaction's webhook with the moment it arrived."""

    calls: list[tuple[float, str, str, Any]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        local = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)

            def _webhook(self) -> None:
                # JSON, or multipart when the edit uploads the charts with the message.
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with local.arrived:
                    local.calls.append((time.perf_counter(), self.command, self.path, body))
                    local.arrived.notify_all()
                answer = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_PATCH = do_POST = do_DELETE = _webhook

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def edit_of(self, token: str, timeout: float = 10.0) -> float:
        """When the edit of the interaction's deferred answer arrived."""
        deadline = time.perf_counter() + timeout
        with self.arrived:
            while True:
                for at, method, path, _ in self.calls:
                    if method == "PATCH" and f"/{token}/" in path:
                        return at
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise RuntimeError(f"no edit of the answer to {token} within {timeout}s")
                self.arrived.wait(left)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _first_answer(
    b: Bench, name: str, payload: dict[str, object], local: LocalDiscord
) -> tuple[float, float, float]:
    """Start a server and send one interaction as soon as it accepts connections. Returns
    (seconds to the first answer, to the final content, from the request to the final
    content)."""
    headers, body = b.signed(payload)
    started = time.perf_counter()
    ctx, base = b.ours(name, {"DISCORD_API_BASE_URL": f"{local.base}/api/v10"}, cold=True)
    with ctx:
        sent = time.perf_counter()
        response = httpx.post(base + "/interactions", headers=headers, content=body, timeout=10)
        answered = time.perf_counter()
        kind = response.json()["type"]
        assert kind in (1, 4, 5), response.text
        final = local.edit_of(str(payload["token"])) if kind == 5 else answered
    return answered - started, final - started, final - sent


def case_cold(b: Bench, runs: int = 5) -> dict[str, dict[str, float]]:
    from run import SEED_DAY, _data

    b.seed_ours("cold")  # a woken machine finds its database on the volume, migrated
    local = LocalDiscord()
    rows: dict[str, list[float]] = {}

    def note(label: str, seconds: float) -> None:
        rows.setdefault(label, []).append(seconds * 1000)

    try:
        for n in range(runs):
            started = time.perf_counter()
            ctx, base = b.floor("json")
            with ctx:
                assert httpx.get(base + "/", timeout=10).status_code == 200
                note(BARE, time.perf_counter() - started)
            plans = _data("plans", date=SEED_DAY.isoformat())
            headers, body = b.signed(b.interaction(2, plans))
            started = time.perf_counter()
            ctx, base = b.floor("plans")
            with ctx:
                response = httpx.post(base + "/interactions", headers=headers, content=body)
                assert response.json()["type"] == 4, response.text
                note("floor: first /plans (verify + SQLModel)", time.perf_counter() - started)
            first, _, _ = _first_answer(b, "cold", b.interaction(1), local)
            note("ours: first PONG", first)
            plans = _data("plans", date=SEED_DAY.isoformat())
            first, final, waited = _first_answer(b, "cold", b.interaction(2, plans), local)
            note("ours: first /plans answer", first)
            note("ours: first /plans final content", final)
            note("  request to final content", waited)
            day = (SEED_DAY + timedelta(days=1 + n)).isoformat()
            chart = b.chart_plan(local.base, day)
            first, final, waited = _first_answer(b, "cold", b.interaction(2, chart), local)
            note("ours: first /plan with chart, answer", first)
            note("ours: /plan with chart, final content", final)
            note("  request to final content ", waited)
    finally:
        local.close()
    return _report(rows, runs)


BARE = "bare Starlette app: first GET"


def _paired(rows: dict[str, list[float]], label: str) -> tuple[float, list[float]]:
    """The median of each start's ratio to the bare app started just before it: a machine that
    speeds up or slows down during the run moves both sides of a pair alike."""
    ratios = [ours / bare for ours, bare in zip(rows[label], rows[BARE], strict=True)]
    return statistics.median(ratios), ratios


def _report(rows: dict[str, list[float]], runs: int) -> dict[str, dict[str, float]]:
    summary = {
        label: {"min": min(v), "median": statistics.median(v), "max": max(v)}
        for label, v in rows.items()
    }
    print(f"== cold start, process start to answer ({runs} starts each, ms)")
    print(f"{'case':<40}{'min':>8}{'median':>8}{'max':>8}{'x bare':>8}")
    for label, s in summary.items():
        ratio = "" if label.startswith(" ") else f"{_paired(rows, label)[0]:>8.2f}"
        print(f"{label:<40}{s['min']:>8.0f}{s['median']:>8.0f}{s['max']:>8.0f}{ratio}")
    print("x bare: the median of each start's ratio to the bare app's start just before it")
    for label, what in (
        ("ours: first /plans answer", "first /plans answer"),
        ("ours: first /plan with chart, answer", "first /plan with chart answer"),
    ):
        ratio, ratios = _paired(rows, label)
        shown = ", ".join(f"{r:.2f}" for r in ratios)
        print(f"{what}: {ratio:.2f}x a bare app's first GET, median of {shown} (target <= 1.5)")
    ours = summary["ours: first /plans answer"]["median"]
    floor = summary["floor: first /plans (verify + SQLModel)"]["median"]
    print(f"first /plans answer: {ours / floor:.2f}x the floor app's (the same work on SQLModel)")
    late = max(max(rows["  request to final content"]), max(rows["  request to final content "]))
    print(
        f"slowest final content {late:.0f} ms after its request "
        f"(target < {DEADLINE_SECONDS * 1000:.0f})"
    )
    print()
    return summary

"""Benchmarks: Coach Plans against bare Starlette floor apps, measured in the same run.

Usage: `make bench`, or `.venv/bin/python bench/run.py [--seconds N] [--only CASE ...]`
with CASE among ping, plan, read, all, autocomplete, client, cold, charts, levels, send,
outcomes (a year graded from CSV; /plans while the price source hangs: bench/outcomes.py),
pictures (/outcome and /scorecard: p50/p99 time to final content: bench/pictures.py),
scale (costs on a small and a large database: bench/scale.py; not run unless named).

Everything runs on 127.0.0.1. Each server is started, driven by wrk for the same time with the
same connections, and stopped. Signed interactions are pre-built and unique, so replay
protection never turns the load into cache hits. Prints one table per case with ratios from
the same run, and writes bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import charts
import cold
import httpx
import outcomes
import pictures
import scale
import send
from nacl.signing import SigningKey

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The service's modules this bench imports are this checkout's, as its servers' are (PYTHONPATH).
sys.path.insert(1, str(ROOT))
PYTHON = sys.executable
APP_ID = "100000000000000001"
SEED_DAY = date(2026, 1, 5)  # the day the read benchmarks look up
USER_ID = "400000000000000001"  # the member every bench interaction comes from
GUILD_ID = "200000000000000001"  # the one community the bench serves
CDN = "https://cdn.discordapp.com/attachments/300000000000000001"


@dataclass
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    max_ms: float = 0.0

    @property
    def tail(self) -> float:
        return self.p99_ms / self.p50_ms if self.p50_ms else float("inf")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(
    argv: list[str], port: int, env: dict[str, str] | None = None, ready: str | None = None
) -> Iterator[float]:
    """Run a server process; yields the seconds it took to accept connections, or with `ready`
    (a path), to answer 200 there."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited with {proc.returncode}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.perf_counter() - started > 30:
                raise RuntimeError(f"{argv} did not start")
            time.sleep(0.005)
        while ready is not None and httpx.get(f"http://127.0.0.1:{port}{ready}").status_code != 200:
            time.sleep(0.005)
        yield time.perf_counter() - started
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Bench:
    def __init__(self, seconds: float, connections: int, work: Path) -> None:
        self.seconds = seconds
        self.connections = connections
        self.work = work
        self.key = SigningKey.generate()
        self.public_hex = self.key.verify_key.encode().hex()
        self.counter = 0
        self.plan_days = 0

    # --- servers ---------------------------------------------------------------------------

    def floor(self, kind: str) -> tuple[contextlib.AbstractContextManager[float], str]:
        port = free_port()
        db = self.work / f"floor-{kind}.db"
        argv = [PYTHON, str(HERE / "floors.py"), kind, str(port), str(db), self.public_hex]
        return server(argv, port), f"http://127.0.0.1:{port}"

    def ours_env(self, name: str) -> dict[str, str]:
        return {
            "DISCORD_PUBLIC_KEY": self.public_hex,
            "DISCORD_APPLICATION_ID": APP_ID,
            "DATABASE_PATH": str(self.work / f"ours-{name}.db"),
            "CHART_STORAGE_DIR": str(self.work / f"charts-{name}"),
            "LOG_FILE": str(self.work / f"ours-{name}.log"),
            "PUBLIC_BASE_URL": "http://127.0.0.1",
            # Follow-ups would go to Discord; nothing listens here, and no case makes one.
            "DISCORD_API_BASE_URL": "http://127.0.0.1:9/api/v10",
            # Thousands of plans a day by one member, dated from 1990 on and past today in later
            # rounds: no bound applies. Each post is still recorded for the quotas (a limit set
            # later in the day counts it); with no limit set, the day's usage is not read.
            "PLAN_DAYS_BACK": "0",
            "PLAN_DAYS_AHEAD": "0",
            "MEMBER_PLANS_PER_DAY": "0",
            "GUILD_PLANS_PER_DAY": "0",
            "MEMBER_CHART_MB_PER_DAY": "0",
            "GUILD_CHART_MB_PER_DAY": "0",
            # No case reaches Yahoo; the outcomes case names its own source.
            "PRICE_SOURCE": "none",
            # This checkout's code, whichever checkout the environment was installed from.
            "PYTHONPATH": str(ROOT),
        }

    def ours(
        self, name: str, env: dict[str, str] | None = None, *, cold: bool = False
    ) -> tuple[contextlib.AbstractContextManager[float], str]:
        """Our server. Load starts once /health answers: a woken server builds its storage
        after it listens, and a throughput case measures the steady state (the cold case,
        `cold=True`, measures the start itself)."""
        port = free_port()
        argv = [str(Path(PYTHON).parent / "coach-plans"), "serve", "--host", "127.0.0.1"]
        argv += ["--port", str(port)]
        environment = {**self.ours_env(name), **(env or {})}
        ready = None if cold else "/health"
        return server(argv, port, environment, ready), f"http://127.0.0.1:{port}"

    def seed_ours(self, name: str, charts_per_plan: int = 0) -> None:
        """One plan per coach on SEED_DAY by the bench's member (so its /edit and /history find
        something), written through the service's own rules."""
        from app.plans.service import Actor, NewChart, Place, PlanService
        from app.settings import load_settings
        from app.storage.database import make_engine, migrate
        from app.storage.repository import PlanRepository

        env = self.ours_env(name)
        settings = load_settings(database_path=env["DATABASE_PATH"], mock_mode=True)
        engine = make_engine(settings.database_url)
        migrate(engine)
        service = PlanService(
            PlanRepository(engine), coaches=settings.coaches, timezone=settings.zone
        )
        for coach in settings.coaches:
            charts = [
                NewChart(
                    f"https://cdn.discordapp.com/{coach}/{n}.png",
                    f"chart{n}.png",
                    "image/png",
                    1000,
                )
                for n in range(charts_per_plan)
            ]
            text = f"Coach {coach}: long above 950, stop 940. " * 10
            author = Actor(id=USER_ID, name="coach")
            service.post(coach, SEED_DAY, text, author, place=Place(GUILD_ID), charts=charts)
        engine.dispose()

    # --- requests --------------------------------------------------------------------------

    def signed(self, payload: dict[str, object]) -> tuple[dict[str, str], str]:
        body = json.dumps(payload, separators=(",", ":"))
        timestamp = str(int(time.time()))
        signature = self.key.sign(timestamp.encode() + body.encode()).signature.hex()
        headers = {
            "Content-Type": "application/json",
            "X-Signature-Ed25519": signature,
            "X-Signature-Timestamp": timestamp,
        }
        return headers, body

    def interaction(self, kind: int, data: dict[str, object] | None = None) -> dict[str, object]:
        self.counter += 1
        payload: dict[str, object] = {
            "id": str(900000000000000000 + self.counter),
            "application_id": APP_ID,
            "type": kind,
            "token": f"bench-token-{self.counter}",
            "version": 1,
        }
        if data is not None:
            user = {"id": USER_ID, "username": "coach", "global_name": "Coach"}
            payload.update(
                data=data,
                guild_id=GUILD_ID,
                channel_id="300000000000000001",
                channel={"id": "300000000000000001", "name": "plans", "type": 0},
                member={"user": user, "permissions": "0", "roles": []},
            )
        return payload

    def request_line(self, payload: dict[str, object]) -> str:
        """One signed interaction in wrk_requests.lua's format."""
        headers, body = self.signed(payload)
        header_text = "|".join(f"{k}:{v}" for k, v in headers.items())
        return f"POST\t/interactions\t{header_text}\t{body}"

    def requests_file(self, name: str, payloads: list[dict[str, object]]) -> Path:
        lines = [self.request_line(payload) for payload in payloads]
        path = self.work / f"{name}-{self.counter}.requests"
        path.write_text("\n".join(lines) + "\n")
        return path

    def pings(self) -> Path:
        return self.requests_file("ping", [self.interaction(1) for _ in range(self.budget(8000))])

    def plans(self) -> Path:
        # Unique (coach, date) pairs: one live plan per coach and date is a rule of the service.
        payloads = []
        first = self.plan_days
        count = self.budget(2500)
        self.plan_days += count // 4 + 1  # the next batch (a later round) starts after this one
        for n in range(count):
            day = date(1990, 1, 1) + timedelta(days=first + n // 4)
            options = [
                {"name": "coach", "type": 3, "value": "disn"[n % 4]},
                {"name": "text", "type": 3, "value": f"Plan {n}: watch 950, stop 940."},
                {"name": "date", "type": 3, "value": day.isoformat()},
            ]
            data = {"id": "500000000000000001", "name": "plan", "type": 1, "options": options}
            payloads.append(self.interaction(2, data))
        return self.requests_file("plan", payloads)

    def chart_plan(self, cdn_base: str, day: str) -> dict[str, object]:
        """/plan's data with one chart attached, served by `cdn_base`."""
        from app.mock import payloads

        url = f"{cdn_base}/attachments/300000000000000001/spy.png"
        chart = payloads.attachment(url, "spy.png", len(cold.PNG))
        text = "Long above 950, stop 940, target 975."
        return _data("plan", {"chart1": chart}, coach="i", text=text, date=day)

    def autocompletes(self) -> Path:
        payloads = []
        for n in range(self.budget(6000)):
            options = [
                {"name": "coach", "type": 3, "value": "disn"[n % 4]},
                {"name": "date", "type": 3, "value": "2026-0", "focused": True},
            ]
            data = {"id": "500000000000000002", "name": "edit", "type": 1, "options": options}
            payloads.append(self.interaction(4, data))
        return self.requests_file("autocomplete", payloads)

    def get_file(self, path: str) -> Path:
        out = self.work / f"get-{self.counter}.requests"
        self.counter += 1
        out.write_text(f"GET\t{path}\t\t\n")
        return out

    def budget(self, rate: float) -> int:
        """Enough unique requests for the whole run at a generous rate."""
        return int(self.seconds * rate) + 500

    # --- load ------------------------------------------------------------------------------

    def wrk(self, name: str, base: str, requests: Path) -> Result:
        argv = ["wrk", "-t1", f"-c{self.connections}", f"-d{self.seconds:g}s", "--timeout", "5s"]
        argv += ["-s", str(HERE / "wrk_requests.lua"), base, "--", str(requests)]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        summary = json.loads(out.strip().splitlines()[-1])
        seconds = summary["duration_us"] / 1e6
        return Result(
            name,
            summary["requests"] / seconds,
            summary["p50_us"] / 1000,
            summary["p99_us"] / 1000,
            summary["errors"],
            summary["max_us"] / 1000,
        )


def _data(
    name: str, attachments: dict[str, dict[str, object]] | None = None, **options: str
) -> dict[str, object]:
    """A slash command's data, as Discord sends it."""
    from app.mock import payloads

    values = [payloads.option(key, value) for key, value in options.items()]
    return payloads.command_data(name, values, attachments)


def show(title: str, results: list[Result], ratio: str | None = None) -> None:
    print(f"== {title}")
    print(f"{'case':<36}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'p99/p50':>9}{'errors':>8}")
    for r in results:
        print(
            f"{r.name:<36}{r.requests_per_s:>9.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}"
            f"{r.tail:>9.2f}{r.errors:>8}"
        )
    if ratio:
        print(ratio)
    print()


def compare(
    b: Bench,
    title: str,
    floor: tuple[str, str, Callable[[], Path]],
    ours: tuple[str, str, Callable[[], Path]],
    path: str,
    target: float,
) -> list[Result]:
    """Floor and ours in turn, ROUNDS times; the ratio is the median of each round's ratio, so
    a neighbour's burst of CPU on a shared machine moves one round, not the verdict."""
    floor_kind, floor_name, floor_requests = floor
    ours_case, ours_name, ours_requests = ours
    results: list[Result] = []
    ratios = []
    for _ in range(ROUNDS):
        ctx, base = b.floor(floor_kind)
        with ctx:
            low = b.wrk(floor_name, base + path, floor_requests())
        ctx, base = b.ours(ours_case)
        with ctx:
            mine = b.wrk(ours_name, base + path, ours_requests())
        results += [low, mine]
        ratios.append(mine.requests_per_s / low.requests_per_s)
    shown = ", ".join(f"{r:.2f}" for r in ratios)
    ratio = statistics.median(ratios)
    show(title, results, f"ratio ours/floor {ratio:.2f}, median of {shown} (target >= {target})")
    return results


ROUNDS = 3


def case_ping(b: Bench) -> list[Result]:
    return compare(
        b,
        "signed PING",
        ("pong", "floor: verify + PONG", b.pings),
        ("ping", "ours: signed PING", b.pings),
        "/interactions",
        0.85,
    )


def case_plan(b: Bench) -> list[Result]:
    return compare(
        b,
        "a command that writes",
        ("insert", "floor: verify + SQLModel insert", b.plans),
        ("plan", "ours: /plan (text only)", b.plans),
        "/interactions",
        0.6,
    )


def case_read(b: Bench) -> list[Result]:
    """By key, naming the guild and not: the service then finds the only guild with plans,
    from memory (the floor's table has no guilds, so it is the same query either way)."""
    query = f"/api/coach-plans/?coach=d&date={SEED_DAY.isoformat()}"
    named = f"{query}&guild={GUILD_ID}"
    b.seed_ours("read")
    results = []
    for title, path in (("REST read by key, guild=", named), ("REST read by key, no guild", query)):
        results += compare(
            b,
            title,
            ("read", "floor: select by key + JSON", lambda path=path: b.get_file(path)),
            ("read", "ours: GET plan by coach+date", lambda path=path: b.get_file(path)),
            "",
            1.0,
        )
    return results


def case_all(b: Bench) -> list[Result]:
    b.seed_ours("all", charts_per_plan=10)
    ctx, base = b.ours("all")
    with ctx:
        ours = b.wrk(
            "ours: /all, 4 plans x 10 charts",
            base,
            b.get_file(f"/api/coach-plans/all?date={SEED_DAY.isoformat()}"),
        )
    show("REST /all", [ours])
    return [ours]


def case_autocomplete(b: Bench) -> list[Result]:
    b.seed_ours("autocomplete")
    ctx, base = b.ours("autocomplete")
    with ctx:
        ours = b.wrk("ours: date autocomplete", base + "/interactions", b.autocompletes())
    show("autocomplete", [ours], f"autocomplete p99 {ours.p99_ms:.2f} ms")
    return [ours]


def _time_calls(call: Callable[[], object], count: int) -> float:
    """Median microseconds per call over `count` calls."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1e6)
    return statistics.median(samples)


def case_client(b: Bench) -> dict[str, float]:
    from app.client import create_client

    b.seed_ours("client")
    ctx, base = b.ours("client")
    with ctx, httpx.Client() as bare:
        url = f"{base}/api/coach-plans/?coach=d&date={SEED_DAY.isoformat()}"
        bare_us = _time_calls(lambda: bare.get(url), 500)
        cached = create_client(api_base_url=base)
        cached.fetch_coach_plan("d", SEED_DAY.isoformat())
        cached_us = _time_calls(lambda: cached.fetch_coach_plan("d", SEED_DAY.isoformat()), 2000)
        uncached = create_client(api_base_url=base, cache_ttl_seconds=0)
        uncached_us = _time_calls(lambda: uncached.fetch_coach_plan("d", SEED_DAY.isoformat()), 500)
    rows = {"bare httpx GET": bare_us, "client, cached": cached_us, "client, uncached": uncached_us}
    print("== Python client, median per fetch")
    for name, us in rows.items():
        print(f"{name:<36}{us:>9.1f} us")
    print()
    return rows


def case_levels(b: Bench) -> dict[str, object]:
    """The levels extractor: its score on the golden corpus and its time per plan."""
    sys.path.insert(0, str(ROOT))
    from app.plans.extraction import extract
    from tests.support.levels_corpus import cases, score

    result = score()
    texts = [case["text"] for case in cases()]
    per_plan = _time_calls(lambda: [extract(text) for text in texts], 200) / len(texts)
    print("== Levels extractor, golden corpus (tests/fixtures/levels_corpus.json)")
    print(result.line())
    for miss in result.misses:
        print(f"  {miss}")
    print(f"{'median per plan text':<36}{per_plan:>9.1f} us\n")
    return {
        "right": result.right,
        "missed": result.missed,
        "wrong": result.wrong,
        "fields": result.fields,
        "plans_exact": result.plans_exact,
        "plans": result.plans,
        "us_per_plan": per_plan,
    }


CASES: dict[str, Callable[[Bench], object]] = {
    "ping": case_ping,
    "plan": case_plan,
    "read": case_read,
    "all": case_all,
    "autocomplete": case_autocomplete,
    "client": case_client,
    "cold": cold.case_cold,
    "charts": charts.case_charts,
    "levels": case_levels,
    "scale": scale.case_scale,
    "send": send.case_send,
    "outcomes": outcomes.case_outcomes,
    "pictures": pictures.case_pictures,
}
# Builds databases of a million plans (minutes): run when asked for, `--only scale`.
ON_REQUEST = {"scale"}
WITHOUT_WRK = {"scale", "send", "pictures"}  # they time their own requests, one at a time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 5)))
    parser.add_argument("--connections", type=int, default=16)
    default = [name for name in CASES if name not in ON_REQUEST]
    parser.add_argument("--only", nargs="*", choices=list(CASES), default=default)
    args = parser.parse_args()
    if shutil.which("wrk") is None and set(args.only) - WITHOUT_WRK:
        print("wrk is not installed: `apt-get install wrk` (make bench does it)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="coach-plans-bench-"))
    bench = Bench(args.seconds, args.connections, work)
    print(f"{args.seconds:g} s per run, {args.connections} connections, wrk -t1, on 127.0.0.1\n")
    report: dict[str, object] = {}
    try:
        for name in args.only:
            outcome = CASES[name](bench)
            report[name] = [asdict(r) for r in outcome] if isinstance(outcome, list) else outcome
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

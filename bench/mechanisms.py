"""Each performance mechanism measured alone, on and off: the figures of docs/performance.md.

Usage: `.venv/bin/python bench/mechanisms.py [--only SECTION ...] [--rounds N]` with SECTION
among (by default instructions, cpu, writers, imports and cold)
- instructions: instructions per request under valgrind's callgrind (the same from run to run
  within a few percent, whatever else the machine runs), the app driven in-process over ASGI,
  16 requests per event-loop turn; ours with each mechanism on and off, against a bare
  Starlette floor app;
- cpu: the same drive without valgrind, processor time (user and system) per request;
- writers: two processes posting plans to one SQLite file at once (the write lock file);
- imports: processor time of a start's imports with the collector on and off;
- cold: process start to the first answer of a signed /plans, and to its final content, each
  start paired with a bare Starlette app's first GET started just before it;
- statements (only when named): a write-path statement built per call and built once, and a
  whole post through the plan service;
- collector (only when named): a woken server under wrk, the objects frozen once it was built
  and the collector's passes while it served, with the gc tweak on and off;
- throughput (only when named): wrk against servers on 127.0.0.1 (bench/run.py's harness),
  the floor, ours and ours without the mechanism in turn.
The "off" services are bench/variants.py's; the service's own settings have no such switch.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable

# mechanism -> (its "off" variant, the request it is measured on)
INSTRUCTIONS = {
    "plain-integer metrics": ("no-plain-metrics", "ping"),
    "gc.freeze after start": ("no-gc-tweak", "ping"),
    "PreparedRead": ("no-prepared-read", "read"),
}
THROUGHPUT = {
    "write lock file": ("no-write-lock", "plan"),
}
COLD = {
    "wake front": "no-wake",
    "gc.disable while starting, gc.freeze": "no-gc-tweak",
}
BATCH = 16  # requests per event-loop turn in-process, as wrk's 16 connections give
COUNT = 800  # requests measured per callgrind run
CPU_COUNT = 4000  # requests measured per processor-time run
WARM_UP = 64  # requests answered before


# --- instructions (callgrind) ----------------------------------------------------------------


def drive(variant: str, kind: str, count: int, work: Path) -> None:
    """In this process: build the app (ours with `variant`, or a floor app), then answer
    `count` requests after a warm-up. Run under callgrind by `instructions`."""
    from run import SEED_DAY, Bench

    b = Bench(1, BATCH, work)
    if kind.startswith("floor-"):
        import floors

        app = floors.build(kind.removeprefix("floor-"), str(work / f"{kind}.db"), b.public_hex)
    else:
        os.environ.update(b.ours_env(kind))
        if kind == "read":
            b.seed_ours(kind)
        import gc

        import variants

        variants.apply(variant)
        gc.disable()  # as `serve` does (app/cli.py), unless the variant made it a no-op
        from app.observability.logs import configure_logging
        from app.runtime.web import create_app
        from app.settings import load_settings

        settings = load_settings(serving=True)
        configure_logging(settings)
        app = create_app(settings)
    if "read" in kind:
        query = f"coach=d&date={SEED_DAY.isoformat()}".encode()
        requests = [("GET", "/api/coach-plans/", query, [], b"")] * (count + WARM_UP)
    else:
        requests = []
        for _ in range(count + WARM_UP):
            headers, body = b.signed(b.interaction(1))
            pairs = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
            requests.append(("POST", "/interactions", b"", pairs, body.encode()))
    asyncio.run(_serve_in_process(app, requests, work))


def _handshake(work: Path, mine: str, theirs: str) -> None:
    """Tell the harness `mine` and wait for its `theirs`: it turns callgrind's
    instrumentation on and off between them."""
    (work / mine).touch()
    while not (work / theirs).exists():
        time.sleep(0.01)


async def _serve_in_process(
    app: Any, requests: list[tuple[str, str, bytes, list[Any], bytes]], work: Path
) -> None:
    startup: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    started = asyncio.Event()
    state: dict[str, Any] = {}

    async def lifespan_send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    await startup.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(
        app(
            {"type": "lifespan", "asgi": {"version": "3.0"}, "state": state},
            startup.get,
            lifespan_send,
        )
    )
    await started.wait()
    if "runtime" in state:
        await state["runtime"].ready.wait()
        import gc

        gc.freeze()  # as the server does once it listens (app/runtime/server.py)
        gc.enable()

    async def one(method: str, path: str, query: bytes, headers: list[Any], body: bytes) -> None:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = 0

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), (b"content-length", b"%d" % len(body)), *headers],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": dict(state),
        }
        await app(scope, receive, send)
        assert status == 200, status

    async def answer(batch: list[tuple[str, str, bytes, list[Any], bytes]]) -> None:
        for start in range(0, len(batch), BATCH):
            await asyncio.gather(*(one(*r) for r in batch[start : start + BATCH]))
            await asyncio.sleep(0)  # the turn ends, as a server's does between socket reads

    await answer(requests[:WARM_UP])  # first-call costs (imports, caches) left out
    _handshake(work, "ready", "go")
    before = resource.getrusage(resource.RUSAGE_SELF)
    await answer(requests[WARM_UP:])
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    (work / "cpu").write_text(repr(used))  # user and system time: a write's cost shows here
    _handshake(work, "done", "stop")
    await startup.put({"type": "lifespan.shutdown"})
    lifespan.cancel()


def per_request(variant: str, kind: str, cpu: bool = False) -> float:
    """Instructions of one request: callgrind counts only while the requests are answered
    (--instr-atstart=no, then callgrind_control turns it on and off around them). With `cpu`,
    without valgrind: the microseconds of processor time (user and system) of one request."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
        argv += ["--callgrind-out-file=/dev/null"]
        count = CPU_COUNT if cpu else COUNT
        argv = [] if cpu else argv
        argv += [PYTHON, str(HERE / "mechanisms.py"), "drive", variant, kind, str(count), tmp]
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(HERE.parent)}
        # valgrind's summary and the service's console lines: to a file, never a full pipe.
        log = (work / "stderr").open("w+")
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log)
        for mine, theirs, switch in (("ready", "go", "on"), ("done", "stop", "off")):
            while not (work / mine).exists():
                if proc.poll() is not None:
                    raise RuntimeError(f"{variant} {kind} stopped: see {work / 'stderr'}")
                time.sleep(0.05)
            if not cpu:
                subprocess.run(
                    ["callgrind_control", "-i", switch, str(proc.pid)],
                    check=True,
                    capture_output=True,
                )
            (work / theirs).touch()
        proc.wait()
        log.seek(0)
        stderr = log.read()
        log.close()
        if cpu:
            if proc.returncode != 0:
                raise RuntimeError(f"{variant} {kind}: {stderr[-2000:]}")
            return float((work / "cpu").read_text()) / count * 1e6
    found = re.search(r"Collected : (\d+)", stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"{variant} {kind}: {stderr[-2000:]}")
    return int(found.group(1)) / COUNT


def section_instructions(rounds: int, cpu: bool = False) -> None:
    if cpu:
        print(f"== processor time per request, us (user + system, {CPU_COUNT} requests)")
    else:
        print(f"== instructions per request (callgrind, {COUNT} requests, {BATCH} a turn)")
    runs: dict[tuple[str, str], list[float]] = {}
    floors = {"ping": "floor-pong", "read": "floor-read"}
    keys = [("on", kind) for kind in floors.values()]
    keys += [("on", kind) for kind in floors]
    keys += [(variant, kind) for variant, kind in INSTRUCTIONS.values()]
    for _ in range(rounds):  # round by round: a change of machine moves every key alike
        for key in keys:
            runs.setdefault(key, []).append(per_request(*key, cpu=cpu))
    count = {key: statistics.median(values) for key, values in runs.items()}

    def shown(key: tuple[str, str]) -> str:
        values = ", ".join(f"{value:,.0f}" for value in runs[key])
        return f"{count[key]:,.0f} (runs {values})"

    for kind, floor in floors.items():
        print(f"{kind}: floor {shown(('on', floor))}, ours {shown(('on', kind))}")
    for name, (variant, kind) in INSTRUCTIONS.items():
        on, off, floor = count["on", kind], count[variant, kind], count["on", floors[kind]]
        print(
            f"{name} ({kind}): on {on / floor:.3f}x floor, off {off / floor:.3f}x floor, "
            f"off/on {off / on:.3f}; off {shown((variant, kind))}"
        )
    print()


# --- throughput (wrk) ------------------------------------------------------------------------


def section_throughput(rounds: int, seconds: float) -> None:
    import run

    with tempfile.TemporaryDirectory() as tmp:
        b = run.Bench(seconds, 16, Path(tmp))
        for name, (variant, case) in THROUGHPUT.items():
            floor_kind, make = {"ping": ("pong", b.pings), "plan": ("insert", b.plans)}[case]
            workers = ["--workers", "2"] if case == "plan" else []
            ratios: dict[str, list[float]] = {"on": [], variant: []}
            for _ in range(rounds):
                ctx, base = b.floor(floor_kind)
                with ctx:
                    floor = b.wrk("floor", base + "/interactions", make()).requests_per_s
                for which in ("on", variant):
                    port = run.free_port()
                    argv = [PYTHON, str(HERE / "variants.py"), "serve", "--host", "127.0.0.1"]
                    argv += ["--port", str(port), *workers]
                    label = f"{case}-{which}-{len(ratios[which])}"
                    b.seed_ours(label)  # migrated before it starts: /health answers at once
                    env = {**b.ours_env(label), "BENCH_VARIANT": which}
                    with run.server(argv, port, env, "/health"):
                        base = f"http://127.0.0.1:{port}"
                        mine = b.wrk(which, base + "/interactions", make())
                    assert mine.errors == 0, mine
                    ratios[which].append(mine.requests_per_s / floor)
            on, off = statistics.median(ratios["on"]), statistics.median(ratios[variant])
            shown = "; ".join(f"{k}: {', '.join(f'{r:.2f}' for r in v)}" for k, v in ratios.items())
            where = " (serve --workers 2)" if workers else ""
            print(
                f"== {name}, {case}{where}: ratio to the floor, on {on:.2f}, off {off:.2f}, "
                f"on/off {on / off:.2f} ({shown})"
            )
    print()


# --- the collector while serving -------------------------------------------------------------


def section_collector(rounds: int, seconds: float) -> None:
    """A woken server (the start Fly gives: no --config) under signed PINGs for `seconds`: the
    objects frozen once it was built, and the collector's passes from its start to its stop,
    on and with the gc tweak off."""
    import run

    with tempfile.TemporaryDirectory() as tmp:
        b = run.Bench(seconds, 16, Path(tmp))
        print(f"== the collector in a woken server, {seconds:g} s of signed PINGs under wrk")
        print("variant       frozen   gen0 n/ms     gen1 n/ms     gen2 n/ms   req/s")
        for n in range(rounds):
            for which in ("on", "no-gc-tweak"):
                port = run.free_port()
                argv = [PYTHON, str(HERE / "variants.py"), "serve", "--host", "127.0.0.1"]
                log = Path(tmp) / f"gc-{which}-{n}.json"
                env = {**b.ours_env(f"gc-{which}-{n}"), "BENCH_VARIANT": which}
                env["BENCH_GC_LOG"] = str(log)
                with run.server([*argv, "--port", str(port)], port, env, "/health"):
                    result = b.wrk(which, f"http://127.0.0.1:{port}/interactions", b.pings())
                seen = json.loads(log.read_text())
                passes = seen["passes"]
                shown = "".join(f"{passes[g][0]:>6}/{passes[g][1]:<7.1f}" for g in ("0", "1", "2"))
                print(f"{which:<12}{seen['frozen']:>8}  {shown}{result.requests_per_s:>6.0f}")
    print()


# --- statements built once --------------------------------------------------------------------


def section_statements(rounds: int, count: int = 2000) -> None:
    """One statement of the write path (the live plan by key) built per call, as the plain way
    writes it, and built once (app/storage/rows.py), run on one SQLite connection; then a whole
    post through the plan service, against a SQLModel insert and commit on the same settings."""
    import timeit
    from datetime import date, timedelta
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from app.plans.service import Actor, Place, PlanService
    from app.storage import rows
    from app.storage.database import make_engine, migrate
    from app.storage.repository import PlanRepository

    plans_t, key = rows.plans_t, {"guild": "1", "coach": "d", "day": date(2020, 1, 2)}
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/statements.db")
        migrate(engine)
        taken: dict[str, list[float]] = {"built per call": [], "built once": [], "post": []}
        with engine.connect() as connection:

            def per_call() -> object:
                return connection.execute(
                    select(plans_t.c.id).where(
                        plans_t.c.guild_id == key["guild"],
                        plans_t.c.coach_name == key["coach"],
                        plans_t.c.date == key["day"],
                        rows.LIVE,
                    )
                ).scalar()

            def once() -> object:
                return connection.execute(rows.LIVE_ID, key).scalar()

            for _ in range(rounds):
                taken["built per call"].append(timeit.timeit(per_call, number=count) / count)
                taken["built once"].append(timeit.timeit(once, number=count) / count)
        service = PlanService(PlanRepository(engine), coaches=["d"], timezone=ZoneInfo("UTC"))
        author, first = Actor(id="5", name="bench"), date(1990, 1, 1)
        for n in range(rounds):
            started = time.perf_counter()
            for i in range(count // 10):
                day = first + timedelta(days=n * count + i)
                service.post("d", day, "long above 950", author, place=Place("1"))
            taken["post"].append((time.perf_counter() - started) / (count // 10))
        engine.dispose()
    print(f"== statements on SQLite, µs per call (median of {rounds} rounds of {count})")
    for name, values in taken.items():
        spread = _listed([value * 1e6 for value in values], 0)
        print(f"{name:<16}{statistics.median(values) * 1e6:>8.0f}  ({spread})")
    print()


# --- writers in two processes ----------------------------------------------------------------


def write_plans(variant: str, database: str, first_day: str, count: int, work: Path) -> None:
    """In this process: post `count` plans through the plan service, once the harness says go;
    writes the seconds each took to work/<first_day>."""
    from datetime import date

    import variants

    variants.apply(variant)
    from app.plans.service import Actor, Place, PlanService
    from app.settings import load_settings
    from app.storage.database import make_engine
    from app.storage.repository import PlanRepository

    settings = load_settings(database_path=database, mock_mode=True)
    service = PlanService(
        PlanRepository(make_engine(settings.database_url)),
        coaches=settings.coaches,
        timezone=settings.zone,
    )
    author = Actor(id="400000000000000001", name="coach")
    start = date.fromisoformat(first_day)
    _handshake(work, f"ready-{first_day}", "go")
    took = []
    for n in range(count):
        day = start + timedelta(days=n)
        began = time.perf_counter()
        service.post("d", day, f"Plan {n}: watch 950.", author, place=Place("200000000000000001"))
        took.append(time.perf_counter() - began)
    (work / first_day).write_text(json.dumps(took))


def section_writers(rounds: int, count: int = 150) -> None:
    """Two processes post plans to one SQLite file at once, as `serve --workers 2` does."""
    import run

    print(f"== two processes writing {count} plans each to one SQLite file (ms)")
    results: dict[str, list[tuple[float, float, float, float]]] = {"on": [], "no-write-lock": []}
    for _ in range(rounds):
        for variant in results:
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                b = run.Bench(1, 1, work)
                b.seed_ours("writers")  # migrated
                database = b.ours_env("writers")["DATABASE_PATH"]
                env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
                days = ["1990-01-01", "2000-01-01"]
                procs = [
                    subprocess.Popen(
                        [
                            PYTHON,
                            str(HERE / "mechanisms.py"),
                            "write",
                            variant,
                            database,
                            day,
                            str(count),
                            tmp,
                        ],
                        env=env,
                    )
                    for day in days
                ]
                while not all((work / f"ready-{day}").exists() for day in days):
                    time.sleep(0.01)
                began = time.perf_counter()
                (work / "go").touch()
                for proc in procs:
                    assert proc.wait() == 0
                total = time.perf_counter() - began
                took = sorted(t for day in days for t in json.loads((work / day).read_text()))
                p99 = took[int(len(took) * 0.99)]
                results[variant].append(
                    (total * 1000, statistics.median(took) * 1000, p99 * 1000, took[-1] * 1000)
                )
    for variant, rows in results.items():
        shown = "; ".join("/".join(f"{x:.0f}" for x in row) for row in rows)
        total, p50, p99, most = (statistics.median(r[i] for r in rows) for i in range(4))
        print(
            f"{variant:<16} all writes {total:.0f} ms, a write's p50 {p50:.1f}, p99 {p99:.1f}, "
            f"max {most:.0f} ms (medians; each round total/p50/p99/max: {shown})"
        )
    ratios = [
        off[0] / on[0] for on, off in zip(results["on"], results["no-write-lock"], strict=True)
    ]
    print(
        f"total time off/on, per round: {', '.join(f'{r:.2f}' for r in ratios)}; "
        f"median {statistics.median(ratios):.2f}"
    )
    print()


# --- cold start ------------------------------------------------------------------------------


def _cold_start(b: Any, variant: str, local: Any, day: str) -> tuple[float, float, float]:
    """Seconds from process start to a signed /plans's first answer and to its final content,
    and the processor seconds (user and system) the server used in all, start to stop."""
    import run

    port = run.free_port()
    argv = [PYTHON, str(HERE / "variants.py"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    env = {**b.ours_env("cold"), "DISCORD_API_BASE_URL": f"{local.base}/api/v10"}
    env["BENCH_VARIANT"] = variant
    if variant == "no-wake":
        # A --config file: the settings must be loaded before anything listens (app/cli.py).
        config = b.work / "cold.yaml"
        config.write_text("log_level: INFO\n")
        argv += ["--config", str(config)]
        env["BENCH_VARIANT"] = "on"
    payload = b.interaction(2, run._data("plans", date=day))
    headers, body = b.signed(payload)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with run.server(argv, port, env):
        response = httpx.post(
            f"http://127.0.0.1:{port}/interactions", headers=headers, content=body, timeout=10
        )
        answered = time.perf_counter()
        kind = response.json()["type"]
        final = local.edit_of(str(payload["token"])) if kind == 5 else answered
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime - children.ru_utime + after.ru_stime - children.ru_stime
    return answered - started, final - started, used


def section_cold(rounds: int) -> None:
    import cold
    import run

    with tempfile.TemporaryDirectory() as tmp:
        b = run.Bench(1, 16, Path(tmp))
        b.seed_ours("cold")
        local = cold.LocalDiscord()
        variants = ["on", *COLD.values()]
        first: dict[str, list[float]] = {v: [] for v in variants}
        final: dict[str, list[float]] = {v: [] for v in variants}
        cpu: dict[str, list[float]] = {v: [] for v in variants}
        try:
            for _ in range(rounds):
                day = run.SEED_DAY.isoformat()
                for variant in variants:
                    started = time.perf_counter()
                    ctx, base = b.floor("json")
                    with ctx:
                        assert httpx.get(base + "/", timeout=10).status_code == 200
                        bare = time.perf_counter() - started
                    answer, content, used = _cold_start(b, variant, local, day)
                    cpu[variant].append(used * 1000)
                    first[variant].append(answer / bare)
                    final[variant].append(content / bare)
        finally:
            local.close()
    print(f"== cold start, x a bare app's first GET (median of {rounds} paired starts)")
    for name, variant in [("all on", "on"), *COLD.items()]:
        label = name if variant == "on" else f"without {name}"
        print(
            f"{label:<48} first answer {statistics.median(first[variant]):.2f} "
            f"({', '.join(f'{r:.2f}' for r in first[variant])}); final content "
            f"{statistics.median(final[variant]):.2f} ({_listed(final[variant], 2)}); "
            f"processor ms {statistics.median(cpu[variant]):.0f} ({_listed(cpu[variant], 0)})"
        )
    print()


def _listed(values: list[float], digits: int) -> str:
    return ", ".join(f"{value:.{digits}f}" for value in values)


# --- the start's imports -----------------------------------------

IMPORTS = """
import gc, sys, time
if sys.argv[1] == "on":
    gc.disable()
began = time.process_time()
import app.cli, app.runtime.wake, app.runtime.server, app.settings, app.runtime.web
import app.storage.repository, app.api
app.api.load()
print((time.process_time() - began) * 1000)
"""


def section_imports(rounds: int) -> None:
    """gc off while a start imports: processor ms of the imports, in a new process each time."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    took: dict[str, list[float]] = {"on": [], "off": []}
    for _ in range(rounds):
        for which in took:
            out = subprocess.run(
                [PYTHON, "-c", IMPORTS, which], env=env, capture_output=True, text=True, check=True
            ).stdout
            took[which].append(float(out))
    print("== the start's imports, processor ms (gc off while importing: on)")
    for which, values in took.items():
        print(f"{which:<4} {statistics.median(values):.0f} ({_listed(values, 0)})")
    print()


def main() -> int:
    if sys.argv[1:2] == ["write"]:
        variant, database, day, count, work = sys.argv[2:7]
        write_plans(variant, database, day, int(count), Path(work))
        return 0
    if sys.argv[1:2] == ["drive"]:
        variant, kind, count, work = sys.argv[2:6]
        drive(variant, kind, int(count), Path(work))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sections = ["instructions", "cpu", "writers", "imports", "cold"]
    parser.add_argument("--only", nargs="*", default=sections)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    for section in args.only:
        if section == "instructions":
            section_instructions(args.rounds)
        elif section == "cpu":
            section_instructions(args.rounds, cpu=True)
        elif section == "throughput":
            section_throughput(args.rounds, args.seconds)
        elif section == "imports":
            section_imports(args.rounds)
        elif section == "writers":
            section_writers(args.rounds)
        elif section == "cold":
            section_cold(args.rounds)
        elif section == "statements":
            section_statements(args.rounds)
        elif section == "collector":
            section_collector(args.rounds, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

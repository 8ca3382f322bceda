"""Load test: a mix of signed interactions (90% reads, 10% writes) and REST reads against
`coach-plans serve --workers 2` on 127.0.0.1, for a bounded time.

Usage: `make load`, or `.venv/bin/python bench/load.py [--seconds N] [--connections N]`.
Prints throughput, p50/p99/max and the error count; exits 1 if any request failed or any
answer took longer than Discord's 3 s deadline.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import httpx
from run import PYTHON, SEED_DAY, Bench, free_port, server

DEADLINE_MS = 3000


def command(name: str, **options: str) -> dict[str, object]:
    listed = [{"name": key, "type": 3, "value": value} for key, value in options.items()]
    return {"id": "500000000000000009", "name": name, "type": 1, "options": listed}


def mix(bench: Bench, count: int) -> Path:
    """Pre-signed unique requests: a tenth writes, the rest reads over Discord and REST."""
    rng = random.Random(7)
    day = SEED_DAY.isoformat()
    lines = []
    for n in range(count):
        coach = "disn"[n % 4]
        roll = rng.random()
        if roll < 0.05:
            new_day = (date(1980, 1, 1) + timedelta(days=n)).isoformat()
            plan = command("plan", coach=coach, text=f"Plan {n}", date=new_day)
            payload = bench.interaction(2, plan)
        elif roll < 0.10:
            payload = bench.interaction(2, command("edit", coach=coach, date=day, text=f"v{n}"))
        elif roll < 0.25:
            payload = bench.interaction(2, command("plans", date=day))
        elif roll < 0.35:
            payload = bench.interaction(2, command("myplans", date=day))
        elif roll < 0.45:
            payload = bench.interaction(2, command("history", coach=coach, date=day))
        elif roll < 0.60:
            typed = {"name": "date", "type": 3, "value": "2026", "focused": True}
            options = [{"name": "coach", "type": 3, "value": coach}, typed]
            data = {"id": "1", "name": "edit", "type": 1, "options": options}
            payload = bench.interaction(4, data)
        else:
            path = f"/api/coach-plans/?coach={coach}&date={day}"
            if roll > 0.9:
                path = f"/api/coach-plans/all?date={day}"
            lines.append(f"GET\t{path}\t\t")
            continue
        lines.append(bench.request_line(payload))
    out = bench.work / "load.requests"
    out.write_text("\n".join(lines) + "\n")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: `apt-get install wrk` (make load does it)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="coach-plans-load-"))
    bench = Bench(args.seconds, args.connections, work)
    try:
        env = bench.ours_env("load")
        bench.seed_ours("load")
        requests = mix(bench, bench.budget(3000))
        port = free_port()
        argv = [str(Path(PYTHON).parent / "coach-plans"), "serve", "--workers", "2"]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        with server(argv, port, env, ready="/health"):
            # Each worker builds its storage before it takes requests: load starts once both answer
            # (new connections land on either worker).
            for _ in range(20):
                httpx.get(f"http://127.0.0.1:{port}/health").raise_for_status()
            result = bench.wrk("mixed load, 2 workers", f"http://127.0.0.1:{port}", requests)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.seconds:g} s, {args.connections} connections, 2 workers, on 127.0.0.1")
    print(
        f"throughput {result.requests_per_s:.0f} req/s, p50 {result.p50_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms, max {result.max_ms:.1f} ms, errors {result.errors}"
    )
    if result.errors or result.max_ms > DEADLINE_MS:
        print("FAILED: requests failed or an answer exceeded 3 s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

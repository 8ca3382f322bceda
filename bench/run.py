"""Benchmarks: Coach Plans against bare Starlette floor apps, measured in the same run.

Usage: `make bench` (or `.venv/bin/python bench/run.py [--seconds N] [--only NAME ...]`).
Everything runs on 127.0.0.1: each server is started, loaded with wrk for the same time with the
same connections, and stopped. Signed interactions are pre-built and unique, so replay
protection never turns the load into cache hits. Prints a table and writes bench/results/*.json.
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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx
from nacl.signing import SigningKey

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
APP_ID = "100000000000000001"


@dataclass
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def tail(self) -> float:
        return self.p99_ms / self.p50_ms if self.p50_ms else float("inf")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> float:
    """Seconds until the port accepts a connection."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return time.perf_counter() - started
        time.sleep(0.01)
    raise RuntimeError("server did not start")


@contextlib.contextmanager
def server(argv: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[None]:
    proc = subprocess.Popen(
        argv,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        wait_until_up(port, proc)
        yield
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

    # --- servers ---------------------------------------------------------------------------

    def floor(self, kind: str, port: int) -> contextlib.AbstractContextManager[None]:
        db = self.work / f"floor-{kind}.db"
        argv = [PYTHON, str(HERE / "floors.py"), kind, str(port), str(db), self.public_hex]
        return server(argv, port)

    def ours(self, port: int, name: str) -> contextlib.AbstractContextManager[None]:
        env = {
            "DISCORD_PUBLIC_KEY": self.public_hex,
            "DISCORD_APPLICATION_ID": APP_ID,
            "DATABASE_PATH": str(self.work / f"ours-{name}.db"),
            "CHART_STORAGE_DIR": str(self.work / "charts"),
            "LOG_FILE": str(self.work / f"ours-{name}.log"),
            "DISCORD_API_BASE_URL": "http://127.0.0.1:9/api/v10",
        }
        argv = [str(Path(PYTHON).parent / "coach-plans"), "serve", "--host", "127.0.0.1"]
        return server([*argv, "--port", str(port)], port, env)

    # --- requests --------------------------------------------------------------------------

    def signed_line(self, payload: dict[str, object]) -> str:
        body = json.dumps(payload, separators=(",", ":"))
        timestamp = str(int(time.time()))
        signature = self.key.sign(timestamp.encode() + body.encode()).signature.hex()
        headers = (
            f"Content-Type:application/json|X-Signature-Ed25519:{signature}"
            f"|X-Signature-Timestamp:{timestamp}"
        )
        return f"POST\t/interactions\t{headers}\t{body}"

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
            payload.update(
                data=data,
                guild_id="200000000000000001",
                channel_id="300000000000000001",
                channel={"id": "300000000000000001", "name": "plans", "type": 0},
                member={
                    "user": {"id": "400000000000000001", "username": "coach", "global_name": "Coach"},
                    "permissions": "0",
                    "roles": [],
                },
            )
        return payload

    def plan_command(self, coach: str, day: date, text: str) -> dict[str, object]:
        return {
            "id": "500000000000000001",
            "name": "plan",
            "type": 1,
            "options": [
                {"name": "coach", "type": 3, "value": coach},
                {"name": "text", "type": 3, "value": text},
                {"name": "date", "type": 3, "value": day.isoformat()},
            ],
        }

    def write_requests(self, name: str, lines: list[str]) -> Path:
        path = self.work / f"{name}.requests"
        path.write_text("\n".join(lines) + "\n")
        return path

    def ping_requests(self, count: int) -> Path:
        return self.write_requests("ping", [self.signed_line(self.interaction(1)) for _ in range(count)])

    def plan_requests(self, count: int) -> Path:
        # Unique (coach, date) pairs: one live plan per coach and date is a rule of the service.
        lines = []
        first = date(1990, 1, 1)
        for n in range(count):
            day = first + timedelta(days=n // 4)
            command = self.plan_command("disn"[n % 4], day, f"Plan {n}: watch 950, stop 940.")
            lines.append(self.signed_line(self.interaction(2, command)))
        return self.write_requests("plan", lines)

    # --- load ------------------------------------------------------------------------------

    def wrk(self, name: str, url: str, requests: Path | None = None) -> Result:
        argv = [
            "wrk", "-t1", f"-c{self.connections}", f"-d{self.seconds}s", "--timeout", "5s",
            "-s", str(HERE / "wrk_requests.lua"), url,
        ]
        if requests is None:
            requests = self.write_requests(f"get-{abs(hash(url))}", [f"GET\t{_path(url)}\t\t"])
        argv += ["--", str(requests)]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        summary = json.loads(out.strip().splitlines()[-1])
        seconds = summary["duration_us"] / 1e6
        return Result(
            name,
            summary["requests"] / seconds,
            summary["p50_us"] / 1000,
            summary["p99_us"] / 1000,
            summary["errors"],
        )

    def estimate(self, rate: float = 6000) -> int:
        """Enough unique requests for the run at a generous rate."""
        return int(self.seconds * rate) + 1000


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"


def bench_ping(b: Bench) -> list[Result]:
    results = []
    port = free_port()
    with b.floor("pong", port):
        results.append(b.wrk("floor: verify + PONG", f"http://127.0.0.1:{port}/interactions", b.ping_requests(b.estimate())))
    port = free_port()
    with b.ours(port, "ping"):
        results.append(b.wrk("ours: signed PING", f"http://127.0.0.1:{port}/interactions", b.ping_requests(b.estimate())))
    return results


def bench_plan(b: Bench) -> list[Result]:
    results = []
    port = free_port()
    with b.floor("insert", port):
        results.append(b.wrk("floor: verify + insert", f"http://127.0.0.1:{port}/interactions", b.plan_requests(b.estimate(2000))))
    port = free_port()
    with b.ours(port, "plan"):
        results.append(b.wrk("ours: /plan (text)", f"http://127.0.0.1:{port}/interactions", b.plan_requests(b.estimate(2000))))
    return results


def bench_cold_start(b: Bench, runs: int = 5) -> list[tuple[str, float]]:
    """Process start to the first answered PING (ours) or GET (bare Starlette), median of runs."""
    rows = []
    for name in ("floor: bare Starlette", "ours: first PONG"):
        samples = []
        for n in range(runs):
            port = free_port()
            started = time.perf_counter()
            if name.startswith("floor"):
                ctx = b.floor("json", port)
                probe = lambda: httpx.get(f"http://127.0.0.1:{port}/", timeout=5)  # noqa: E731
            else:
                ctx = b.ours(port, f"cold{n}")
                line = b.signed_line(b.interaction(1)).split("\t")
                headers = dict(h.split(":", 1) for h in line[2].split("|"))
                probe = lambda: httpx.post(  # noqa: E731
                    f"http://127.0.0.1:{port}/interactions", headers=headers, content=line[3], timeout=5
                )
            with ctx:
                response = probe()
                assert response.status_code == 200, response.text
                samples.append(time.perf_counter() - started)
        rows.append((name, statistics.median(samples) * 1000))
    return rows


def show(results: list[Result]) -> None:
    print(f"{'case':<34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'p99/p50':>9}{'errors':>8}")
    for r in results:
        print(f"{r.name:<34}{r.requests_per_s:>10.0f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}{r.tail:>9.2f}{r.errors:>8}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 5)))
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--only", nargs="*", default=["ping", "plan", "cold"])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: `apt-get install wrk` (make bench does this)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="coach-plans-bench-"))
    bench = Bench(args.seconds, args.connections, work)
    report: dict[str, object] = {}
    try:
        if "ping" in args.only:
            floor, ours = bench_ping(bench)
            show([floor, ours])
            print(f"ratio signed PING / verify-PONG floor: {ours.requests_per_s / floor.requests_per_s:.2f} (target >= 0.85)\n")
            report["ping"] = [floor.__dict__, ours.__dict__]
        if "plan" in args.only:
            floor, ours = bench_plan(bench)
            show([floor, ours])
            print(f"ratio /plan / verify-insert floor: {ours.requests_per_s / floor.requests_per_s:.2f} (target >= 0.6)\n")
            report["plan"] = [floor.__dict__, ours.__dict__]
        if "cold" in args.only:
            rows = bench_cold_start(bench)
            for name, ms in rows:
                print(f"cold start, {name:<26}{ms:>8.0f} ms")
            print()
            report["cold_start_ms"] = dict(rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`coach-plans send` against a warm service in mock mode: the wall time of each call, as a user
at a terminal meets it (a new process, its imports, the signed request, the answer printed).

The floor is `python -c pass` in the same run: what any command line costs before it does
anything. Calls of each kind are interleaved with the floor's, so a neighbour's burst of CPU
moves both.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from run import Bench

CALLS = 15
TARGET_SECONDS = 1.0  # a command typed at a terminal answers within a second


def _seconds(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True, timeout=60)
    return time.perf_counter() - started


def case_send(b: Bench) -> dict[str, float]:
    from run import PYTHON, free_port, server

    folder = b.work / "send"
    folder.mkdir()
    port = free_port()
    env = {
        "MOCK_MODE": "true",
        "MOCK_KEY_FILE": str(folder / "mock.key"),
        "DATABASE_PATH": str(folder / "plans.db"),
        "CHART_STORAGE_DIR": str(folder / "charts"),
        "LOG_FILE": str(folder / "serve.log"),
        "API_PORT": str(port),
    }
    coach_plans = str(Path(PYTHON).parent / "coach-plans")
    argv = [coach_plans, "serve", "--host", "127.0.0.1", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    kinds = {
        "send '/plans' (a list, only you)": ["/plans"],
        "send '/plan …' (a public card)": ["/plan coach:d text:'Long above 950, stop 940'"],
        "send '/edit coach:d' (the modal)": ["/edit coach:d"],
        "send --click history:1 (a button)": ["--click", "history:1"],
    }
    samples: dict[str, list[float]] = {"python -c pass (floor)": []} | {k: [] for k in kinds}
    with server(argv, port, env, ready="/health"):
        full_env = {**os.environ, **env}
        send = [coach_plans, "send", "--url", base]
        # Warm: the first plan exists, the service has answered once.
        _seconds([*send, "/plan coach:d text:'Long above 950, stop 940'"], full_env, folder)
        assert httpx.get(f"{base}/api/coach-plans/?coach=d").status_code == 200
        for n in range(CALLS):
            samples["python -c pass (floor)"].append(
                _seconds([PYTHON, "-c", "pass"], full_env, folder)
            )
            for name, words in kinds.items():
                if name.startswith("send '/plan"):
                    # A new date each time: one live plan per coach and date.
                    words = [f"/plan coach:i date:2020-01-{n + 1:02d} text:'Fade the gap'"]
                samples[name].append(_seconds([*send, *words], full_env, folder))
    floor = statistics.median(samples["python -c pass (floor)"])
    print(f"== coach-plans send on a warm service, wall time per call ({CALLS} calls each)")
    print(f"{'case':<40}{'p50 ms':>9}{'max ms':>9}{'x floor':>9}")
    rows: dict[str, float] = {}
    for name, times in samples.items():
        p50 = statistics.median(times)
        rows[name] = p50 * 1000
        print(f"{name:<40}{p50 * 1000:>9.0f}{max(times) * 1000:>9.0f}{p50 / floor:>9.1f}")
    slowest = max(v for k, v in rows.items() if k.startswith("send"))
    print(f"slowest send p50 {slowest:.0f} ms (target < {TARGET_SECONDS * 1000:.0f} ms)\n")
    return rows

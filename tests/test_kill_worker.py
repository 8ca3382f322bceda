"""A worker killed with SIGKILL in the middle of writes loses no plan it had acknowledged."""

from __future__ import annotations

import json
import os
import signal
import threading
from datetime import date, timedelta
from pathlib import Path

import httpx
from nacl.signing import SigningKey

from app.discord import protocol
from app.mock import payloads
from tests.support.service_process import running_service, service_env
from tests.support.waits import wait_until


def workers_of(pid: int) -> list[int]:
    """uvicorn's worker processes under the supervisor `pid` (not multiprocessing's helpers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if parent == pid and b"spawn_main" in command and b"tracker_fd" in command:
            found.append(int(entry.name))
    return found


def plan_interaction(n: int) -> dict[str, object]:
    day = (date(1990, 1, 1) + timedelta(days=n)).isoformat()
    user = {"id": "400000000000000001", "username": "coach", "global_name": "Coach"}
    options = [
        payloads.option("coach", "d"),
        payloads.option("text", f"Plan {n}"),
        payloads.option("date", day),
    ]
    data = payloads.command_data("plan", options)
    return payloads.guild_interaction(protocol.APPLICATION_COMMAND, data, user=user)


def test_sigkill_of_a_worker_during_writes_loses_no_acknowledged_plan(tmp_path: Path) -> None:
    # One member posts plan after plan, dated from 1990 on: no date window, no daily quota.
    unbounded = {"PLAN_DAYS_BACK": "0", "MEMBER_PLANS_PER_DAY": "0", "GUILD_PLANS_PER_DAY": "0"}
    env = service_env(tmp_path, MOCK_MODE="true", **unbounded)
    with running_service(tmp_path, env, "--workers", "2") as (base, proc):
        key = SigningKey(bytes.fromhex(Path(env["MOCK_KEY_FILE"]).read_text().strip()))
        acknowledged: list[str] = []
        stop = threading.Event()

        def write() -> None:
            with httpx.Client(timeout=10) as http:
                n = 0
                while not stop.is_set():
                    body = json.dumps(plan_interaction(n)).encode()
                    headers = payloads.signed_headers(key, body)
                    try:
                        answer = http.post(f"{base}/interactions", content=body, headers=headers)
                    except httpx.TransportError:
                        answer = None  # the killed worker's connection: not acknowledged
                    if answer is not None and answer.status_code == 200:
                        data = answer.json().get("data", {})
                        public = not data.get("flags", 0) & protocol.EPHEMERAL
                        if answer.json().get("type") == protocol.CHANNEL_MESSAGE and public:
                            acknowledged.append(f"Plan {n}")
                    n += 1

        writer = threading.Thread(target=write)
        writer.start()
        wait_until(lambda: len(acknowledged) >= 30, "30 plans were not acknowledged")
        workers = workers_of(proc.pid)
        assert len(workers) == 2, "serve --workers 2 runs two worker processes"
        os.kill(workers[0], signal.SIGKILL)
        # Writes go on against the other worker meanwhile.
        before = len(acknowledged)
        wait_until(lambda: len(acknowledged) >= before + 10, "writes stopped after the kill")
        stop.set()
        writer.join()
        assert len(acknowledged) >= 30
        everything = httpx.get(f"{base}/api/coach-plans/all?date=1990-01-01").json()
        assert everything["count"] == 1
    # A fresh start reads the same file: every acknowledged plan is there.
    with running_service(tmp_path, env) as (base, _), httpx.Client() as http:
        for n in range(len(acknowledged) + 50):
            day = (date(1990, 1, 1) + timedelta(days=n)).isoformat()
            response = http.get(f"{base}/api/coach-plans/?coach=d&date={day}")
            if f"Plan {n}" in acknowledged:
                assert response.status_code == 200 and response.json()["plan"] == f"Plan {n}"

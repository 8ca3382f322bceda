"""`coach-plans serve` as a real process: answers, then stops cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 20) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.communicate()}")
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("server did not answer in time")


@pytest.mark.parametrize(
    ("command", "stop"),
    [
        (["coach-plans"], signal.SIGTERM),
        ([sys.executable, "-m", "app"], signal.SIGINT),
    ],
    ids=["console-script-sigterm", "python-m-app-sigint"],
)
def test_serve_answers_health_and_exits_0_on_signal(
    tmp_path: Path, command: list[str], stop: signal.Signals
) -> None:
    port = _free_port()
    exe = Path(sys.executable).parent / command[0] if command[0] == "coach-plans" else None
    argv = [str(exe), *command[1:]] if exe else command
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_PATH": str(tmp_path / "plans.db"),
        "LOG_FILE": str(tmp_path / "serve.log"),
        "LOG_FORMAT": "json",
        "MOCK_KEY_FILE": str(tmp_path / "mock.key"),
    }
    proc = subprocess.Popen(
        [*argv, "serve", "--mock", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        response = _wait_healthy(f"http://127.0.0.1:{port}/health", proc)
        assert response.status_code == 200
        assert response.json()["components"]["discord"]["status"] == "mock"
        proc.send_signal(stop)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = (tmp_path / "serve.log").read_text()
    assert "mock mode is on" in log
    assert '"path": "/health"' in log

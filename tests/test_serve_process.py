"""`coach-plans serve` as a real process: answers, then stops cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.service_process import free_port, wait_healthy


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
    port = free_port()
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
        response = wait_healthy(f"http://127.0.0.1:{port}/health", proc)
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

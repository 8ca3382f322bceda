"""`coach-plans serve` as a real process: answers, then stops cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from app.signatures import sign
from tests.service_process import base_env, free_port, wait_healthy


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
        **base_env(),
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
        proc.communicate()  # reaps it and closes its pipes
    log = (tmp_path / "serve.log").read_text()
    assert "mock mode is on" in log
    assert '"path": "/health"' in log
    # Start-up says once that the new database was set up, without Alembic's step-by-step.
    assert "database schema upgraded" in log
    assert '"logger": "alembic' not in log
    # JSON lines carry no terminal colour codes (uvicorn passes coloured copies of its messages).
    for colour in ("\x1b[", "\\x1b[", "\\u001b[", "color_message"):
        assert colour not in log


def test_a_request_in_flight_at_sigterm_is_answered_before_exit(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **base_env(),
        "DATABASE_PATH": str(tmp_path / "plans.db"),
        "LOG_FILE": str(tmp_path / "serve.log"),
        "MOCK_KEY_FILE": str(tmp_path / "mock.key"),
    }
    exe = Path(sys.executable).parent / "coach-plans"
    proc = subprocess.Popen(
        [str(exe), "serve", "--mock", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc)
        key = SigningKey(bytes.fromhex((tmp_path / "mock.key").read_text().strip()))
        body = json.dumps({"id": "1", "type": 1, "application_id": "1", "token": "t"}).encode()
        stamp = str(int(time.time()))
        head = (
            f"POST /interactions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Signature-Ed25519: {sign(key, stamp, body)}\r\n"
            f"X-Signature-Timestamp: {stamp}\r\nConnection: close\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(head + body[:10])  # the request is in flight: half its body sent
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            conn.sendall(body[10:])
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200")
        assert answer.endswith(b'{"type":1}')
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()  # reaps it and closes its pipes

"""`coach-plans serve` as a real process: answers, then stops cleanly on SIGTERM or SIGINT (also
while it starts); a port already taken stops it at once; the files it makes are its own."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from nacl.signing import SigningKey

from app.discord import protocol
from app.interactions.signatures import sign
from app.mock import payloads
from tests.support.discord_edge import AUTHOR
from tests.support.service_process import (
    base_env,
    free_port,
    running_service,
    serve,
    service_env,
    wait_healthy,
)


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
            f"X-Signature-Timestamp: {stamp}\r\nConnection: close\r\n"
            # The server says "100 Continue" once the app reads the body: then it is in flight.
            "Expect: 100-continue\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
            conn.sendall(head + body[:10])  # the request is in flight: half its body sent
            interim = b""
            while b"\r\n\r\n" not in interim:
                interim += conn.recv(1)
            assert interim.startswith(b"HTTP/1.1 100"), interim
            proc.send_signal(signal.SIGTERM)
            log = tmp_path / "serve.log"
            deadline = time.monotonic() + 60
            while "Shutting down" not in log.read_text():  # the server has begun to stop
                assert time.monotonic() < deadline, "the server did not begin to stop"
                time.sleep(0.01)
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


HEX_KEY = SigningKey.generate().verify_key.encode().hex()


@pytest.mark.parametrize(
    ("environ", "args"),
    [
        # The key and address in the environment: the server listens before it loads settings.
        ({"DISCORD_PUBLIC_KEY": HEX_KEY}, []),
        ({"DISCORD_PUBLIC_KEY": HEX_KEY}, ["--config", "settings.yaml"]),
        ({}, ["--mock"]),
        ({}, ["--mock", "--workers", "2"]),
    ],
    ids=["woken", "settings-file", "mock", "workers"],
)
def test_a_port_already_taken_ends_serve_at_once_with_one_line(
    tmp_path: Path, environ: dict[str, str], args: list[str]
) -> None:
    (tmp_path / "settings.yaml").write_text("timezone: UTC\n")
    env = {**service_env(tmp_path), **environ}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = serve(tmp_path, env, port, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            _, errors = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode != 0
    assert errors.splitlines() == [
        f"coach-plans: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


@pytest.mark.parametrize(
    ("environ", "args"),
    [({"DISCORD_PUBLIC_KEY": HEX_KEY}, []), ({}, ["--mock"]), ({}, ["--mock", "--workers", "2"])],
    ids=["woken", "mock", "workers"],
)
def test_sigterm_while_starting_ends_serve(
    tmp_path: Path, environ: dict[str, str], args: list[str]
) -> None:
    port = free_port()
    env = {**service_env(tmp_path), **environ}
    proc = serve(tmp_path, env, port, *args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # As soon as the port accepts: the settings, the app or the workers may still be loading.
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "the server did not listen"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_files_and_folders_serve_makes_are_its_own(tmp_path: Path) -> None:
    # Whatever the umask it was started with.
    env = service_env(tmp_path)
    with running_service(tmp_path, env, "--mock", preexec_fn=lambda: os.umask(0o022)) as (base, _):
        # Writing a plan puts SQLite's -wal and -shm files beside the database.
        key = SigningKey(bytes.fromhex((tmp_path / "data" / "mock.key").read_text().strip()))
        data = payloads.command_data(
            "plan", [payloads.option("coach", "d"), payloads.option("text", "Long above 950")]
        )
        body = json.dumps(
            payloads.guild_interaction(protocol.APPLICATION_COMMAND, data, user=AUTHOR)
        ).encode()
        headers = payloads.signed_headers(key, body)
        answer = httpx.post(f"{base}/interactions", content=body, headers=headers, timeout=30)
        assert answer.status_code == 200
        made = [
            tmp_path / name
            for name in (
                "data/plans.db",
                "data/plans.db-wal",
                "data/plans.db-shm",
                "data/mock.key",
                "logs/serve.log",
            )
        ]
        modes = {path.name: oct(path.stat().st_mode & 0o777) for path in made}
        folders = [tmp_path / "data", tmp_path / "data" / "charts", tmp_path / "logs"]
        folder_modes = {path.name: oct(path.stat().st_mode & 0o777) for path in folders}
    assert modes == {path.name: "0o600" for path in made}
    assert folder_modes == {path.name: "0o700" for path in folders}

"""`coach-plans serve` as a real process on 127.0.0.1, for tests that need one."""

from __future__ import annotations

import ast
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent
# A started service imports this checkout's code, whichever checkout the scripts in BIN were
# installed from (an editable install maps the package to its own folder).
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str, proc: subprocess.Popen[Any], timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early with status {proc.returncode}")
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("server did not answer in time")


def base_env(path: str | None = None) -> dict[str, str]:
    """The environment every process the tests start gets: this checkout's code on the path."""
    return {"PATH": path or os.environ["PATH"], "PYTHONPATH": str(ROOT)}


def service_env(folder: Path, **settings: str) -> dict[str, str]:
    """Settings for a service whose files all live in `folder`."""
    return {
        **base_env(),
        "DATABASE_PATH": str(folder / "data" / "plans.db"),
        "CHART_STORAGE_DIR": str(folder / "data" / "charts"),
        "LOG_FILE": str(folder / "logs" / "serve.log"),
        "MOCK_KEY_FILE": str(folder / "data" / "mock.key"),
        "PRICE_SOURCE": "none",  # never Yahoo from a test
        **settings,
    }


def serve(
    folder: Path, env: dict[str, str], port: int, *args: str, stdout: Any, stderr: Any, **popen: Any
) -> subprocess.Popen[str]:
    """`coach-plans serve ARGS` on 127.0.0.1:`port`, started in `folder` (`popen`: more of
    Popen's options, e.g. a preexec_fn that sets the process's limits)."""
    return subprocess.Popen(
        [str(BIN / "coach-plans"), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
        env=env,
        cwd=folder,
        stdout=stdout,
        stderr=stderr,
        text=True,
        **popen,
    )


def loaded_modules(code: str, watched: tuple[str, ...]) -> list[str]:
    """Which of `watched` (modules or packages) a fresh interpreter has loaded after `code`."""
    script = (
        f"import sys\n{code}\n"
        "loaded = {m.split('.')[0] for m in sys.modules} | set(sys.modules)\n"
        f"print(sorted(loaded & set({watched!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return list(ast.literal_eval(done.stdout.strip()))


@contextlib.contextmanager
def running_service(
    folder: Path, env: dict[str, str], *args: str, **popen: Any
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Start `coach-plans serve ARGS` and yield its base URL and process; stop it after."""
    port = free_port()
    # Console output goes to a file: an unread pipe fills up and stalls a busy server.
    console = open(folder / "console.log", "a")  # noqa: SIM115 - closed below
    proc = serve(folder, env, port, *args, stdout=console, stderr=subprocess.STDOUT, **popen)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{base}/health", proc)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        console.close()

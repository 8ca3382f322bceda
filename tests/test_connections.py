"""Slow, idle and oversized clients against `coach-plans serve` over real sockets: deadlines
for a request's headers and body, a size limit on its headers, bodies refused before they are
read past the limit, and a signed PING still answered while such clients hold connections.
Forwarded headers are believed from FORWARDED_ALLOW_IPS only."""

from __future__ import annotations

import contextlib
import json
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from nacl.signing import SigningKey

from app import defaults
from app.discord import protocol
from app.interactions.signatures import MAX_BODY_BYTES
from app.mock import payloads
from app.plans.service import PlanService
from app.records import Actor, NewChart, Place
from app.storage.database import make_engine, migrate
from app.storage.repository import PlanRepository
from tests.support.discord_edge import AUTHOR, GUILD
from tests.support.service_process import running_service, service_env

DAY = "2026-03-02"
PING = json.dumps({"id": "1", "type": protocol.PING, "application_id": "1", "token": "t"}).encode()


def address(base: str) -> tuple[str, int]:
    url = httpx.URL(base)
    assert url.host and url.port
    return url.host, url.port


def closed_by_server(conn: socket.socket, timeout: float = 30) -> bytes:
    """Everything the server sends until it closes the connection; fails if it keeps it open
    for `timeout` seconds."""
    conn.settimeout(timeout)
    received = b""
    try:
        while chunk := conn.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open; it sent {received!r}") from None
    return received


def signed_ping(folder: Path) -> bytes:
    """A PING signed with the development key a --mock server made in `folder`."""
    key = SigningKey(bytes.fromhex((folder / "data" / "mock.key").read_text().strip()))
    headers = payloads.signed_headers(key, PING)
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (
        f"POST /interactions HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}"
        f"Content-Length: {len(PING)}\r\nConnection: close\r\n\r\n"
    ).encode() + PING


def answer_to(base: str, request: bytes) -> bytes:
    with socket.create_connection(address(base), timeout=30) as conn:
        conn.sendall(request)
        return closed_by_server(conn)


@contextlib.contextmanager
def mock_service(folder: Path, **settings: str) -> Iterator[str]:
    deadlines = {"HEADER_TIMEOUT_SECONDS": "1", "BODY_TIMEOUT_SECONDS": "1"}
    env = service_env(folder, **(deadlines | settings))
    with running_service(folder, env, "--mock") as (base, _):
        yield base


# The services here cut at 1 s; waiting less than the defaults shows that setting applied.
HEADER_WAIT = defaults.HEADER_TIMEOUT_SECONDS / 2
BODY_WAIT = defaults.BODY_TIMEOUT_SECONDS / 2


def test_an_idle_connection_is_closed_after_the_header_deadline(tmp_path: Path) -> None:
    with mock_service(tmp_path) as base, socket.create_connection(address(base)) as idle:
        assert closed_by_server(idle, HEADER_WAIT) == b""
        # The server itself is fine.
        assert answer_to(base, signed_ping(tmp_path)).endswith(b'{"type":1}')


def test_headers_sent_a_byte_at_a_time_are_cut_off_at_the_deadline(tmp_path: Path) -> None:
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 10_000
    with mock_service(tmp_path) as base, socket.create_connection(address(base)) as slow:
        sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < len(head):  # a slow client: one byte every 20 ms
                slow.sendall(head[sent : sent + 1])
                sent += 1
                time.sleep(0.02)
        # Cut off before the default deadline's worth of bytes had trickled in.
        assert sent < HEADER_WAIT / 0.02, f"the server read {sent} bytes trickling in"
        assert closed_by_server(slow, HEADER_WAIT) == b""


def test_a_body_that_stops_arriving_is_cut_off_at_the_deadline(tmp_path: Path) -> None:
    with mock_service(tmp_path) as base, socket.create_connection(address(base)) as slow:
        slow.sendall(
            b"POST /interactions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n"
            + b"{" * 10
        )
        assert closed_by_server(slow, BODY_WAIT) == b""


def test_a_huge_header_is_refused_with_431_and_the_connection_closed(tmp_path: Path) -> None:
    with mock_service(tmp_path, MAX_HEADER_BYTES="8192") as base:
        with socket.create_connection(address(base)) as conn:
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                for _ in range(64):  # up to 64 MiB, as the attack sent
                    conn.sendall(b"a" * (1024 * 1024))
            answer = closed_by_server(conn)
        status, _, body = answer.partition(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 431 ")
        assert json.loads(body)["error"] == "headers_too_large"
        # Headers under the limit still pass.
        assert answer_to(base, signed_ping(tmp_path)).endswith(b'{"type":1}')


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    with (
        mock_service(tmp_path, BODY_TIMEOUT_SECONDS="60") as base,
        socket.create_connection(address(base)) as conn,
    ):
        conn.sendall(
            b"POST /interactions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Length: %d\r\n\r\n{" % (100 * MAX_BODY_BYTES)
        )
        # Answered and closed at once: the server does not wait for 100 MiB it will refuse.
        answer = closed_by_server(conn)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"] == "payload_too_large"


def test_many_idle_connections_do_not_stop_a_signed_ping(tmp_path: Path) -> None:
    # The server may open 256 files; 300 clients connect and send nothing.
    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    env = service_env(tmp_path, HEADER_TIMEOUT_SECONDS="120")
    with running_service(tmp_path, env, "--mock", preexec_fn=few_files) as (base, _):
        idle = []
        try:
            for _ in range(300):
                idle.append(socket.create_connection(address(base), timeout=30))
            assert answer_to(base, signed_ping(tmp_path)).endswith(b'{"type":1}')
        finally:
            for conn in idle:
                conn.close()


def memory_bytes(pid: int, kind: str = "VmHWM") -> int:
    """The process's resident memory: its peak (VmHWM) or now (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{kind}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {kind}")


def test_many_large_unsigned_bodies_held_open_do_not_take_the_memory(tmp_path: Path) -> None:
    # Each client sends all but the last byte of a body at the limit, and waits.
    held = 200
    head = (
        b"POST /interactions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % MAX_BODY_BYTES
    )
    almost = b" " * (MAX_BODY_BYTES - 1)
    env = service_env(tmp_path, BODY_TIMEOUT_SECONDS="300")
    with running_service(tmp_path, env, "--mock") as (base, proc):
        before = memory_bytes(proc.pid, "VmRSS")
        conns = []
        try:
            for _ in range(held):
                conn = socket.create_connection(address(base), timeout=30)
                conns.append(conn)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    conn.sendall(head + almost)
            # Discord's own requests still pass; answering one, the server has also read what
            # had arrived before it.
            assert answer_to(base, signed_ping(tmp_path)).endswith(b'{"type":1}')
            grown = memory_bytes(proc.pid) - before
            # Without a bound the server holds all 200 MiB.
            assert grown < 100 * 1024 * 1024, f"the server grew by {grown >> 20} MiB"
        finally:
            for conn in conns:
                conn.close()


def seed_plan_with_a_chart(folder: Path) -> None:
    engine = make_engine(f"sqlite:///{folder / 'data' / 'plans.db'}")
    migrate(engine)
    service = PlanService(PlanRepository(engine), coaches=["d"], timezone=ZoneInfo("UTC"))
    author = Actor(id=AUTHOR["id"], name=AUTHOR["username"])
    # Not on Discord's CDN: refused for good, never fetched; its link is handed out all the same.
    chart = NewChart("https://example.invalid/spy.png", "spy.png", "image/png", 100)
    service.post("d", DAY, "Long above 950", author, place=Place(GUILD), charts=[chart])
    engine.dispose()


FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "attacker.example",
    "X-Forwarded-For": "203.0.113.9",
}


def test_forwarded_headers_from_an_untrusted_client_do_not_shape_chart_links(
    tmp_path: Path,
) -> None:
    (tmp_path / "data").mkdir()
    seed_plan_with_a_chart(tmp_path)
    # Only a proxy at 10.9.8.7 is believed; this client connects from 127.0.0.1.
    env = service_env(tmp_path, FORWARDED_ALLOW_IPS="10.9.8.7")
    with running_service(tmp_path, env, "--mock") as (base, _):
        plan = httpx.get(f"{base}/api/coach-plans/?coach=d&date={DAY}", headers=FORWARDED)
    [chart] = plan.json()["charts"]
    assert chart["url"].startswith(f"{base}/charts/")


def test_a_trusted_proxy_says_the_scheme_of_chart_links(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    seed_plan_with_a_chart(tmp_path)
    # The default believes this machine (a proxy beside the service); the host stays the one
    # the client asked for.
    with running_service(tmp_path, service_env(tmp_path), "--mock") as (base, _):
        plan = httpx.get(f"{base}/api/coach-plans/?coach=d&date={DAY}", headers=FORWARDED)
    [chart] = plan.json()["charts"]
    assert chart["url"].startswith(f"https://{address(base)[0]}:{address(base)[1]}/charts/")

"""An ordinary member's worst, against `coach-plans serve` as a real process: many large charts
posted at once, text-only edits of plans that carry them, and slow charts that hold their
downloads open. The service stays within its memory, answers a PING, and another server's plan
card still arrives while the slow downloads are held.

Discord (its webhook endpoints and its CDN) is a small HTTP server on 127.0.0.1 that reads what
it is sent without keeping it, so the measure is the service's own: its peak resident memory
(VmHWM in /proc/<pid>/status).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from nacl.signing import SigningKey

from app.discord import protocol
from app.mock import payloads
from tests.support.discord_edge import AUTHOR
from tests.support.fake_server import Exchange, fake_server
from tests.support.service_process import running_service, service_env

KEY = SigningKey.generate()
MIB = 1024 * 1024
CHART = b"\x89PNG\r\n\x1a\n" + bytes(10 * MIB - 8)  # as large as Discord lets a file be
SLOW = b"\x89PNG\r\n\x1a\n" + bytes(4096)
OTHER_GUILD = "290926798626358111"
COACHES = [f"c{n}" for n in range(1, 17)]
PEAK_MAX = 300 * MIB
ARRIVAL = 20.0  # seconds: generous for a loaded machine, short of the service's own timeouts

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads the peak memory from /proc"
)


@dataclass
class Edit:
    """One PATCH of a deferred answer, as it arrived: its token, payload and size."""

    token: str
    payload: dict[str, Any]
    size: int


class StandIn:
    """Discord's webhook endpoints and CDN on 127.0.0.1. Edits are read to the end and only
    their payload kept; /cdn/big/… serves CHART, /cdn/fast/… SLOW at once, and /cdn/slow/…
    sends SLOW's first bytes, then holds the rest until `release` is set."""

    def __init__(self) -> None:
        self.edits: list[Edit] = []
        # The client's end of each connection a chart was fetched over, or an edit sent over.
        self.cdn_ports: set[int] = set()
        self.api_ports: set[int] = set()
        self.slow_started = 0
        self.slow_finished = 0
        self.release = threading.Event()
        self.changed = threading.Condition()
        self.base = self.api = ""  # once served

    def handle(self, call: Exchange) -> None:
        if call.method == "GET":
            self.chart(call)
        else:
            self.webhook(call)

    def chart(self, call: Exchange) -> None:
        self.cdn_ports.add(call.client_port)
        kind = call.path.split("/")[-2]
        body = CHART if kind == "big" else SLOW
        call.start(200, len(body), {"Content-Type": "image/png"})
        if kind != "slow":
            call.write(body)
            return
        self.note("slow_started")
        call.write(body[:16])
        self.release.wait(120)
        try:
            call.write(body[16:])
        finally:
            self.note("slow_finished")

    def webhook(self, call: Exchange) -> None:
        self.api_ports.add(call.client_port)
        size, head = 0, b""
        for chunk in call.pieces(MIB):
            size += len(chunk)
            if len(head) < 256 * 1024:
                head += chunk
        token = call.path.split("/")[-3]
        payload = _payload(call.headers.get("Content-Type", ""), head)
        with self.changed:
            self.edits.append(Edit(token, payload, size))
            self.changed.notify_all()
        call.answer(200, b"{}", "application/json")

    def note(self, counter: str) -> None:
        with self.changed:
            setattr(self, counter, getattr(self, counter) + 1)
            self.changed.notify_all()

    def wait_for(self, what: Any, timeout: float = 120) -> Any:
        with self.changed:
            return self.changed.wait_for(what, timeout)

    def edit_of(self, token: str) -> Edit | None:
        found = [edit for edit in self.edits if edit.token == token]
        return found[0] if found else None


def _payload(content_type: str, head: bytes) -> dict[str, Any]:
    """payload_json, the first part of a form (or the whole JSON body)."""
    if not content_type.startswith("multipart/form-data"):
        return dict(json.loads(head or b"{}"))
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    first = head.split(b"--" + boundary)[1]
    return dict(json.loads(first.split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n")))


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    found = StandIn()
    with fake_server(found.handle) as server:
        found.base, found.api = server.url, f"{server.url}/api/v10"
        try:
            yield found
        finally:
            found.release.set()


def interaction(command: str, guild: str = payloads.GUILD, **options: Any) -> dict[str, Any]:
    files = options.pop("charts", {})
    data = payloads.command_data(
        command, [payloads.option(k, v) for k, v in options.items()], files
    )
    return payloads.guild_interaction(
        protocol.APPLICATION_COMMAND, data, user=AUTHOR, guild_id=guild
    )


def charts(stand_in: StandIn, kind: str, count: int, size: int) -> dict[str, Any]:
    return {
        f"chart{n}": payloads.attachment(
            f"{stand_in.base}/cdn/{kind}/{payloads.new_id()}.png", f"{kind}{n}.png", size
        )
        for n in range(1, count + 1)
    }


def send(base: str, payload: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    headers = payloads.signed_headers(KEY, body)
    answer = httpx.post(f"{base}/interactions", content=body, headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def all_at_once(base: str, interactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(len(interactions)) as pool:
        return list(pool.map(lambda one: send(base, one), interactions))


def peak_memory(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    assert found, status
    return int(found[1]) * 1024


def downloaded_size(url: str) -> int:
    """How many bytes GET `url` gave, read in pieces and not kept."""
    with httpx.stream("GET", url, timeout=60) as response:
        assert response.status_code == 200, response.status_code
        return sum(len(piece) for piece in response.iter_bytes())


def test_large_and_slow_charts_keep_the_service_small_and_other_servers_served(
    tmp_path: Path, stand_in: StandIn
) -> None:
    env = service_env(
        tmp_path,
        DISCORD_PUBLIC_KEY=KEY.verify_key.encode().hex(),
        DISCORD_APPLICATION_ID=payloads.APPLICATION_ID,
        DISCORD_API_BASE_URL=stand_in.api,
        COACHES=",".join(COACHES),
        TIMEZONE="UTC",
        CONNECTION_TIMEOUT="30",
        # The attack is one member's: the daily chart quotas would refuse it before it hurt.
        MEMBER_CHART_MB_PER_DAY="0",
        GUILD_CHART_MB_PER_DAY="0",
        MEMBER_PLANS_PER_DAY="0",
    )
    with running_service(tmp_path, env) as (base, proc):
        # Four plans at once, each with ten charts of 10 MiB.
        posts = [
            interaction(
                "plan",
                coach=coach,
                text="Long above 950",
                charts=charts(stand_in, "big", 10, len(CHART)),
            )
            for coach in COACHES[:4]
        ]
        assert all(a["type"] == protocol.DEFERRED_CHANNEL_MESSAGE for a in all_at_once(base, posts))
        assert stand_in.wait_for(lambda: len(stand_in.edits) == 4), "not every plan card came"
        # Eight text-only edits of those plans at once: each new card shows the ten charts.
        edits = [interaction("edit", coach=COACHES[n % 4], text=f"Edit {n}") for n in range(8)]
        all_at_once(base, edits)
        assert stand_in.wait_for(lambda: len(stand_in.edits) == 12), "not every edit's card came"
        for edit in stand_in.edits:
            assert len(edit.payload.get("attachments", [])) == 10, edit.payload
            assert edit.size > 10 * len(CHART)
        # Every one of those forty charts read back over HTTP at once.
        listed = httpx.get(f"{base}/api/coach-plans/all", timeout=30).json()
        urls = [c["url"] for plan in listed["plans"] for c in plan["charts"]]
        assert len(urls) == 40
        with ThreadPoolExecutor(len(urls)) as pool:
            assert list(pool.map(downloaded_size, urls)) == [len(CHART)] * 40
        assert peak_memory(proc.pid) < PEAK_MAX, f"peak {peak_memory(proc.pid) / MIB:.0f} MiB"
        # Calls to Discord never wait for a connection that chart downloads use.
        assert stand_in.api_ports and not stand_in.api_ports & stand_in.cdn_ports

        # Twelve plans with ten slow charts each, then another server's plan with one chart.
        slow = [
            interaction(
                "plan",
                coach=coach,
                text="Short below 940",
                charts=charts(stand_in, "slow", 10, len(SLOW)),
            )
            for coach in COACHES[4:16]
        ]
        all_at_once(base, slow)
        assert stand_in.wait_for(lambda: stand_in.slow_started > 0)
        other = interaction(
            "plan",
            OTHER_GUILD,
            coach="c1",
            text="Other server",
            charts=charts(stand_in, "fast", 1, len(SLOW)),
        )
        assert send(base, other)["type"] == protocol.DEFERRED_CHANNEL_MESSAGE
        token = str(other["token"])
        arrived = stand_in.wait_for(lambda: stand_in.edit_of(token), ARRIVAL)
        assert arrived, "the other server's card waited for the slow downloads"
        assert stand_in.slow_finished == 0
        assert len(arrived.payload["attachments"]) == 1
        # The service answers Discord's PING while the slow downloads are held.
        assert send(base, {"type": protocol.PING}) == {"type": protocol.PONG}
        assert httpx.get(f"{base}/health", timeout=30).status_code == 200

        peak = peak_memory(proc.pid)
        assert proc.poll() is None
        stand_in.release.set()
    assert peak < PEAK_MAX, f"peak resident memory {peak / MIB:.0f} MiB"

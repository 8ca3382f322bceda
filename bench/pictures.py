"""The `pictures` case: /outcome and /scorecard on a warm service in mock mode, the time from
the signed interaction's POST to the deferred answer's final content (its edit, with the
picture uploaded), as Discord would see it.

Twenty coach-d plans on twenty recent sessions, graded from CSV bars at the server's start.
Each plan's first /outcome draws its picture; pressing again is served from the cache; each
/scorecard with a new `days` draws a new picture. The floor is /plans (a list answered at once)
in the same run, so a neighbour's burst of CPU moves both.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from run import Bench

SESSIONS = 20
GUILD = "200000000000000001"
TARGET_SECONDS = 3.0  # the deadline for the final content


def _sessions(count: int) -> list[date]:
    from app.prices.calendar import MarketCalendar

    return MarketCalendar("XNYS").sessions_closed_before(datetime.now(UTC), count)


def _write_bars(folder: Path, days: list[date]) -> None:
    from app.prices.calendar import MarketCalendar

    calendar = MarketCalendar("XNYS")
    lines = ["timestamp,open,high,low,close"]
    price = 600.0
    for n, day in enumerate(days):
        session = calendar.session(day)
        assert session is not None
        start, step = session.open, (1 if n % 2 else -1) * 0.08
        while start < session.close:
            close = price + step
            stamp = start.isoformat().replace("+00:00", "Z")
            lines.append(f"{stamp},{price:.2f},{max(price, close) + 0.2:.2f},"
                         f"{min(price, close) - 0.2:.2f},{close:.2f}")  # fmt: skip
            price, start = close, start + timedelta(minutes=5)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SPY.csv").write_text("\n".join(lines) + "\n")


def _seed(database: Path, days: list[date]) -> None:
    from app.plans.service import Actor, Place, PlanService
    from app.prices.calendar import MarketCalendar
    from app.settings import load_settings
    from app.storage.database import make_engine, migrate
    from app.storage.repository import PlanRepository

    settings = load_settings(database_path=database, mock_mode=True, plan_days_back=0)
    engine = make_engine(settings.database_url)
    migrate(engine)
    now = [datetime.now(UTC)]
    plans = PlanService(
        PlanRepository(engine, lambda: now[0]),
        coaches=settings.coaches,
        timezone=settings.zone,
        clock=lambda: now[0],
    )
    calendar = MarketCalendar("XNYS")
    price = 600.0
    for n, day in enumerate(days):
        session = calendar.session(day)
        assert session is not None
        now[0] = session.open - timedelta(hours=1)
        text = f"SPY long {price - 0.5:.2f}-{price + 0.5:.2f}, stop {price - 3:.2f}, "
        text += f"target {price + 2:.2f}"
        plans.post("d", day, text, Actor("1", "coach d"), place=Place(GUILD))
        price += 78 * (0.08 if n % 2 else -0.08)
    engine.dispose()


def _final_content(client: httpx.Client, key: Any, data: dict[str, Any]) -> float:
    """Seconds from the POST to the moment the deferred answer's edit is kept."""
    from app.discord import protocol
    from app.mock import payloads

    user = {"id": "400000000000000001", "username": "coach", "global_name": "Coach"}
    payload = payloads.guild_interaction(
        protocol.APPLICATION_COMMAND, data, user=user, guild_id=GUILD
    )
    body = json.dumps(payload).encode()
    started = time.perf_counter()
    answer = client.post("/interactions", content=body, headers=payloads.signed_headers(key, body))
    assert answer.status_code == 200, answer.text
    if answer.json()["type"] == protocol.CHANNEL_MESSAGE:
        if data["name"] != "plans":  # a refusal is no picture: the case would time nothing
            raise AssertionError(f"/{data['name']} was refused: {answer.text[:300]}")
        return time.perf_counter() - started  # answered at once: that is the final content
    deadline = started + 60
    while time.perf_counter() < deadline:
        kept = client.get(f"/mock/messages/{payload['token']}").json()["messages"]
        if kept and kept[0].get("attachments"):
            return time.perf_counter() - started
        time.sleep(0.002)
    raise AssertionError(f"no final content for {data['name']} within 60 s")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def case_pictures(b: Bench) -> dict[str, object]:
    from nacl.signing import SigningKey
    from run import PYTHON, ROOT, free_port, server

    from app.mock import payloads

    folder = b.work / "pictures"
    days = _sessions(SESSIONS)
    _write_bars(folder / "prices", days)
    _seed(folder / "plans.db", days)
    port = free_port()
    env = {
        "MOCK_MODE": "true",
        "MOCK_KEY_FILE": str(folder / "mock.key"),
        "DATABASE_PATH": str(folder / "plans.db"),
        "CHART_STORAGE_DIR": str(folder / "charts"),
        "LOG_FILE": str(folder / "serve.log"),
        "PRICE_SOURCE": f"csv:{folder / 'prices'}",
        "COACHES": "d,i,s,n",
        "PYTHONPATH": str(ROOT),  # this checkout's code, as the bench's other servers run it
    }
    argv = [str(Path(PYTHON).parent / "coach-plans"), "serve", "--host", "127.0.0.1"]
    argv += ["--port", str(port)]
    samples: dict[str, list[float]] = {
        "/plans (floor: answered at once)": [],
        "/outcome, first press (drawn)": [],
        "/outcome, again (cached)": [],
        "/scorecard, new days (drawn)": [],
    }
    with (
        server(argv, port, env, ready="/health"),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
    ):
        key = SigningKey(bytes.fromhex((folder / "mock.key").read_text().strip()))
        deadline = time.monotonic() + 120  # the start's grading pass
        last = days[-1].isoformat()
        while time.monotonic() < deadline:
            read = client.get("/api/coach-plans/outcome", params={"coach": "d", "date": last})
            if read.status_code == 200 and read.json()["status"] != "pending":
                break
            time.sleep(0.1)
        # Warm: matplotlib loaded, one picture drawn, before anything is timed.
        _final_content(
            client, key, payloads.command_data("scorecard", [payloads.option("days", 365)])
        )
        for n, day in enumerate(days[:-1]):
            outcome = payloads.command_data(
                "outcome", [payloads.option("coach", "d"), payloads.option("date", day.isoformat())]
            )
            samples["/plans (floor: answered at once)"].append(
                _final_content(client, key, payloads.command_data("plans"))
            )
            samples["/outcome, first press (drawn)"].append(_final_content(client, key, outcome))
            samples["/outcome, again (cached)"].append(_final_content(client, key, outcome))
            card = payloads.command_data("scorecard", [payloads.option("days", 20 + n)])
            samples["/scorecard, new days (drawn)"].append(_final_content(client, key, card))
    floor = statistics.median(samples["/plans (floor: answered at once)"])
    count = len(days) - 1
    print(f"== /outcome and /scorecard on a warm service: time to final content ({count} each)")
    print(f"{'case':<38}{'p50 ms':>9}{'p99 ms':>9}{'x floor':>9}")
    rows: dict[str, object] = {}
    for name, times in samples.items():
        p50, p99 = statistics.median(times), _percentile(times, 0.99)
        rows[name] = {"p50_ms": p50 * 1000, "p99_ms": p99 * 1000, "x_floor": p50 / floor}
        print(f"{name:<38}{p50 * 1000:>9.0f}{p99 * 1000:>9.0f}{p50 / floor:>9.1f}")
    print(f"target: final content within {TARGET_SECONDS:g} s\n")
    return rows

"""Several instances: two `coach-plans serve` processes on one PostgreSQL and one S3 bucket (moto),
as on Fly with `fly scale count 2`. They start together (the schema is upgraded once), a chart
posted through one is served by the other, and pending charts are retried by one at a time."""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from nacl.signing import SigningKey

from app.discord.protocol import API_BASE_URL
from app.mock.discord import local_cdn_base
from app.plans.service import PlanService
from app.records import Actor, NewChart, Place
from app.storage.database import make_engine, migrate
from app.storage.leases import CHART_RETRIES, Lease
from app.storage.repository import PlanRepository
from tests.support.bucket_server import S3Server, bucket_env
from tests.support.discord_edge import chart_path, png
from tests.support.fake_server import Exchange, fake_server
from tests.support.postgres_server import PostgresServer
from tests.support.service_process import BIN, running_service, service_env
from tests.support.waits import wait_until

pytestmark = pytest.mark.postgres
GUILD = "111111111111111111"


def shared_env(folder: Path, database_url: str, bucket: dict[str, str]) -> dict[str, str]:
    """One instance's settings: its own folder, the shared database, bucket and mock key."""
    env = service_env(folder, DATABASE_URL=database_url, **bucket)
    del env["DATABASE_PATH"]
    env["MOCK_KEY_FILE"] = str(folder.parent / "mock.key")
    env["RECONNECT_ATTEMPTS"], env["RECONNECT_DELAY_SECONDS"] = "1", "0.05"
    return env


@contextlib.contextmanager
def two_instances(root: Path, database_url: str, bucket: dict[str, str]) -> Iterator[list[str]]:
    """Both started at once; their base URLs once both answer."""
    (root / "mock.key").write_text(SigningKey.generate().encode().hex())
    envs = []
    for name in ("a", "b"):
        (root / name).mkdir()
        envs.append(shared_env(root / name, database_url, bucket))
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(2) as pool:
        # Each start waits for its instance's health, however long a loaded machine takes; a
        # start that fails raises here, with the reason.
        starts = [
            pool.submit(stack.enter_context, running_service(root / n, e, "--mock"))
            for n, e in zip("ab", envs, strict=True)
        ]
        yield [start.result()[0] for start in starts]


def logs(root: Path) -> str:
    return "".join((root / n / "logs" / "serve.log").read_text() for n in "ab")


def test_a_chart_posted_through_one_instance_is_served_by_the_other(
    tmp_path: Path, postgres_url: str, s3_server: S3Server
) -> None:
    bucket = bucket_env(s3_server.url, s3_server.new_bucket())
    body = png(2500)
    (tmp_path / "spy.png").write_bytes(body)
    with two_instances(tmp_path, postgres_url, bucket) as (a, b):
        sent = subprocess.run(
            [str(BIN / "coach-plans"), "send", "--url", a,
             '/plan coach:d text:"Long above 950" chart1:./spy.png'],
            env=shared_env(tmp_path / "a", postgres_url, bucket), cwd=tmp_path,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr
        # Requests spread over both: each answers the same plan (chart URLs name the instance).
        plans = [httpx.get(f"{base}/api/coach-plans/?coach=d").json() for base in (a, b, a, b)]
        seen = {(p["id"], p["plan"], tuple(c["id"] for c in p["charts"])) for p in plans}
        assert len(seen) == 1
        [chart] = plans[0]["charts"]
        path = chart_path(chart["url"])
        from_b = httpx.get(f"{b}{path}")
        assert (from_b.status_code, from_b.content) == (200, body)
        assert from_b.headers["etag"] == httpx.get(f"{a}{path}").headers["etag"]
        assert [httpx.get(f"{base}/health").json()["components"]["charts"] for base in (a, b)] == [
            {"status": "up", "backend": "bucket"}
        ] * 2
    # Started together on an empty database: the schema was upgraded once, without error.
    text = logs(tmp_path)
    assert text.count("database schema upgraded") == 1
    assert "ERROR" not in text and "Traceback" not in text


class SlowCdn:
    """A CDN whose every answer takes `delay` seconds and is a 503; counts requests per path,
    and those still being answered."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.requests: Counter[str] = Counter()
        self.open = 0
        self.changed = threading.Condition()

    def handle(self, call: Exchange) -> None:
        with self.changed:
            self.requests[call.path] += 1
            self.open += 1
        time.sleep(self.delay)  # the CDN's own slowness, not a wait of the test's
        call.answer(503)
        with self.changed:
            self.open -= 1
            self.changed.notify_all()

    def wait_for(self, what: Callable[[], bool], timeout: float = 60) -> bool:
        with self.changed:
            return self.changed.wait_for(what, timeout)


def test_pending_charts_are_retried_by_one_instance_at_a_time(
    tmp_path: Path, postgres_url: str, s3_server: S3Server
) -> None:
    cdn = SlowCdn(delay=1.5)
    engine = make_engine(postgres_url)
    migrate(engine)
    zone = ZoneInfo("America/New_York")
    service = PlanService(PlanRepository(engine), coaches=["d", "i", "s", "n"], timezone=zone)
    bucket = bucket_env(s3_server.url, s3_server.new_bucket())
    with fake_server(cdn.handle) as server:
        base = local_cdn_base(API_BASE_URL, server.port)
        charts = [NewChart(f"{base}/c{n}.png", f"c{n}.png", "image/png", 100) for n in (1, 2)]
        place = Place(GUILD)
        service.post("d", "2026-03-02", "Long", Actor("1", "coach"), place=place, charts=charts)
        engine.dispose()
        with two_instances(tmp_path, postgres_url, bucket):
            wait_until(
                lambda: "leaves them to it" in logs(tmp_path),
                "neither instance left the pending charts to the other",
            )
            # The round in progress ends: every try made and answered.
            assert cdn.wait_for(lambda: sum(cdn.requests.values()) >= 4 and not cdn.open)
    # One instance tried each chart (twice: RECONNECT_ATTEMPTS=1); the other left them alone.
    assert cdn.requests == {"/c1.png": 2, "/c2.png": 2}
    assert len(re.findall("another instance is retrying the pending charts", logs(tmp_path))) == 1


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_lease_is_held_by_one_holder_and_free_again_after(
    database: str, tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = postgres_server.new_database() if database == "postgresql" else (
        f"sqlite:///{tmp_path / 'plans.db'}"
    )  # fmt: skip
    engines = [make_engine(url), make_engine(url)]
    one, other = (Lease(engine, CHART_RETRIES, "chart-retries") for engine in engines)
    try:
        assert one.acquire()
        assert not other.acquire()
        one.release()
        assert other.acquire()
        other.release()
    finally:
        for engine in engines:
            engine.dispose()

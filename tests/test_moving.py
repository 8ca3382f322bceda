"""Plans move: `coach-plans export` writes every plan, version, deletion and chart as JSON Lines,
and `coach-plans import` reads them back into any database with every timestamp kept, once, line
by line; `import --legacy` reads the original bot's SQLite database. Real databases, the real app
for the reads, Discord's CDN faked at the HTTP boundary."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import pty
import re
import signal
import sqlite3
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import httpx
import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from app.charts.bucket import BucketStore
from app.moving import export, importer, legacy
from app.plans.extraction import extract
from app.records import Actor, NewChart, Place
from app.runtime.web import create_app
from app.settings import Settings
from app.storage.database import make_engine, migrate
from app.storage.repository import PlanRepository
from tests.support.bucket_server import S3Server
from tests.support.service_process import BIN, base_env, running_service, service_env

GUILD = "390926798626357000"
DAY = date(2026, 1, 5)
T0 = datetime(2026, 1, 5, 13, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"chart bytes " * 50
CDN = "http://discord.test/attachments/1/2"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, minutes: int = 7) -> None:
        self.now += timedelta(minutes=minutes, microseconds=123)


def on(settings: Settings, url: str, charts: Path | None = None) -> Settings:
    update: dict[str, Any] = {"database_url": url, "database_path": None}
    if charts is not None:
        update["chart_storage_dir"] = charts
    return settings.model_copy(update=update)


def cdn(requests: list[str]) -> httpx.MockTransport:
    """Discord's CDN: the chart under /chart.png, and 404 for anything expired."""

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(str(request.url))
        if request.url.path.endswith("chart.png"):
            return httpx.Response(200, content=PNG, headers={"content-type": "image/png"})
        return httpx.Response(404)

    return httpx.MockTransport(answer)


def write_plans(url: str) -> None:
    """Plans as the service writes them: posted, edited, given charts, deleted."""
    engine = make_engine(url)
    migrate(engine)
    clock = Clock()
    repo = PlanRepository(engine, clock)
    author, editor = Actor("111", "Ann"), Actor("222", "Bob")
    place = Place(GUILD, "555", "plans")
    chart = NewChart(f"{CDN}/chart.png", "spy.png", "image/png", len(PNG))

    def post(guild: str, coach: str, text: str, charts: list[NewChart]) -> None:
        where = place if guild == GUILD else Place(guild)
        repo.insert(guild, coach, DAY, text, author, where, charts, None, levels=extract(text))

    post(GUILD, "d", "SPY long above 590, stop 585", [chart])
    for n, text in enumerate(["SPY long above 591, stop 586", "SPY short below 580, stop 584"]):
        clock.tick()
        repo.update(
            GUILD, "d", DAY, check=lambda *_: None, editor=editor if n else author, text=text,
            charts=[chart] if n else [], expected_version=None, plan_id=None, once=None,
            levels=lambda _, text=text: extract(text),  # type: ignore[misc]
        )  # fmt: skip
    clock.tick()
    post(GUILD, "m", "QQQ 500 watch", [])
    clock.tick()
    repo.soft_delete(
        GUILD, "m", DAY, check=lambda *_: None, actor=editor, expected_version=None,
        plan_id=None, once=None,
    )  # fmt: skip
    clock.tick()
    post(GUILD, "m", "QQQ 505 reclaim, targets 510 515", [])
    post("777", "d", "Another guild's plan", [])
    engine.dispose()


def archive_charts(url: str, folder: Path) -> None:
    """The charts archived, as the service would have done by now."""
    engine = make_engine(url)
    repo = PlanRepository(engine)
    folder.mkdir(parents=True, exist_ok=True)
    for chart in repo.unarchived_charts(10):
        name = f"{chart.id}-{hashlib.sha256(PNG).hexdigest()[:32]}.png"
        (folder / name).write_bytes(PNG)
        repo.mark_archived(chart.id, name)
    engine.dispose()


def exported(settings: Settings, guild: str | None = None) -> list[str]:
    out = io.StringIO()
    anyio.run(lambda: export.export(settings, out, guild))
    return out.getvalue().splitlines()


def imported(
    settings: Settings,
    lines: list[str],
    requests: list[str] | None = None,
    guild: str | None = None,
) -> tuple[importer.Counts, str]:
    report = io.StringIO()
    records = importer.lines_of(io.StringIO("\n".join(lines) + "\n"), guild)
    transport = cdn([] if requests is None else requests)
    counts = anyio.run(lambda: importer.import_records(settings, records, report, transport))
    return counts, report.getvalue()


# --- the export --------------------------------------------------------------------------------


def test_export_writes_every_plan_with_all_versions_deletion_and_authors(
    settings: Settings, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    write_plans(url)
    lines = [json.loads(line) for line in exported(on(settings, url), GUILD)]
    assert len(lines) == 3  # the other guild's plan stays out
    d, deleted, live = lines
    assert d["format"] == "coach-plans/1" and d["coach"] == "d" and d["date"] == "2026-01-05"
    texts = [v["text"] for v in d["versions"]]
    assert texts == [
        "SPY long above 590, stop 585",
        "SPY long above 591, stop 586",
        "SPY short below 580, stop 584",
    ]
    assert [v["by"] for v in d["versions"]] == ["Ann", "Ann", "Bob"]
    assert d["versions"][0]["at"] == d["created_at"] == "2026-01-05T13:00:00+00:00"
    assert d["versions"][2]["levels"]["bias"] == "short"
    assert [c["filename"] for c in d["charts"]] == ["spy.png", "spy.png"]
    assert d["charts"][0]["sha256"] is None  # never archived: nothing to vouch for
    assert deleted["deleted"]["by"] == "Bob" and deleted["deleted"]["by_id"] == "222"
    assert live["deleted"] is None and live["versions"][0]["text"].startswith("QQQ 505")


def test_export_memory_does_not_grow_with_the_number_of_plans(
    settings: Settings, tmp_path: Path
) -> None:
    import tracemalloc

    def peak(count: int) -> int:
        url = f"sqlite:///{tmp_path / f'{count}.db'}"
        engine = make_engine(url)
        migrate(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO coach_plans (coach_name, date, plan, author, author_id, guild_id,"
                " created_at, is_deleted, version) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
                f" SELECT i + 1 FROM n WHERE i < {count}) SELECT 'c' || i, '2026-01-05',"
                " 'SPY long above ' || i || ', stop 585 and a longer text ' || hex(randomblob(40)),"
                " 'Ann', '111', ?, '2026-01-05 13:00:00.000000', 0, 1 FROM n",
                (GUILD,),
            )
        engine.dispose()
        sink = io.StringIO()
        tracemalloc.start()
        try:
            with_sink = on(settings, url)

            class Discard(io.StringIO):
                def write(self, text: str) -> int:
                    return len(text)

            sink = Discard()
            anyio.run(lambda: export.export(with_sink, sink))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(1_000), peak(20_000)
    # Twenty times the plans; a whole-table read would hold twenty times the rows.
    assert large < small * 1.5, (small, large)


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.postgres
def test_sqlite_to_postgresql_to_sqlite_gives_the_same_export(
    settings: Settings, tmp_path: Path, postgres_url: str
) -> None:
    first = f"sqlite:///{tmp_path / 'first.db'}"
    last = f"sqlite:///{tmp_path / 'last.db'}"
    write_plans(first)
    archive_charts(first, settings.chart_storage_dir)
    before = exported(on(settings, first))
    assert '"sha256":"' in before[0]
    counts, _ = imported(on(settings, postgres_url), before)
    assert (counts.imported, counts.bad) == (4, 0)
    middle = exported(on(settings, postgres_url))
    imported(on(settings, last), middle)
    assert sorted(exported(on(settings, last))) == sorted(middle) == sorted(before)


def test_as_of_reads_and_history_answer_the_same_after_a_move(
    settings: Settings, tmp_path: Path
) -> None:
    old, new = f"sqlite:///{tmp_path / 'old.db'}", f"sqlite:///{tmp_path / 'new.db'}"
    write_plans(old)
    imported(on(settings, new), exported(on(settings, old)))
    instants = [T0 + timedelta(minutes=m) for m in (-1, 0, 3, 8, 15, 22, 29, 40)]

    def answers(url: str) -> list[Any]:
        found = []
        with TestClient(create_app(on(settings, url))) as client:
            for instant in instants:
                for coach in ("d", "m"):
                    query = {"coach": coach, "date": str(DAY), "guild": GUILD}
                    at = client.get("/api/coach-plans/", params={**query, "as_of": instant})
                    history = client.get("/api/coach-plans/history", params=query)
                    for answer in (at, history):
                        body = answer.json()
                        body.pop("request_id", None)  # each request's own
                        found.append((answer.status_code, body))
        return found

    before, after = answers(old), answers(new)
    assert before == after
    assert any(status == 200 for status, _ in before[2:])  # the reads found plans to compare


# --- import: once, line by line ----------------------------------------------------------------


def test_importing_twice_adds_nothing_and_bad_or_conflicting_lines_are_reported(
    settings: Settings, tmp_path: Path
) -> None:
    source, target = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    write_plans(source)
    archive_charts(source, settings.chart_storage_dir)
    lines = exported(on(settings, source), GUILD)
    first, report = imported(on(settings, target), lines)
    assert (first.imported, first.present, first.skipped, first.bad) == (3, 0, 0, 0), report
    again, _ = imported(on(settings, target), lines)
    assert (again.imported, again.present) == (0, 3)
    assert sorted(exported(on(settings, target))) == sorted(lines)

    rival = json.loads(lines[0])
    rival["created_at"] = rival["versions"][0]["at"] = "2026-01-04T09:00:00+00:00"
    half_bad = json.loads(lines[2]) | {"coach": "q"}
    half_bad["versions"].append({"text": "later", "levels": None, "by": "x", "by_id": "9",
                                 "at": "not a time"})  # fmt: skip
    mixed = [json.dumps(rival), "{not json", json.dumps(half_bad)]
    counts, report = imported(on(settings, target), mixed)
    assert (counts.imported, counts.skipped, counts.bad) == (0, 1, 2), report
    assert "line 1: skipped" in report and "coach d" in report
    assert "line 2: bad" in report and "line 3: bad" in report and "versions[1].at" in report
    assert len(exported(on(settings, target))) == 3  # nothing of the bad lines was written


def cli_env(tmp_path: Path, database: str = "") -> dict[str, str]:
    return base_env() | {
        "DATABASE_URL": database or f"sqlite:///{tmp_path / 'cli.db'}",
        "CHART_STORAGE_DIR": str(tmp_path / "cli-charts"),
    }


def coach_plans(tmp_path: Path, *args: str, database: str = "") -> subprocess.CompletedProcess[str]:
    """The command as a user runs it, on its own database and archive in `tmp_path`."""
    command = [str(BIN / "coach-plans"), *args]
    env = cli_env(tmp_path, database)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_the_command_prints_counts_and_exits_1_when_a_line_was_bad(tmp_path: Path) -> None:
    good = {"format": "coach-plans/1", "guild_id": None, "coach": "d", "date": "2025-03-03",
            "author": "Ann", "author_id": "111", "channel": None, "channel_id": None,
            "created_at": "2025-03-03T12:00:00+00:00", "deleted": None, "charts": [],
            "versions": [{"text": "SPY long 500, stop 495", "levels": None, "by": "Ann",
                          "by_id": "111", "at": "2025-03-03T12:00:00+00:00"}]}  # fmt: skip
    file = tmp_path / "plans.jsonl"
    file.write_text(json.dumps(good) + "\n" + json.dumps({"format": "other"}) + "\n")
    done = coach_plans(tmp_path, "import", str(file), "--guild", GUILD)
    assert done.returncode == 1
    assert done.stdout == "1 imported, 0 already there, 0 skipped, 1 bad\n"
    assert "line 2: bad" in done.stderr
    written = coach_plans(tmp_path, "export")
    assert written.returncode == 0
    assert written.stderr == ""  # stderr is no terminal here: no progress bar in a log
    [line] = written.stdout.splitlines()
    levels = json.loads(line)["versions"][0]["levels"]
    assert json.loads(line)["guild_id"] == GUILD and levels["stop"] == 495  # read from the text

    # On a terminal, stderr shows the progress; stdout still carries only the plans.
    main, terminal = pty.openpty()
    # 24 rows of 80 columns: a new pseudo-terminal has none, and tqdm draws within its width.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    export = [str(BIN / "coach-plans"), "export"]
    env = cli_env(tmp_path)
    on_tty = subprocess.run(export, env=env, stdout=subprocess.PIPE, stderr=terminal, timeout=120)
    os.close(terminal)
    shown = b""
    with contextlib.suppress(OSError):  # the terminal's far end is closed: all was read
        while chunk := os.read(main, 4096):
            shown += chunk
    os.close(main)
    assert on_tty.stdout.decode().splitlines() == [line]
    assert b"1 plans" in shown, shown


# --- charts ------------------------------------------------------------------------------------


def test_archived_charts_are_linked_by_hash_and_fetched_only_where_missing(
    settings: Settings, tmp_path: Path
) -> None:
    source = on(settings, f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "charts")
    write_plans(source.database_url)
    archive_charts(source.database_url, tmp_path / "charts")
    lines = exported(source, GUILD)
    assert json.loads(lines[0])["charts"][0]["sha256"] == hashlib.sha256(PNG).hexdigest()

    same_archive = on(settings, f"sqlite:///{tmp_path / 'b.db'}", tmp_path / "charts")
    fetched: list[str] = []
    counts, report = imported(same_archive, lines, fetched)
    assert counts.imported == 3 and fetched == [] and "not archived" not in report
    with TestClient(create_app(same_archive)) as client:
        plan = client.get("/api/coach-plans/", params={"coach": "d", "date": str(DAY)}).json()
        assert client.get(plan["charts"][0]["url"]).content == PNG

    elsewhere = on(settings, f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "other-charts")
    expired = json.loads(lines[0])
    expired["charts"][1] |= {
        "url": f"{CDN}/gone.png",
        "sha256": hashlib.sha256(b"other").hexdigest(),
    }
    # The same image again: linked to the copy this import has just archived.
    expired["charts"].append(expired["charts"][0] | {"url": f"{CDN}/again.png"})
    counts, report = imported(elsewhere, [json.dumps(expired)], fetched)
    assert fetched == [f"{CDN}/chart.png", f"{CDN}/gone.png"]
    assert "chart spy.png (http://discord.test/attachments/1/2/gone.png) not archived" in report
    assert "refused: HTTP 404" in report


def test_charts_already_in_the_bucket_are_linked_not_fetched(
    settings: Settings, tmp_path: Path, s3_server: S3Server
) -> None:
    source = on(settings, f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "charts")
    write_plans(source.database_url)
    archive_charts(source.database_url, tmp_path / "charts")
    lines = exported(source, GUILD)
    target = on(settings, f"sqlite:///{tmp_path / 'b.db'}").model_copy(
        update={
            "chart_bucket": s3_server.new_bucket(),
            "aws_endpoint_url_s3": s3_server.url,
            "aws_access_key_id": "test-key",
            "aws_secret_access_key": SecretStr("test-secret"),
            "aws_region": "auto",
        }
    )
    [kept] = (tmp_path / "charts").glob("1-*.png")

    async def into_bucket() -> None:  # the charts were copied over by `charts migrate`
        bucket = BucketStore(target)
        await bucket.put_file(kept.name, kept, "image/png")
        await bucket.close()

    anyio.run(into_bucket)
    fetched: list[str] = []
    counts, report = imported(target, lines, fetched)
    assert counts.imported == 3 and fetched == [] and "not archived" not in report
    with TestClient(create_app(target)) as client:
        plan = client.get("/api/coach-plans/", params={"coach": "d", "date": str(DAY)}).json()
        assert [client.get(c["url"]).content for c in plan["charts"]] == [PNG, PNG]


# --- the original bot's database ---------------------------------------------------------------


def legacy_database(path: Path) -> Path:
    """The original bot's tables, as its README names them, with its quirks."""
    with sqlite3.connect(path) as old:
        old.executescript(
            """
            CREATE TABLE coach_plans (id INTEGER PRIMARY KEY, coach_name TEXT, date TEXT,
                plan TEXT, author TEXT, author_id TEXT, channel TEXT, created_at TIMESTAMP,
                edited_at TIMESTAMP, is_deleted INTEGER DEFAULT 0, deleted_at TIMESTAMP,
                deleted_by TEXT);
            CREATE TABLE plan_history (id INTEGER PRIMARY KEY, plan_id INTEGER, plan_text TEXT,
                edited_by TEXT, edited_at TIMESTAMP);
            CREATE TABLE plan_charts (id INTEGER PRIMARY KEY, plan_id INTEGER, chart_url TEXT,
                filename TEXT);
            INSERT INTO coach_plans VALUES
                (1, 'coach_d', '2025-06-02', 'SPY long 540, stop 535', 'Ann', '111', 'plans',
                 '2025-06-02 08:30:00', '2025-06-02 09:15:00', 0, NULL, NULL),
                (2, 'coach_m', '2025-06-02', 'QQQ short 470', 'Bob', '222', 'plans',
                 '2025-06-02 08:40:00.250000', NULL, 1, '2025-06-02 10:00:00', 'Bob'),
                (3, 'coach_k', '2025-06-03', '', 'Ann', '111', 'plans', 'yesterday', NULL, 0,
                 NULL, NULL);
            INSERT INTO plan_history VALUES (1, 1, 'SPY long 538', 'Ann', '2025-06-02 09:15:00');
            """
        )
        old.execute(
            "INSERT INTO plan_charts VALUES (1, 1, ?, 'spy.png'), (2, 1, ?, 'old.png')",
            (f"{CDN}/chart.png", f"{CDN}/expired.png"),
        )
    return path


def test_the_original_bots_database_is_imported_with_its_quirks(
    settings: Settings, tmp_path: Path
) -> None:
    old = legacy_database(tmp_path / "old.db")
    target = on(settings, f"sqlite:///{tmp_path / 'new.db'}", tmp_path / "charts")
    zone = ZoneInfo("America/New_York")
    report = io.StringIO()
    fetched: list[str] = []

    def run(records: Iterator[importer.Labelled]) -> importer.Counts:
        return anyio.run(lambda: importer.import_records(target, records, report, cdn(fetched)))

    counts = run(legacy.records(old, GUILD, zone))
    assert (counts.imported, counts.bad) == (2, 1), report.getvalue()
    assert "old plan 3: bad" in report.getvalue()
    assert "old.png" in report.getvalue() and "refused: HTTP 404" in report.getvalue()
    d, m = (json.loads(line) for line in exported(target))
    assert d["coach"] == "d" and m["coach"] == "m" and d["guild_id"] == GUILD
    # 08:30 in New York in June is 12:30 UTC.
    assert d["created_at"] == "2025-06-02T12:30:00+00:00"
    assert [v["text"] for v in d["versions"]] == ["SPY long 538", "SPY long 540, stop 535"]
    assert d["versions"][1]["at"] == "2025-06-02T13:15:00+00:00"
    assert d["versions"][1]["levels"]["stop"] == 535  # read from the text
    assert d["charts"][0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert d["charts"][1]["sha256"] is None and d["charts"][1]["url"].endswith("expired.png")
    assert m["deleted"] == {"by": "Bob", "by_id": "Bob", "at": "2025-06-02T14:00:00+00:00"}
    assert m["created_at"] == "2025-06-02T12:40:00.250000+00:00"

    unknown = ["import", "--legacy", str(old), "--guild", GUILD, "--legacy-timezone", "Mars/Base"]
    refused = coach_plans(tmp_path, *unknown, database=target.database_url)
    assert refused.returncode == 2 and "unknown time zone 'Mars/Base'" in refused.stderr

    again = run(legacy.records(old, GUILD, zone))
    assert (again.imported, again.present) == (0, 2)
    assert fetched.count(f"{CDN}/chart.png") == 1  # archived once; the refused one not again


# --- beside a running service; killed and run again --------------------------------------------


def many_plans(count: int) -> str:
    lines = []
    for n in range(count):
        at = (T0 - timedelta(days=400) + timedelta(minutes=n)).isoformat()
        version = {"text": f"SPY long {500 + n}", "levels": None, "by": "Ann", "by_id": "111"}
        day = str(date(2024, 1, 1) + timedelta(days=n // 50))
        line = {"format": "coach-plans/1", "coach": f"c{n % 50}", "author": "Ann", "date": day,
                "author_id": "111", "created_at": at, "deleted": None, "charts": [],
                "versions": [version | {"at": at}]}  # fmt: skip
        lines.append(json.dumps(line))
    return "\n".join(lines) + "\n"


def test_an_import_killed_halfway_beside_a_running_service_is_finished_by_running_it_again(
    tmp_path: Path,
) -> None:
    count = 3000
    file = tmp_path / "plans.jsonl"
    file.write_text(many_plans(count))
    env = service_env(tmp_path)
    database = make_engine(f"sqlite:///{tmp_path / 'data' / 'plans.db'}")

    def imported_so_far() -> int:
        with database.begin() as connection:
            return int(connection.exec_driver_sql("SELECT count(*) FROM coach_plans").scalar_one())

    command = [str(BIN / "coach-plans"), "import", str(file), "--guild", GUILD]
    with running_service(tmp_path, env, "--mock") as (base, _):
        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while imported_so_far() < 20 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.communicate()
        halfway = imported_so_far()
        assert 0 < halfway < count
        second = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # The service takes a plan while the import writes.
        sent = subprocess.run(
            [str(BIN / "coach-plans"), "send", "/plan coach:d text:\"QQQ 480\"", "--url", base],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        out, err = second.communicate(timeout=300)
    database.dispose()
    assert sent.returncode == 0, sent.stderr
    assert second.returncode == 0, err
    counted = re.fullmatch(r"(\d+) imported, (\d+) already there, 0 skipped, 0 bad\n", out.decode())
    assert counted, out
    done, already = int(counted[1]), int(counted[2])
    assert already >= halfway and done + already == count
    assert imported_so_far_after(tmp_path) == count + 1  # every plan once, and the service's


def imported_so_far_after(folder: Path) -> int:
    engine = make_engine(f"sqlite:///{folder / 'data' / 'plans.db'}")
    try:
        with engine.begin() as connection:
            return int(connection.exec_driver_sql("SELECT count(*) FROM coach_plans").scalar_one())
    finally:
        engine.dispose()

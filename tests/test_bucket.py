"""Charts in an S3 bucket: a real S3 API server (moto) on 127.0.0.1, faults made at its HTTP edge.

The chart is served the same from the bucket as from the directory; faults of the bucket are
logged, retried when they may pass, and never lose a chart: it stays pending until the bucket
is back."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from nacl.signing import SigningKey
from pydantic import SecretStr

from app.api.status import CHARTS_PROBE_SECONDS
from app.charts.bucket import BucketStore
from app.charts.store import StoreError, named
from app.settings import Settings
from tests.support.bucket_server import BucketEdge, S3Server
from tests.support.discord_edge import (
    Discord,
    FakeDiscord,
    attachment,
    chart_path,
    discord_app,
    edited,
    fast_settings,
    gallery,
    png,
)
from tests.support.retry_time import SetTime


def on_bucket(settings: Settings, endpoint: str, bucket: str, **more: Any) -> Settings:
    return fast_settings(
        settings,
        chart_bucket=bucket,
        aws_endpoint_url_s3=endpoint,
        aws_access_key_id="test-key",
        aws_secret_access_key=SecretStr("test-secret"),
        aws_region="auto",
        **more,
    )


def post_chart(discord: Discord, body: bytes, coach: str = "d") -> dict[str, Any]:
    url = discord.fake.add_file(f"{coach}.png", body)
    charts = {"chart1": attachment(url, f"{coach}.png", len(body))}
    assert discord.command("plan", coach=coach, text="Long above 950", attachments=charts) == {
        "type": 5
    }
    plan = discord.client.get(f"/api/coach-plans/?coach={coach}").json()
    [chart] = plan["charts"]
    return dict(chart)


def served(settings: Settings, signer: SigningKey, body: bytes) -> tuple[dict[str, str], bytes]:
    with discord_app(settings, signer, FakeDiscord()) as discord:
        response = discord.client.get(chart_path(post_chart(discord, body)["url"]))
        assert response.status_code == 200, response.text
        keep = ("etag", "cache-control", "x-content-type-options", "content-type")
        return {k: response.headers[k] for k in keep}, response.content


def test_a_chart_is_served_from_the_bucket_as_from_the_directory(
    settings: Settings, signer: SigningKey, s3_server: S3Server
) -> None:
    body = png(5000)
    elsewhere = {"database_url": settings.database_url + "-directory"}
    from_directory = served(fast_settings(settings, **elsewhere), signer, body)
    bucket = s3_server.new_bucket()
    from_bucket = served(on_bucket(settings, s3_server.url, bucket), signer, body)
    assert from_bucket == from_directory
    headers, content = from_bucket
    assert content == body
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["x-content-type-options"] == "nosniff"
    # Kept once, under its content hash: the bucket holds exactly these bytes there.
    digest = hashlib.sha256(body).hexdigest()[:32]
    assert s3_server.keys(bucket) == [f"charts/{digest}.png"]
    assert s3_server.object(bucket, f"charts/{digest}.png").content == body
    assert headers["etag"] == f'"{digest}"'


def test_a_bucket_chart_goes_with_its_card_and_is_served_with_the_key_and_304(
    settings: Settings, signer: SigningKey, s3_server: S3Server
) -> None:
    bucket = s3_server.new_bucket()
    keyed = on_bucket(settings, s3_server.url, bucket, api_key=SecretStr("sekrit"))
    with discord_app(keyed, signer, FakeDiscord()) as discord:
        url = discord.fake.add_file("spy.png", png(900))
        charts = {"chart1": attachment(url, "spy.png", 900)}
        discord.command("plan", coach="d", text="x", attachments=charts)
        # The card carries the chart read back from the bucket: no URL of ours, key or not.
        card, files = edited(discord.fake)
        assert gallery(card) == ["1-spy.png"] and files["1-spy.png"].data == png(900)
        auth = {"Authorization": "Bearer sekrit"}
        plan = discord.client.get("/api/coach-plans/?coach=d", headers=auth).json()
        path = chart_path(plan["charts"][0]["url"])
        assert discord.client.get(path).status_code == 401
        first = discord.client.get(path, headers=auth)
        again = discord.client.get(path, headers={**auth, "If-None-Match": first.headers["etag"]})
        assert (first.status_code, again.status_code, again.content) == (200, 304, b"")


def test_a_card_reads_from_the_bucket_only_the_charts_it_carries(
    settings: Settings, signer: SigningKey, s3_server: S3Server, bucket_edge: BucketEdge
) -> None:
    bucket = s3_server.new_bucket()
    many = on_bucket(settings, bucket_edge.url, bucket, max_chart_attachments=20)
    with discord_app(many, signer, FakeDiscord()) as discord:
        charts = {}
        for n in range(1, 18):  # 17 charts; a message carries 10
            url = discord.fake.add_file(f"c{n}.png", png(100 + n))
            charts[f"chart{n}"] = attachment(url, f"c{n}.png", 100 + n)

        def reads() -> int:
            return sum(1 for m, p in bucket_edge.seen if m == "GET" and f"/{bucket}/charts/" in p)

        discord.command("plan", coach="d", text="x", attachments=charts)
        card, files = edited(discord.fake)
        assert len(gallery(card)) == 10
        assert [files[f"{n}-c{n}.png"].data for n in range(1, 11)] == [
            png(100 + n) for n in range(1, 11)
        ]
        assert reads() == 10
        # A text-only edit's card shows the same ten: read once each, the other seven not at all.
        answer = discord.command("edit", coach="d", text="Levels moved")
        assert answer == {"type": 5}
        assert len(gallery(discord.fake.edits[-1][2])) == 10
        assert reads() == 20


def test_health_reports_the_store_and_its_state(
    settings: Settings, signer: SigningKey, s3_server: S3Server
) -> None:
    def charts(s: Settings) -> dict[str, str]:
        with discord_app(s, signer) as discord:
            response = discord.client.get("/health")
            assert response.status_code == 200  # plans are still taken: never unhealthy
            return dict(response.json()["components"]["charts"])

    assert charts(settings) == {"status": "up", "backend": "directory"}
    bucket = s3_server.new_bucket()
    up = {"status": "up", "backend": "bucket"}
    assert charts(on_bucket(settings, s3_server.url, bucket)) == up
    missing = on_bucket(settings, s3_server.url, "no-such-bucket")
    assert charts(missing) == {"status": "down", "backend": "bucket"}


def test_a_stalled_bucket_is_reported_down_within_the_deadline_of_flys_health_check(
    settings: Settings,
    signer: SigningKey,
    s3_server: S3Server,
    bucket_edge: BucketEdge,
    fly: dict[str, Any],
) -> None:
    [check] = fly["http_service"]["checks"]
    deadline = float(check["timeout"].removesuffix("s"))
    bucket = s3_server.new_bucket()
    # Calls to the bucket may take a minute: only the probe's own bound answers /health sooner.
    slow = on_bucket(settings, bucket_edge.url, bucket, connection_timeout=60)
    with discord_app(slow, signer) as discord:
        bucket_edge.methods, bucket_edge.faults = ("GET",), ["stall"]
        started = time.monotonic()
        health = discord.client.get("/health")
        # Answered while the bucket still stalls, and healthy (plans are still taken): the
        # probe gives up within its own bound, which is inside Fly's check.
        assert time.monotonic() - started < 30
        assert deadline > CHARTS_PROBE_SECONDS
        assert health.status_code == 200
        assert health.json()["components"]["charts"] == {"status": "down", "backend": "bucket"}
        bucket_edge.released.set()
        up = discord.client.get("/health").json()["components"]["charts"]
        assert up == {"status": "up", "backend": "bucket"}


def test_a_missing_bucket_leaves_the_chart_pending_until_it_exists(
    settings: Settings, signer: SigningKey, s3_server: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = f"later-{id(caplog)}"
    with discord_app(on_bucket(settings, s3_server.url, bucket), signer) as discord:
        chart = post_chart(discord, png(700))
        pending = discord.client.get(chart_path(chart["url"]))
        assert (pending.status_code, pending.json()["error"]) == (404, "chart_not_archived")
        assert f"bucket '{bucket}' does not exist (NoSuchBucket)" in caplog.text
        assert "stays pending" in caplog.text
        s3_server.create_bucket(bucket)
        services = discord.client.app_state["services"]
        portal = discord.client.portal
        assert portal is not None
        assert portal.call(services.charts.archive_pending) == 1
        assert discord.client.get(chart_path(chart["url"])).content == png(700)


@pytest.mark.parametrize(
    ("faults", "archived", "puts", "logged"),
    [
        (["slowdown", "slowdown"], True, 3, "answered HTTP 503 SlowDown; retry 1 of 2"),
        (["reset"], True, 2, "could not be reached: Connection reset by peer"),
        (["denied"], False, 1, "refused access (HTTP 403 AccessDenied)"),
        (["reset", "reset", "reset"], False, 3, "could not be reached"),
    ],
    ids=["slowdown-retried", "reset-mid-upload-retried", "403-not-retried", "reset-persists"],
)
def test_bucket_faults_are_logged_retried_when_passing_and_never_lose_the_chart(
    settings: Settings,
    signer: SigningKey,
    s3_server: S3Server,
    bucket_edge: BucketEdge,
    caplog: pytest.LogCaptureFixture,
    faults: list[str],
    archived: bool,
    puts: int,
    logged: str,
) -> None:
    bucket = s3_server.new_bucket()
    bucket_edge.faults = list(faults)
    body = png(3000)
    with discord_app(on_bucket(settings, bucket_edge.url, bucket), signer) as discord:
        chart = post_chart(discord, body)
        answer = discord.client.get(chart_path(chart["url"]))
        assert [m for m, _ in bucket_edge.seen if m == "PUT"] == ["PUT"] * puts
        assert logged in caplog.text
        if archived:
            assert answer.content == body
            return
        assert (answer.status_code, answer.json()["error"]) == (404, "chart_not_archived")
        # Never lost: once the bucket behaves, the next round of retries archives it.
        services = discord.client.app_state["services"]
        portal = discord.client.portal
        assert portal is not None
        assert portal.call(services.charts.archive_pending) == 1
        assert discord.client.get(chart_path(chart["url"])).content == body


def test_an_archived_chart_the_bucket_cannot_serve_now_is_a_quick_503(
    settings: Settings, signer: SigningKey, s3_server: S3Server, bucket_edge: BucketEdge
) -> None:
    bucket = s3_server.new_bucket()
    # The default retries (RECONNECT_ATTEMPTS=5, RECONNECT_DELAY_SECONDS=5) would wait minutes.
    defaults = on_bucket(settings, bucket_edge.url, bucket).model_copy(
        update={"reconnect_attempts": 5, "reconnect_delay_seconds": 5.0}
    )
    with discord_app(defaults, signer) as discord:
        chart = post_chart(discord, png(800))
        bucket_edge.methods = ("GET",)
        bucket_edge.faults = ["slowdown"] * 2  # the first try and its one quick retry
        answer = discord.client.get(chart_path(chart["url"]))
        assert (answer.status_code, answer.json()["error"]) == (503, "unavailable")
        assert answer.headers["retry-after"] == "30"
        back = discord.client.get(chart_path(chart["url"]))  # and then it is back
        assert (back.status_code, back.content) == (200, png(800))


@pytest.mark.parametrize(
    ("waited_on", "retries", "ceilings"),
    [(True, 1, [0.5]), (False, 5, [5.0, 10.0, 20.0, 40.0, 60.0])],
    ids=["read-someone-waits-on", "migration"],
)
def test_a_read_someone_waits_on_retries_once_quickly_a_migration_waits_out_the_backoff(
    settings: Settings,
    s3_server: S3Server,
    bucket_edge: BucketEdge,
    tmp_path: Path,
    waited_on: bool,
    retries: int,
    ceilings: list[float],
) -> None:
    # The default retries: RECONNECT_ATTEMPTS=5, RECONNECT_DELAY_SECONDS=5.
    on_edge = on_bucket(settings, bucket_edge.url, s3_server.new_bucket())
    defaults = on_edge.model_copy(update={"reconnect_attempts": 5, "reconnect_delay_seconds": 5.0})
    clock = SetTime()
    store = BucketStore(defaults, waited_on=waited_on, waits=clock.retry_time)
    body = png(900)
    name = named(1, hashlib.sha256(body).hexdigest(), ".png")
    spooled = tmp_path / "chart.png"
    spooled.write_bytes(body)
    anyio.run(store.put_file, name, spooled, "image/png")
    bucket_edge.methods, bucket_edge.faults = ("GET",), ["slowdown"] * 10
    with pytest.raises(StoreError, match="answered HTTP 503 SlowDown") as failed:
        anyio.run(store.get, name)
    assert failed.value.transient and failed.value.retried  # the archive leaves it at that
    assert len([m for m, _ in bucket_edge.seen if m == "GET"]) == retries + 1
    assert len(clock.waits) == retries
    for wait, ceiling in zip(clock.waits, ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_the_bucket_settings_are_read_as_fly_storage_create_names_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.settings import load_settings

    monkeypatch.setenv("BUCKET_NAME", "from-fly")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://fly.storage.tigris.dev")
    settings = load_settings(mock_mode=True)
    assert (settings.chart_bucket, settings.aws_endpoint_url_s3) == (
        "from-fly",
        "https://fly.storage.tigris.dev",
    )
    monkeypatch.setenv("CHART_BUCKET", "chosen")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.example.test")
    settings = load_settings(mock_mode=True)
    assert (settings.chart_bucket, settings.aws_endpoint_url_s3) == (
        "chosen",
        "https://s3.example.test",
    )
    assert load_settings(mock_mode=True, chart_bucket="", bucket_name="").chart_bucket is None

"""Chart downloads that go wrong, through the real app with Discord faked at the HTTP edge: only
Discord's CDN is fetched, every download has a deadline, failures for good are recorded and never
fetched again, passing ones are retried, and the deferred answer is always replaced."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from nacl.signing import SigningKey

from app.charts.archive import ChartArchive
from app.mock.discord import CdnFile
from app.settings import Settings
from tests.support.discord_edge import (
    GUILD,
    MEDIA,
    Discord,
    FakeDiscord,
    attachment,
    card_text,
    chart_path,
    discord_app,
    ephemeral_text,
    fast_settings,
    gallery,
    png,
    texts,
)
from tests.support.retry_time import SetTime
from tests.support.waits import wait_until


def one_chart(
    fake: FakeDiscord, name: str, body: bytes, size: int = 0, **how: Any
) -> dict[str, dict[str, Any]]:
    """A chart1 attachment served by the fake CDN as `how` says; `size` is what Discord declares."""
    url = fake.add_file(name, body, **how)
    return {"chart1": attachment(url, name, size or len(body))}


def edited_text(fake: FakeDiscord) -> str:
    """The text of the plan card the deferred answer was last replaced with."""
    return card_text(fake.edits[-1][2])


def chart_status(discord: Discord, coach: str = "d") -> tuple[int, str]:
    """GET /charts/{id} of the coach's one chart: its status, and its text unless it is 200."""
    plan = discord.client.get(f"/api/coach-plans/?coach={coach}").json()
    [chart] = plan["charts"]
    served = discord.client.get(chart_path(chart["url"]))
    return served.status_code, served.text if served.status_code != 200 else ""


# --- only Discord's CDN --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5000/metrics",
        "http://169.254.169.254/latest/meta-data/",
        "http://cdn.discordapp.com/attachments/1/2/spy.png",  # not https
        "https://cdn.discordapp.com.evil.test/attachments/1/2/spy.png",
        "https://cdn.discordapp.com@127.0.0.1/attachments/1/2/spy.png",
        "https://cdn.discordapp.com:8443/attachments/1/2/spy.png",
    ],
)
def test_a_chart_from_another_host_is_refused_naming_the_file(
    settings: Settings, signer: SigningKey, fake: FakeDiscord, url: str
) -> None:
    with discord_app(fast_settings(settings), signer, fake) as discord:
        file = {"chart1": attachment(url, "spy.png", 64)}
        refusal = ephemeral_text(discord.command("plan", coach="d", text="x", attachments=file))
        assert "spy.png (chart1)" in refusal and "Discord's CDN" in refusal
        assert discord.client.get("/api/coach-plans/?coach=d").status_code == 404
    assert fake.requests == []  # nothing was fetched, from there or anywhere


def test_discord_media_proxy_host_is_accepted(
    settings: Settings, signer: SigningKey, fake: FakeDiscord
) -> None:
    url = f"{MEDIA}/attachments/1/2/spy.png"
    fake.files[url] = CdnFile(png())
    with discord_app(fast_settings(settings), signer, fake) as discord:
        file = {"chart1": attachment(url, "spy.png", 64)}
        assert discord.command("plan", coach="d", text="x", attachments=file) == {"type": 5}
    assert fake.urls[0] == url


# --- deadlines -----------------------------------------------------------------------------------


def test_a_slow_drip_is_given_up_and_the_deferred_answer_still_replaced(
    settings: Settings, signer: SigningKey, fake: FakeDiscord
) -> None:
    # One byte every 0.4 s: each read beats the 1 s timeout, so only the attempt's overall
    # deadline (3 s) ends the 16 s drip. The good chart has all of those 3 s, ample on a busy box.
    settings = fast_settings(settings, connection_timeout=1)
    drip = one_chart(fake, "drip.png", png(40), drip=0.4)
    good = fake.add_file("good.png", png(100))
    attachments = {**drip, "chart2": attachment(good, "good.png", 100)}
    with discord_app(settings, signer, fake) as discord:
        assert discord.command("plan", coach="d", text="x", attachments=attachments) == {"type": 5}
        # Had the answer waited for the drip's end, the chart would be archived, not missing.
        text = edited_text(fake)
        assert "Chart missing: drip.png — not archived yet (retried later)" in text
        assert "good.png —" not in text and gallery(fake.edits[-1][2]) == ["1-good.png"]
        plan = discord.client.get("/api/coach-plans/?coach=d").json()
        drip_chart, good_chart = plan["charts"]
        assert discord.client.get(f"/charts/{good_chart['id']}").status_code == 200
        assert discord.client.get(f"/charts/{drip_chart['id']}").status_code == 404


def test_a_failing_source_does_not_hold_the_answer_for_the_backoff(
    settings: Settings, signer: SigningKey, fake: FakeDiscord
) -> None:
    # Six attempts would back off 1+2+4+8+16 s; the command path has one deadline of 1.5 s.
    settings = fast_settings(
        settings, reconnect_attempts=5, reconnect_delay_seconds=1, connection_timeout=0.5
    )
    attachments = one_chart(fake, "busy.png", png(), status=503)
    with discord_app(settings, signer, fake) as discord:
        assert discord.command("plan", coach="d", text="x", attachments=attachments) == {"type": 5}
        [_] = fake.edits
        # The card went out after a few tries, not after the six the backoff (31 s) would make.
        assert 1 <= len(fake.downloads) < 6
        assert "Chart missing: busy.png — not archived yet (retried later)" in edited_text(fake)
        assert chart_status(discord)[0] == 404


# --- failures for good, and passing ones ---------------------------------------------------------


REFUSED_FOR_GOOD = [
    pytest.param({"body": b"<html>not an image</html>"}, "not a PNG image", id="wrong-bytes"),
    pytest.param({"body": png(1048577), "size": 100}, "larger than 1.0 MB", id="too-large"),
    pytest.param({"body": png(), "status": 404}, "HTTP 404", id="404"),
    pytest.param({"body": png(), "status": 403}, "HTTP 403", id="403"),
    pytest.param(
        {"body": b"", "status": 302, "headers": {"Location": "http://127.0.0.1:5000/metrics"}},
        "redirected (HTTP 302)",
        id="redirect",
    ),
]


@pytest.mark.parametrize(("how", "reason"), REFUSED_FOR_GOOD)
def test_a_chart_refused_for_good_is_recorded_and_never_fetched_again(
    settings: Settings, signer: SigningKey, fake: FakeDiscord, how: dict[str, Any], reason: str
) -> None:
    settings = fast_settings(settings, max_chart_bytes=1048576)
    bad = one_chart(fake, "spy.png", **how)
    bad_url = bad["chart1"]["url"]
    # A chart whose CDN is busy through the command's attempts, fine by the next start.
    busy = one_chart(fake, "busy.png", png(), failures=3)
    with discord_app(settings, signer, fake) as discord:
        assert discord.command("plan", coach="d", text="x", attachments=bad) == {"type": 5}
        assert f"Chart missing: spy.png — not kept: {reason}" in edited_text(fake)
        assert fake.downloads == [bad_url], "a refusal for good is not retried"
        status, text = chart_status(discord)
        assert status == 404 and "was not kept" in text and reason in text
        discord.command("plan", coach="i", text="y", attachments=busy)
    with discord_app(settings, signer, fake) as discord:
        # The start's retry pass takes the busy chart; the refused one is left out.
        wait_until(lambda: chart_status(discord, "i")[0] == 200, "coach i's chart was not served")
        assert fake.downloads.count(bad_url) == 1
    assert all("127.0.0.1" not in url for url in fake.urls)


def test_an_edit_of_a_plan_with_a_refused_chart_answers_at_once(
    settings: Settings, signer: SigningKey, fake: FakeDiscord
) -> None:
    settings = fast_settings(settings, reconnect_attempts=5, reconnect_delay_seconds=1)
    with discord_app(settings, signer, fake) as discord:
        gone = one_chart(fake, "gone.png", png(), status=404)
        assert discord.command("plan", coach="d", text="x", attachments=gone) == {"type": 5}
        answer = discord.command("edit", coach="d", text="new levels")
        assert answer["type"] == 4, "no deferral: there is nothing left to download"
        assert texts(answer["data"])[1] == "new levels" and gallery(answer["data"]) == []
        assert "Chart missing: gone.png — not kept: HTTP 404" in card_text(answer["data"])
    assert len(fake.downloads) == 1


@pytest.mark.parametrize("how", [{"status": 503}, {"status": 429}, {"down": True}])
def test_a_passing_failure_stays_pending_and_the_retry_fetches_it_again(
    settings: Settings, signer: SigningKey, fake: FakeDiscord, how: dict[str, Any]
) -> None:
    settings = fast_settings(settings)
    fake.cdn_down = how.get("down", False)
    attachments = one_chart(fake, "busy.png", png(333), status=how.get("status", 200))
    url = attachments["chart1"]["url"]
    with discord_app(settings, signer, fake) as discord:
        discord.command("plan", coach="d", text="x", attachments=attachments)
        assert "Chart missing: busy.png — not archived yet (retried later)" in edited_text(fake)
        status, text = chart_status(discord)
        assert status == 404 and "retried later" in text
    tried = len(fake.downloads)
    assert tried == 3  # the command's attempts
    fake.cdn_down = False
    fake.files[url].status = 200
    with discord_app(settings, signer, fake) as discord:
        wait_until(lambda: chart_status(discord)[0] == 200, "the chart was not served")
    assert fake.downloads.count(url) == tried + 1


def test_a_chart_whose_cdn_stays_busy_is_tried_as_the_settings_say_backing_off_between(
    settings: Settings, signer: SigningKey, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    attachments = one_chart(fake, "busy.png", png(), status=503)
    with discord_app(fast_settings(settings), signer, fake) as discord:
        discord.command("plan", coach="d", text="x", attachments=attachments)
        services = discord.client.app_state["services"]
        [chart] = services.plans.unarchived_charts()
        # The default retries (RECONNECT_ATTEMPTS=5, RECONNECT_DELAY_SECONDS=5), on time the
        # test sets: two minutes of backoff pass at once.
        clock = SetTime()
        archive = ChartArchive(
            settings,
            services.http,
            services.plans,
            services.threads,
            services.store,
            waits=clock.retry_time,
        )
        before = len(fake.downloads)
        portal = discord.client.portal
        assert portal is not None
        assert portal.call(archive.keep, chart) is False
        assert len(fake.downloads) - before == 6
        assert len(clock.waits) == 5
        for wait, ceiling in zip(clock.waits, (5, 10, 20, 40, 60), strict=True):
            assert ceiling / 2 <= wait <= ceiling
        assert "could not archive chart 1 (busy.png) after 6 attempt(s) (HTTP 503)" in caplog.text
        status, text = chart_status(discord)
        assert status == 404 and "retried later" in text


# --- the archive's disk --------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_leaves_no_partial_file_and_the_chart_is_retried(
    settings: Settings, signer: SigningKey, fake: FakeDiscord
) -> None:
    body = png(4096)
    attachments = one_chart(fake, "full.png", body)
    folder = settings.chart_storage_dir
    folder.mkdir(parents=True)
    # The archive writes chart 1 to this partial file first: make writing it hit a full disk.
    name = f"1-{hashlib.sha256(body).hexdigest()[:32]}.png"
    (folder / f".1.{os.getpid()}.part").symlink_to("/dev/full")
    with discord_app(fast_settings(settings), signer, fake) as discord:
        assert discord.command("plan", coach="d", text="x", attachments=attachments) == {"type": 5}
        assert len(fake.edits) == 1
        assert [p.name for p in folder.iterdir() if p.name.endswith(".part")] == []
        # Storage trouble may pass: the next attempt found room and archived the chart.
        assert chart_status(discord)[0] == 200
    assert len(fake.downloads) == 2
    assert [p.name for p in folder.iterdir()] == [name]


def test_unrelated_charts_are_retried_side_by_side(
    settings: Settings, signer: SigningKey, fake: FakeDiscord
) -> None:
    settings = fast_settings(settings, connection_timeout=0.5)
    fake.cdn_down = True
    drip = one_chart(fake, "drip.png", png(200), drip=0.05)
    fine = one_chart(fake, "fine.png", png(300))
    with discord_app(settings, signer, fake) as discord:
        discord.command("plan", coach="d", text="x", attachments=drip)
        discord.command("plan", coach="i", text="y", attachments=fine)
    fake.cdn_down = False
    with discord_app(settings, signer, fake) as discord:
        drip_url = drip["chart1"]["url"]
        wait_until(lambda: chart_status(discord, "i")[0] == 200, "coach i's chart was not served")
        # One after the other, it would have waited for the drip's three attempts first.
        assert fake.downloads.count(drip_url) < 3 + 3, "the slow chart held up the other"
        # The drip is given up within each attempt's deadline, so the pass ends.
        wait_until(
            lambda: fake.downloads.count(drip_url) == 3 + 3,
            "the dripping chart was not fetched three more times",
        )
        assert chart_status(discord)[0] == 404


def test_a_command_waits_for_the_background_retry_already_fetching_its_chart(
    settings: Settings, signer: SigningKey, fake: FakeDiscord
) -> None:
    settings = fast_settings(settings, max_chart_bytes=1048576)
    fake.cdn_down = True  # the command's own attempts fail: the chart stays pending
    attachments = one_chart(fake, "slow.png", png(), status=403, delay=0.5)
    with discord_app(settings, signer, fake) as discord:
        discord.command("plan", coach="d", text="x", attachments=attachments)
        fake.cdn_down = False
        services = discord.client.app_state["services"]
        [chart] = services.plans.unarchived_charts()

        url = attachments["chart1"]["url"]
        fetches = fake.downloads.count(url)

        async def retry_and_command() -> str | None:
            async with anyio.create_task_group() as group:
                group.start_soon(services.charts.keep, chart)  # the background retry
                with anyio.fail_after(60):
                    while fake.downloads.count(url) == fetches:  # until it is fetching
                        await anyio.sleep(0.005)
                await services.charts.archive_now([chart], GUILD)  # the command's pass
                # What the plan card reads next: the retry's outcome, not a chart "still pending".
                [seen] = services.plans.get_by_id(GUILD, chart.plan_id).charts
                reason: str | None = seen.failed_reason
            return reason

        portal = discord.client.portal
        assert portal is not None
        assert portal.call(retry_and_command) == "HTTP 403"
    assert fake.downloads.count(attachments["chart1"]["url"]) == 1 + 3  # 3 while down, 1 now

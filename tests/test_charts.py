"""Chart attachments: accepted types and sizes, the deferred answer and its edit of @original
into a card whose charts are the message's own files (uploaded from the archive), archiving
under CHART_STORAGE_DIR, GET /charts/{id}, and downloads that fail or are slow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from nacl.signing import SigningKey

from app.settings import Settings
from tests.support.discord_edge import (
    APP_ID,
    Discord,
    FakeDiscord,
    attachment,
    button_interaction,
    card_text,
    chart_path,
    discord_app,
    edited,
    ephemeral_text,
    fast_settings,
    gallery,
    png,
    texts,
)
from tests.support.waits import wait_until


@pytest.fixture
def discord(settings: Settings, signer: SigningKey, fake: FakeDiscord) -> Iterator[Discord]:
    with discord_app(fast_settings(settings), signer, fake) as app:
        yield app


def charts_for(fake: FakeDiscord, count: int, size: int = 2048, **how: Any) -> dict[str, Any]:
    found = {}
    for n in range(1, count + 1):
        body = png(size)
        url = fake.add_file(f"chart{n}.png", body, **how)
        found[f"chart{n}"] = attachment(url, f"chart{n}.png", len(body))
    return found


def plan_json(discord: Discord, coach: str = "d") -> dict[str, Any]:
    response = discord.client.get(f"/api/coach-plans/?coach={coach}")
    assert response.status_code == 200, response.text
    plan: dict[str, Any] = response.json()
    return plan


def test_plan_with_a_chart_defers_then_edits_the_original(
    discord: Discord, fake: FakeDiscord
) -> None:
    attachments = charts_for(fake, 1)
    answer = discord.command("plan", coach="d", text="With a chart", attachments=attachments)
    assert answer == {"type": 5}
    [(_, path, body)] = fake.edits
    token = path.split("/")[-3]
    assert path == f"/api/v10/webhooks/{APP_ID}/{token}/messages/@original"
    body, files = edited(fake)
    assert body["flags"] == 1 << 15 and texts(body)[1] == "With a chart"
    # The gallery shows the message's own file, uploaded from the archive with the edit.
    assert gallery(body) == ["1-chart1.png"]
    [item] = [i for c in body["components"][0]["components"] if c["type"] == 12 for i in c["items"]]
    assert item == {"media": {"url": "attachment://1-chart1.png"}, "description": "chart1.png"}
    assert body["attachments"] == [{"id": "0", "filename": "1-chart1.png"}]
    upload = files["1-chart1.png"]
    assert (upload.n, upload.content_type, upload.data) == (0, "image/png", png(2048))
    [chart] = plan_json(discord)["charts"]
    served = discord.client.get(chart_path(chart["url"]))
    assert served.status_code == 200 and served.content == png(2048)
    assert served.headers["content-type"] == "image/png"
    assert "max-age=31536000" in served.headers["cache-control"]
    again = discord.client.get(
        chart_path(chart["url"]), headers={"If-None-Match": served.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""


def test_archived_chart_is_kept_under_chart_storage_dir(
    discord: Discord, fake: FakeDiscord, settings: Settings
) -> None:
    discord.command("plan", coach="d", text="x", attachments=charts_for(fake, 1, size=5000))
    stored = [p for p in settings.chart_storage_dir.iterdir() if not p.name.startswith(".")]
    assert len(stored) == 1 and stored[0].read_bytes() == png(5000)


def test_ten_chart_plan_shows_and_archives_every_chart(discord: Discord, fake: FakeDiscord) -> None:
    answer = discord.command(
        "plan", coach="d", text="Ten charts", attachments=charts_for(fake, 10, size=4096)
    )
    assert answer == {"type": 5}
    body, files = edited(fake)
    names = [f"{n}-chart{n}.png" for n in range(1, 11)]
    assert gallery(body) == names and sorted(files) == sorted(names)
    assert all(files[name].data == png(4096) for name in names)
    assert "missing" not in card_text(body)
    charts = plan_json(discord)["charts"]
    assert [c["filename"] for c in charts] == [f"chart{n}.png" for n in range(1, 11)]
    for chart in charts:
        assert discord.client.get(chart_path(chart["url"])).status_code == 200


def test_a_plan_with_more_charts_than_a_message_holds_names_the_rest(
    settings: Settings, signer: SigningKey, fake: FakeDiscord
) -> None:
    # 17 chart options: Discord's 25 options less coach, text, date and the five levels.
    with discord_app(fast_settings(settings, max_chart_attachments=20), signer, fake) as discord:
        discord.command("plan", coach="d", text="x", attachments=charts_for(fake, 17, size=100))
        body, files = edited(fake)
        assert len(gallery(body)) == len(files) == 10
        text = card_text(body)
        for n in range(11, 18):
            assert f"Chart missing: chart{n}.png — a message carries at most 10 files" in text
        assert "chart10.png —" not in text


@pytest.mark.parametrize(
    ("filename", "content_type", "size", "says"),
    [
        ("notes.txt", "text/plain", 100, "notes.txt (chart1) is text/plain, not a chart image"),
        ("movie.mp4", "video/mp4", 100, "movie.mp4 (chart1) is video/mp4"),
        ("vector.svg", "image/svg+xml", 100, "vector.svg (chart1) is image/svg+xml"),
        ("huge.png", "image/png", 10 * 1024 * 1024 + 1, "huge.png (chart1) is 10.0 MB; a chart"),
        ("mystery", None, 100, "mystery (chart1) is of unknown type"),
    ],
)
def test_bad_attachments_are_refused_naming_the_file(
    discord: Discord,
    fake: FakeDiscord,
    filename: str,
    content_type: str | None,
    size: int,
    says: str,
) -> None:
    url = fake.add_file(filename, b"x")
    file = attachment(url, filename, size, content_type)
    refusal = ephemeral_text(
        discord.command("plan", coach="d", text="x", attachments={"chart1": file})
    )
    assert says in refusal
    assert discord.client.get("/api/coach-plans/?coach=d").status_code == 404
    assert fake.downloads == []


def test_image_without_content_type_is_known_by_its_extension(
    discord: Discord, fake: FakeDiscord
) -> None:
    url = fake.add_file("chart.webp", b"RIFF\0\0\0\0WEBPVP8 ")
    file = attachment(url, "chart.webp", 16, None)
    assert discord.command("plan", coach="d", text="x", attachments={"chart1": file}) == {"type": 5}
    [chart] = plan_json(discord)["charts"]
    assert discord.client.get(chart_path(chart["url"])).headers["content-type"] == "image/webp"


def test_too_many_charts_for_one_plan_are_refused(discord: Discord, fake: FakeDiscord) -> None:
    discord.command("plan", coach="d", text="x", attachments=charts_for(fake, 10, size=100))
    more = {"chart1": attachment(fake.add_file("one.png", png()), "one.png", 64)}
    refusal = ephemeral_text(discord.command("edit", coach="d", attachments=more))
    assert "at most 10 charts" in refusal


def test_edit_adds_charts_with_a_deferred_answer(discord: Discord, fake: FakeDiscord) -> None:
    discord.command("plan", coach="d", text="text only")
    more = {"chart1": attachment(fake.add_file("late.png", png(300)), "late.png", 300)}
    assert discord.command("edit", coach="d", attachments=more) == {"type": 5}
    body, files = edited(fake)
    assert texts(body)[1] == "text only" and gallery(body) == ["1-late.png"]
    assert files["1-late.png"].data == png(300)
    [chart] = plan_json(discord)["charts"]
    assert discord.client.get(chart_path(chart["url"])).content == png(300)


def test_slow_download_is_answered_at_once_and_edited_after(
    discord: Discord, fake: FakeDiscord
) -> None:
    attachments = charts_for(fake, 10, size=1000, delay=1.5)
    answer = discord.command("plan", coach="d", text="Slow link", attachments=attachments)
    assert answer == {"type": 5}
    answered_at = discord.clock.sent_at[-1]
    # An order, not a duration: a loaded machine may take its time over either.
    assert answered_at < min(fake.served_at), "the deferral must go out before any download ends"
    [(edited_at, _, body)] = fake.edits
    assert edited_at >= answered_at + 1.0, "the edit of @original comes after the deferral"
    assert texts(body)[1] == "Slow link" and len(gallery(body)) == 10


def test_failed_download_keeps_the_plan_and_names_the_missing_charts(
    discord: Discord, fake: FakeDiscord
) -> None:
    fake.cdn_down = True
    attachments = charts_for(fake, 2)
    assert discord.command("plan", coach="d", text="CDN down", attachments=attachments) == {
        "type": 5
    }
    body, files = edited(fake)
    assert texts(body)[1] == "CDN down"
    # No image from Discord's CDN stands in: the card names what is missing.
    assert gallery(body) == [] and files == {} and "attachments" not in body
    for name in ("chart1.png", "chart2.png"):
        assert f"Chart missing: {name} — not archived yet (retried later)" in card_text(body)
    assert len(fake.downloads) == 2 * 3  # two charts, three attempts each
    charts = plan_json(discord)["charts"]
    assert len(charts) == 2
    served = discord.client.get(chart_path(charts[0]["url"]))
    assert served.status_code == 404 and "not archived yet" in served.json()["message"]


def test_failed_download_is_retried_on_the_next_start(
    settings: Settings, signer: SigningKey, fake: FakeDiscord
) -> None:
    settings = fast_settings(settings)
    fake.cdn_down = True
    with discord_app(settings, signer, fake) as discord:
        discord.command("plan", coach="d", text="x", attachments=charts_for(fake, 1, size=777))
        [chart] = plan_json(discord)["charts"]
    fake.cdn_down = False
    with discord_app(settings, signer, fake) as discord:
        wait_until(
            lambda: discord.client.get(chart_path(chart["url"])).status_code == 200,
            "the chart was not archived on the next start",
        )
        served = discord.client.get(chart_path(chart["url"]))
        assert served.status_code == 200 and served.content == png(777)


def test_a_transient_cdn_error_is_retried(discord: Discord, fake: FakeDiscord) -> None:
    discord.command("plan", coach="d", text="x", attachments=charts_for(fake, 1, failures=2))
    [chart] = plan_json(discord)["charts"]
    assert discord.client.get(chart_path(chart["url"])).status_code == 200
    assert len(fake.downloads) == 3


def test_download_that_is_not_the_declared_image_is_not_archived(
    discord: Discord, fake: FakeDiscord
) -> None:
    url = fake.add_file("fake.png", b"<html>not an image</html>")
    file = attachment(url, "fake.png", 25)
    discord.command("plan", coach="d", text="x", attachments={"chart1": file})
    [chart] = plan_json(discord)["charts"]
    assert discord.client.get(chart_path(chart["url"])).status_code == 404


@pytest.mark.parametrize("chart_id", ["999", "abc", "1" * 30])
def test_unknown_chart_is_a_json_404(discord: Discord, chart_id: str) -> None:
    response = discord.client.get(f"/charts/{chart_id}")
    assert response.status_code == 404
    assert set(response.json()) == {"error", "message", "request_id"}


def test_chart_of_a_deleted_plan_is_gone(discord: Discord, fake: FakeDiscord) -> None:
    discord.command("plan", coach="d", text="x", attachments=charts_for(fake, 1))
    [chart] = plan_json(discord)["charts"]
    [row] = discord.command("delete", coach="d")["data"]["components"]
    discord.send(button_interaction(row["components"][0]["custom_id"]))
    assert discord.client.get(chart_path(chart["url"])).status_code == 404


def test_edit_of_original_is_retried_while_discord_answers_404_or_5xx(
    discord: Discord, fake: FakeDiscord
) -> None:
    fake.edit_refusals = [404, 502]
    discord.command("plan", coach="d", text="retried edit", attachments=charts_for(fake, 1))
    body, files = edited(fake)
    assert texts(body)[1] == "retried edit" and files["1-chart1.png"].data == png(2048)
    assert fake.edit_refusals == []

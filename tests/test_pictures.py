"""Pictures of outcomes and scorecards over HTTP: a PNG a person can read (1000+ px wide, under
1 MB, the plan's levels and the coaches' lines in their colours), the same bytes again from the
cache, and a clear JSON error, never a broken picture, when there is nothing to draw."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

from PIL import Image
from starlette.testclient import TestClient

from app.discord.plan_messages import accent_color
from app.pictures.draw import BACKGROUND, MARK, STOP, TARGET, time_axis
from app.settings import Settings
from tests.test_grading import CLOSE, DAY, OPEN
from tests.test_outcome_api import MONDAY, graded_app, outcome


def coach_colour(coach: str, settings: Settings) -> str:
    """The colour of the coach's plan cards, as #rrggbb."""
    return f"#{accent_color(coach, settings.coaches):06x}"


AFTER = datetime(2025, 3, 17, 12, tzinfo=UTC)  # the Monday after DAY, before its open


def picture(body: bytes) -> tuple[Image.Image, Counter[str]]:
    """The decoded PNG and how many pixels have each colour (as #rrggbb)."""
    image = Image.open(io.BytesIO(body))
    assert image.format == "PNG"
    assert image.width >= 1000 and len(body) < 1_000_000
    rgb = image.convert("RGB")
    colours: Counter[str] = Counter(
        "#{:02x}{:02x}{:02x}".format(*cast(tuple[int, int, int], pixel))
        for pixel in rgb.get_flattened_data()
    )
    return image, colours


def test_outcome_picture_draws_the_levels_over_the_session(
    settings: Settings, tmp_path: Path
) -> None:
    with TestClient(graded_app(settings, tmp_path)) as client:
        assert outcome(client, "d")["status"] == "target"
        first = client.get("/api/coach-plans/outcome.png", params={"coach": "d", "date": DAY})
        assert first.status_code == 200
        assert first.headers["content-type"] == "image/png"
        _, colours = picture(first.content)
        assert colours[BACKGROUND] > 100_000  # Discord's dark background
        # The stop and the targets as lines, the fill and the exit marked.
        for colour in (STOP, TARGET, MARK):
            assert colours[colour] > 200, colour
        again = client.get("/api/coach-plans/outcome.png", params={"coach": "d", "date": DAY})
        assert again.content == first.content  # the cache's copy


def test_the_session_reads_in_the_servers_time_zone(settings: Settings, tmp_path: Path) -> None:
    """The same plan and bars: the clock on the picture's axis is the server's (here the
    deployment's TIMEZONE), so New York's reads 09:30 at the open and UTC's 13:30."""
    bars = [OPEN + timedelta(minutes=30 * n) for n in range(13)]
    positions, labels, name = time_axis(bars, ZoneInfo("America/New_York"))
    assert (labels[0], labels[-1], name) == ("09:30", "15:30", "America/New_York")
    assert time_axis(bars, UTC)[1][0] == "13:30" and positions[0] == 0
    drawn = {}
    for zone in ("UTC", "America/New_York"):
        database = f"sqlite:///{tmp_path / zone.replace('/', '-')}.db"
        zoned = settings.model_copy(
            update={"timezone": zone, "database_url": database, "database_path": None}
        )
        with TestClient(graded_app(zoned, tmp_path)) as client:
            assert outcome(client, "d")["status"] == "target"
            answer = client.get("/api/coach-plans/outcome.png", params={"coach": "d", "date": DAY})
            assert answer.status_code == 200
            drawn[zone] = answer.content
    assert drawn["UTC"] != drawn["America/New_York"]


def test_scorecard_picture_has_one_line_per_coach_in_its_colour(
    settings: Settings, tmp_path: Path
) -> None:
    with TestClient(graded_app(settings, tmp_path)) as client:
        outcome(client, "d"), outcome(client, "i")
        answer = client.get("/api/coach-plans/scorecard.png", params={"as_of": AFTER.isoformat()})
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/png"
        _, colours = picture(answer.content)
        for coach in ("d", "i"):
            assert colours[coach_colour(coach, settings)] > 300, coach
        one = client.get(
            "/api/coach-plans/scorecard.png", params={"coach": "i", "as_of": AFTER.isoformat()}
        )
        _, only_i = picture(one.content)
        if coach_colour("d", settings) != coach_colour("i", settings):
            assert only_i[coach_colour("d", settings)] < only_i[coach_colour("i", settings)] / 10


def test_nothing_to_draw_is_a_clear_json_error(settings: Settings, tmp_path: Path) -> None:
    with TestClient(graded_app(settings, tmp_path)) as client:
        outcome(client, "d"), outcome(client, "i")
        get = client.get
        no_plan = get("/api/coach-plans/outcome.png", params={"coach": "i", "date": MONDAY})
        assert no_plan.status_code == 404
        assert no_plan.headers["content-type"].startswith("application/json")
        not_yet = get("/api/coach-plans/outcome.png", params={"coach": "d", "date": MONDAY})
        assert not_yet.status_code == 404
        assert "not graded yet" in not_yet.json()["message"]
        (tmp_path / "prices" / "QQQ.csv").unlink()  # the ticker's bars are gone
        no_bars = get("/api/coach-plans/outcome.png", params={"coach": "i", "date": DAY})
        assert no_bars.status_code == 404
        assert "no QQQ bars" in no_bars.json()["message"]
        during = (CLOSE.replace(hour=15)).isoformat()  # nothing graded yet then
        empty = get("/api/coach-plans/scorecard.png", params={"coach": "d", "as_of": during})
        assert empty.status_code == 404
        assert "No graded plans for d" in empty.json()["message"]
        for days in ("0", "366", "x"):
            bad = get("/api/coach-plans/scorecard.png", params={"days": days})
            assert bad.status_code == 400
            assert "1 to 365" in bad.json()["message"]

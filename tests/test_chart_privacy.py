"""What `/charts/{id}` tells whoever asks: behind API_KEY no shared cache may keep a chart, and
no 404 names the chart's file (its name is the poster's; the caller may only have walked ids)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from nacl.signing import SigningKey
from pydantic import SecretStr

from app.settings import Settings
from tests.support.discord_edge import (
    Discord,
    attachment,
    chart_path,
    discord_app,
    fast_settings,
    png,
)

KEY = "chart-reader-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
SECRET_NAME = "acme-merger-short-setup.png"


@pytest.fixture
def keyed(settings: Settings, signer: SigningKey) -> Iterator[Discord]:
    with discord_app(fast_settings(settings, api_key=SecretStr(KEY)), signer) as app:
        yield app


def chart_of_new_plan(discord: Discord, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """Post coach d's plan with one chart named SECRET_NAME; the chart as the API lists it."""
    url = discord.fake.add_file(SECRET_NAME, body)
    attachments = {"chart1": attachment(url, SECRET_NAME, len(body))}
    discord.command("plan", coach="d", text="See chart", attachments=attachments)
    plan = discord.client.get("/api/coach-plans/?coach=d", headers=headers)
    assert plan.status_code == 200, plan.text
    chart: dict[str, Any]
    [chart] = plan.json()["charts"]
    return chart


def test_a_chart_behind_the_api_key_is_private(keyed: Discord) -> None:
    chart = chart_of_new_plan(keyed, png(2048), AUTH)
    served = keyed.client.get(chart_path(chart["url"]), headers=AUTH)
    assert served.status_code == 200 and served.content == png(2048)
    cache = served.headers["cache-control"]
    assert "private" in cache and "public" not in cache and "immutable" not in cache
    # A browser that kept it asks again with the key, and is told it is unchanged.
    again = keyed.client.get(
        chart_path(chart["url"]), headers={**AUTH, "If-None-Match": served.headers["etag"]}
    )
    assert again.status_code == 304 and "private" in again.headers["cache-control"]
    # Asking again without the key gets nothing.
    assert keyed.client.get(chart_path(chart["url"])).status_code == 401


def test_a_pending_chart_404_names_no_file(keyed: Discord) -> None:
    keyed.fake.cdn_down = True
    chart = chart_of_new_plan(keyed, png(2048), AUTH)
    pending = keyed.client.get(chart_path(chart["url"]), headers=AUTH)
    assert pending.status_code == 404 and pending.json()["error"] == "chart_not_archived"
    assert SECRET_NAME not in pending.text and "acme" not in pending.text
    assert "not archived yet" in pending.json()["message"]
    assert pending.headers["cache-control"] == "no-store"  # it becomes the image later


def test_a_refused_chart_404_names_no_file(keyed: Discord) -> None:
    chart = chart_of_new_plan(keyed, b"<html>not an image</html>", AUTH)
    refused = keyed.client.get(chart_path(chart["url"]), headers=AUTH)
    assert refused.status_code == 404 and refused.json()["error"] == "chart_not_archived"
    assert SECRET_NAME not in refused.text and "acme" not in refused.text
    assert "was not kept (not a PNG image)" in refused.json()["message"]

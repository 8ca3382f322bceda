"""Plan cards as users see them on Discord: the History button, charts that stay with the
message whatever the service's address or key, charts that cannot be shown, and ephemeral lists
that stay within one message's 40 components and 4000 characters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from nacl.signing import SigningKey
from pydantic import SecretStr

from app.discord.multipart import FilePart
from app.settings import Settings
from tests.support.discord_edge import (
    API_BASE,
    APP_ID,
    OTHER,
    Discord,
    FakeDiscord,
    attachment,
    button_interaction,
    card_text,
    components,
    discord_app,
    edited,
    ephemeral_text,
    fast_settings,
    gallery,
    guild_interaction,
    modal_data,
    png,
)
from tests.support.discord_schema import check_edit, check_response, check_upload


@pytest.fixture
def discord(settings: Settings, signer: SigningKey, fake: FakeDiscord) -> Iterator[Discord]:
    with discord_app(fast_settings(settings), signer, fake) as app:
        yield app


def one_chart(fake: FakeDiscord, name: str = "spy.png", size: int = 900) -> dict[str, Any]:
    return {"chart1": attachment(fake.add_file(name, png(size)), name, size)}


def last_card(fake: FakeDiscord) -> dict[str, Any]:
    return fake.edits[-1][2]


# --- the History button --------------------------------------------------------------------------


def test_history_button_shows_the_plans_history_to_the_presser_alone(discord: Discord) -> None:
    discord.command("plan", coach="d", text="first take")
    card = discord.command("edit", coach="d", text="second take")["data"]
    [button] = [one for one in components(card) if one["type"] == 2]
    # Anyone in the channel may press it; the answer is theirs alone.
    answer = discord.send(button_interaction(button["custom_id"], user=OTHER, owner=OTHER))
    text = ephemeral_text(answer)
    assert answer["data"]["flags"] == (1 << 15) | 64
    assert "History of coach d's plan" in text
    assert text.index("second take") < text.index("first take")


def test_a_forged_history_button_is_refused(discord: Discord) -> None:
    answer = discord.send(button_interaction("history:abc"))
    assert "not made by Coach Plans" in ephemeral_text(answer)


# --- charts that are the message's own ----------------------------------------------------------


def test_with_an_api_key_and_no_public_address_the_chart_is_still_in_the_card(
    settings: Settings, signer: SigningKey, fake: FakeDiscord
) -> None:
    settings = fast_settings(settings, api_key=SecretStr("k" * 32), public_base_url=None)
    with discord_app(settings, signer, fake) as discord:
        discord.command("plan", coach="d", text="keyed", attachments=one_chart(fake))
        card = last_card(fake)
        # Every image is one of the message's files (the fake checks each upload against it).
        assert gallery(card) == ["1-spy.png"]
        assert "http" not in str([c for c in components(card) if c["type"] == 12])


def test_a_text_edit_of_a_plan_with_charts_uploads_them_again(
    discord: Discord, fake: FakeDiscord
) -> None:
    discord.command("plan", coach="d", text="v1", attachments=one_chart(fake, size=1234))
    assert discord.command("edit", coach="d", text="v2") == {"type": 5}
    [_, (_, path, card)] = fake.edits
    assert gallery(card) == ["1-spy.png"] and "v2" in card_text(card)
    assert fake.uploads(path.split("/")[-3])["1-spy.png"].data == png(1234)


def test_a_chart_the_archive_cannot_give_back_is_named_on_the_card(
    discord: Discord, fake: FakeDiscord, settings: Settings
) -> None:
    discord.command("plan", coach="d", text="v1", attachments=one_chart(fake, "lost.png"))
    for kept in settings.chart_storage_dir.iterdir():
        kept.unlink()
    assert discord.command("edit", coach="d", text="v2") == {"type": 5}
    card = last_card(fake)
    assert gallery(card) == [] and "attachments" not in card
    assert "Chart missing: lost.png — could not be read from the archive" in card_text(card)
    assert card_text(card).startswith("\n## Coach d") and "v2" in card_text(card)  # whole otherwise


def test_a_chart_refused_for_good_is_named_and_the_next_edit_is_answered_at_once(
    discord: Discord, fake: FakeDiscord
) -> None:
    url = fake.add_file("fake.png", b"<html>not an image</html>")
    fake_chart = {"chart1": attachment(url, "fake.png", 25)}
    assert discord.command("plan", coach="d", text="v1", attachments=fake_chart) == {"type": 5}
    missing = "Chart missing: fake.png — not kept: not a PNG image"
    card, _ = edited(fake)
    assert gallery(card) == [] and missing in card_text(card) and "v1" in card_text(card)
    # Nothing left to upload: the edit is the card itself, still naming the chart.
    answer = discord.command("edit", coach="d", text="v2")
    assert answer["type"] == 4 and missing in card_text(answer["data"])
    assert "v2" in card_text(answer["data"])
    assert edited(fake)[0] == card  # still the one edit, of the deferred post


def test_a_modal_save_of_a_plan_with_charts_is_deferred_and_uploads_them(
    discord: Discord, fake: FakeDiscord
) -> None:
    discord.command("plan", coach="d", text="v1", attachments=one_chart(fake))
    editor = discord.command("edit", coach="d")["data"]
    saved = discord.send(guild_interaction(5, modal_data(editor["custom_id"], "from the form")))
    assert saved == {"type": 5}
    card = last_card(fake)
    assert "from the form" in card_text(card) and gallery(card) == ["1-spy.png"]


# --- the checks themselves fail on what Discord would refuse -------------------------------------


def test_the_schema_check_refuses_a_misspelt_field() -> None:
    text = {"type": 10, "content": "x"}
    card = {"type": 17, "accent_color": 1, "components": [text]}
    data = {"flags": 1 << 15, "allowed_mentions": {"parse": []}, "components": [card]}
    check_edit(data)
    check_response({"type": 4, "data": data})
    misspelt = {**data, "components": [{**card, "accent_colour": 1}]}
    with pytest.raises(AssertionError, match="accent_colour"):
        check_edit(misspelt)
    with pytest.raises(AssertionError, match="not a valid interaction response"):
        check_response({"type": 4, "data": {**data, "flag": 1}})


def test_the_upload_check_pairs_references_and_file_parts() -> None:
    def card(url: str) -> dict[str, Any]:
        return {"components": [{"type": 12, "items": [{"media": {"url": url}}]}]}

    with pytest.raises(AssertionError, match="has no file part"):
        check_upload(card("attachment://a.png"), [])
    with pytest.raises(AssertionError, match="loaded from outside the message"):
        check_upload(card("https://cdn.discordapp.com/a.png"), [])
    stray = FilePart(0, "b.png", "image/png", b"x")
    with pytest.raises(AssertionError, match=r"files\[0\] \(b.png\) is not shown"):
        check_upload({"components": [], "attachments": [{"id": "0", "filename": "b.png"}]}, [stray])


def test_what_the_app_sends_after_its_answer_is_checked_too() -> None:
    # The app only logs a failed call to Discord, so the fake keeps what it refused.
    fake = FakeDiscord()
    url = f"{API_BASE}/webhooks/{APP_ID}/token/messages/@original"
    card = {"type": 17, "accent_colour": 1, "components": [{"type": 10, "content": "x"}]}
    misspelt = {"flags": 1 << 15, "allowed_mentions": {"parse": []}, "components": [card]}

    async def send() -> int:
        async with httpx.AsyncClient(transport=fake) as http:
            with pytest.raises(AssertionError, match="accent_colour"):
                await http.patch(url, json=misspelt)
            no_payload = await http.patch(url, files={"files[0]": ("a.png", b"x", "image/png")})
            return no_payload.status_code

    assert anyio.run(send) == 400
    assert len(fake.refused) == 2
    with pytest.raises(AssertionError, match="what it would refuse"):
        fake.assert_no_problems()


# --- lists within one message -------------------------------------------------------------------


# The pointers to the API grow with PUBLIC_BASE_URL; a long one must not push a list over.
@pytest.mark.parametrize("base", [None, "https://" + "plans." * 40 + "example"])
def test_plans_of_many_coaches_fit_one_message_and_point_to_the_api(
    settings: Settings, signer: SigningKey, base: str | None
) -> None:
    coaches = [f"c{n}" for n in range(30)]
    settings = fast_settings(settings, coaches=coaches, public_base_url=base)
    with discord_app(settings, signer) as discord:
        for coach in coaches:
            discord.command("plan", coach=coach, text=f"{coach} plan " + "z" * 500)
        answer = discord.command("plans")  # the schema check holds it to Discord's limits
    text = card_text(answer["data"])
    assert len(components(answer["data"])) <= 40
    assert "**Coach c0** · by Mason" in text and "**Coach c29**" not in text
    assert f"more not shown here: GET {base or ''}/api/coach-plans/all?date=" in text

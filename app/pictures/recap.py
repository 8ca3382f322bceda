"""The daily recap: once a session's plans are all graded, one message to each guild's recap
channel (`/setup recap_channel`) with the day's plans, their outcomes and one picture, posted by
the bot (DISCORD_BOT_TOKEN). Run after every grading pass, by every instance: the day is claimed
by inserting its `daily_recaps` row, which only one instance can do, so each guild gets one
recap a day however many instances run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import anyio.to_thread

from app.discord import components as ui
from app.discord.components import Upload
from app.discord.plan_messages import ANY_COACH_ACCENT, accent_color, plain
from app.pictures import draw
from app.pictures.service import status_words

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from app.discord.rest import Webhook
    from app.outcomes.rules import Outcome
    from app.settings import Settings

log = logging.getLogger("coach_plans")
RECAP_DAYS_BACK = 3  # a day graded late (its bars came in later) still gets its recap


async def post_recaps(
    settings: Settings, engine: Engine, webhook: Webhook, clock: Callable[[], datetime]
) -> int:
    """Post the recap of each guild day that is ready; how many this instance posted."""
    token = settings.discord_bot_token
    if token is None:
        return 0
    from app.storage.recaps import RecapStore

    store = RecapStore(engine)
    now = clock()
    ready = await anyio.to_thread.run_sync(store.ready, now.date() - timedelta(RECAP_DAYS_BACK))
    posted = 0
    for guild, channel, day in ready:
        if not await anyio.to_thread.run_sync(store.claim, guild, day, channel, now):
            continue  # another instance has it
        plans = await anyio.to_thread.run_sync(store.day, guild, day)
        data, upload = await anyio.to_thread.run_sync(_message, day, plans, settings.coaches)
        if await webhook.post_message(channel, data, [upload], token.get_secret_value()):
            posted += 1
        else:
            log.warning("the recap of %s for guild %s was not posted", day, guild)
    log.info("daily recaps checked: %d ready, %d posted by this instance", len(ready), posted)
    return posted


def _message(
    day: date, plans: list[tuple[str, Outcome]], coaches: tuple[str, ...] | list[str]
) -> tuple[dict[str, object], Upload]:
    lines = [
        f"**{plain(coach)}** · {outcome.ticker or 'no ticker'} {outcome.side or ''}: "
        f"{status_words(outcome)}"
        for coach, outcome in plans
    ]
    bars = [
        (f"{coach} {outcome.ticker or ''}".strip(), outcome.r_multiple,
         f"#{accent_color(coach, coaches):06x}")
        for coach, outcome in plans
    ]  # fmt: skip
    png = draw.recap_png(f"The plans of {day}: R by plan", bars)
    upload = Upload(f"recap-{day}.png", "image/png", png, f"R of each plan of {day}")
    text = f"## Daily recap: {day:%a %Y-%m-%d}\n" + "\n".join(lines)
    card = ui.container(ANY_COACH_ACCENT, [ui.text(text[:3800]), ui.gallery([upload])])
    return ui.message_data([card], [upload]), upload

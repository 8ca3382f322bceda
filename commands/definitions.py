"""What every command shares: the Command record the registry lists, the option definitions
(Discord's application command JSON), and the date autocomplete."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, BinaryIO

import anyio

from app.charts.store import size_of
from app.community.roster import Setup
from app.discord import plan_messages, protocol, responses
from app.discord.components import Outgoing, Upload
from app.discord.interaction import Interaction, Reply
from app.errors import PlanError
from app.plans.levels import GivenLevels
from app.plans.service import PlanService
from app.records import Chart, Plan
from app.runtime.resources import Services
from app.settings import Settings

Handler = Callable[[Interaction, Services], Awaitable[Reply]]

# Ids inside our custom_ids are Discord-style numbers: plan ids and versions stay short.
PLAN_ID = r"([1-9][0-9]{0,17})"
VERSION = r"([1-9][0-9]{0,8})"


class BadCustomId(PlanError):
    """A button or form whose custom_id we did not make (forged, garbled or from an old app)."""

    code = "bad_custom_id"


def parse_custom_id(pattern: re.Pattern[str], custom_id: str, rerun: str) -> re.Match[str]:
    match = pattern.fullmatch(custom_id) if len(custom_id) <= protocol.CUSTOM_ID_MAX else None
    if match is None:
        raise BadCustomId(
            "This button or form was not made by Coach Plans (or is out of date), so nothing "
            f"was done. Run {rerun} again."
        )
    return match


@dataclass(frozen=True, slots=True)
class Command:
    definition: dict[str, Any]
    run: Handler
    autocomplete: Handler | None = None
    components: Mapping[str, Handler] = field(default_factory=dict)  # custom_id prefix → handler
    modals: Mapping[str, Handler] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.definition["name"])


def slash_command(name: str, description: str, options: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": protocol.CHAT_INPUT,
        "name": name,
        "description": description,
        "options": options,
        # Guild channels only, installed to a guild: each guild keeps its own plans.
        "contexts": [protocol.GUILD_CONTEXT],
        "integration_types": [protocol.GUILD_INSTALL],
    }


def coach_option(description: str) -> dict[str, Any]:
    """Autocomplete rather than fixed choices: each server may have its own roster
    (app/community), and one definition serves every server."""
    return {
        "type": protocol.STRING,
        "name": "coach",
        "description": description,
        "required": True,
        "max_length": 32,
        "autocomplete": True,
    }


async def guild_plans(
    interaction: Interaction, services: Services, *, posting: bool = False
) -> tuple[PlanService, Setup]:
    """The plan rules as the caller's server sees them (its roster and time zone)."""
    return await services.guild(interaction.guild, posting=posting)


def bound(setup: Setup, coach: str, interaction: Interaction) -> bool:
    """Whether the caller is bound to the coach on the server's roster."""
    return setup.bound(coach, interaction.user.id, interaction.roles)


async def coach_choices(interaction: Interaction, services: Services) -> Reply:
    """Autocomplete of `coach`: the server's roster (or COACHES) starting with what was typed;
    of `date`: dates with a plan."""
    focused = interaction.focused
    if focused is not None and focused[0] == "date":
        return await date_choices(interaction, services)
    typed = (focused[1] if focused else "").strip().lower()
    plans, _ = await guild_plans(interaction, services, posting=True)
    names = [name for name in plans.coaches if name.startswith(typed)]
    return Reply(responses.choices([(name, name) for name in names[: protocol.CHOICES_MAX]]))


def date_option(description: str, *, autocomplete: bool) -> dict[str, Any]:
    option: dict[str, Any] = {
        "type": protocol.STRING,
        "name": "date",
        "description": description,
        "required": False,
        "max_length": 10,
    }
    if autocomplete:
        option["autocomplete"] = True
    return option


def text_option(description: str, *, required: bool) -> dict[str, Any]:
    return {
        "type": protocol.STRING,
        "name": "text",
        "description": description,
        "required": required,
        "min_length": 1,
        "max_length": protocol.TEXT_INPUT_MAX,
    }


LEVEL_OPTIONS = (
    ("ticker", "Symbol(s) the plan is about, e.g. SPY or SPY, QQQ", 60),
    ("bias", "long, short or neutral", 10),
    ("entry", "Entry price, or a zone low-high, e.g. 948-951", 40),
    ("stop", "Stop price, e.g. 940", 20),
    ("targets", "Target prices, e.g. 960, 975", 100),
)
# Discord takes at most 25 options; besides their charts, /plan and /edit have coach, date,
# text and the levels.
OPTIONS_MAX = 25
CHART_OPTIONS_MAX = OPTIONS_MAX - 3 - len(LEVEL_OPTIONS)


def level_options(edit: bool) -> list[dict[str, Any]]:
    """ticker, bias, entry, stop and targets; on /edit, `none` clears one."""
    options: list[dict[str, Any]] = []
    for name, description, longest in LEVEL_OPTIONS:
        if edit:
            description += " (none: clear)"
        option = {
            "type": protocol.STRING,
            "name": name,
            "description": description,
            "required": False,
            "max_length": longest,
        }
        if name == "bias":
            biases = ("long", "short", "neutral", "none") if edit else ("long", "short", "neutral")
            option["choices"] = [{"name": bias, "value": bias} for bias in biases]
        options.append(option)
    return options


def given_levels(interaction: Interaction) -> GivenLevels:
    """The level options the command was given (None: not given)."""
    given = interaction.string
    return GivenLevels(
        ticker=given("ticker"),
        bias=given("bias"),
        entry=given("entry"),
        stop=given("stop"),
        targets=given("targets"),
    )


def chart_names(settings: Settings) -> list[str]:
    """chart1…chartN, N = MAX_CHART_ATTACHMENTS, within Discord's 25 options a command has."""
    count = min(settings.max_chart_attachments, CHART_OPTIONS_MAX)
    return [f"chart{n}" for n in range(1, count + 1)]


def chart_options(settings: Settings) -> list[dict[str, Any]]:
    return [
        {
            "type": protocol.ATTACHMENT,
            "name": name,
            "description": f"Chart image {name[5:]}: PNG, JPEG, GIF or WebP",
            "required": False,
        }
        for name in chart_names(settings)
    ]


def api_base(services: Services) -> str:
    """The absolute API address for pointers in messages, when one is configured."""
    return (services.settings.public_base_url or "").rstrip("/")


@contextlib.asynccontextmanager
async def plan_card(
    services: Services, plan: Plan, ping_role: str | None = None, graded: bool = False
) -> AsyncIterator[Outgoing]:
    """The plan card with its archived charts uploaded as the message's own files, so no image
    depends on Discord's expiring links or on this service's address. Charts that cannot go
    (more than a message holds, too large, unreadable) are named on the card instead.

    Only the charts the message carries are opened, each as a file the upload streams from;
    they stay open, and the plan's server holds a transfer slot (app/charts/archive.py), while
    the card is used: upload it within the `async with`.

    While grading is on, every card has a Result button (a `graded` plan's has it always): a
    card posted before its session closed then shows the outcome once there is one."""
    why: dict[int, str] = {}
    # A chart refused or not archived yet is named on the card instead.
    archived = [chart for chart in plan.charts if not chart.failed_reason and chart.stored_path]
    fitting = []
    for chart in archived:
        if chart.size > protocol.UPLOAD_MAX_BYTES:  # as Discord declared it: not worth a read
            why[chart.id] = TOO_LARGE
        else:
            fitting.append(chart)
    async with contextlib.AsyncExitStack() as opened:
        if fitting:
            await opened.enter_async_context(services.charts.transfers.slot(plan.guild_id))
        files = await _open_charts(services, fitting, opened, why)
        yield plan_messages.plan_card(
            plan,
            files,
            api_base(services),
            why=why,
            coaches=services.settings.coaches,
            ping_role=ping_role,
            result=graded or services.settings.grading,
        )


TOO_LARGE = "larger than the 10 MiB Discord takes in a file"


async def _open_charts(
    services: Services, charts: list[Chart], opened: contextlib.AsyncExitStack, why: dict[int, str]
) -> dict[int, Upload]:
    """The uploads of the first ATTACHMENTS_MAX charts that can be read, in the plan's order,
    their files closed by `opened`; `why` says why the others are left out. Opened side by side
    (a bucket answers each slowly), never more than a message carries at once."""
    found: dict[int, BinaryIO | None] = {}

    async def open_one(chart: Chart) -> None:
        found[chart.id] = file = await services.charts.open(chart)
        if file is not None:
            opened.callback(file.close)

    left = list(charts)
    while left:
        room = protocol.ATTACHMENTS_MAX - sum(
            1 for file in found.values() if file is not None and not file.closed
        )
        if room <= 0:
            break
        batch, left = left[:room], left[room:]
        async with anyio.create_task_group() as reads:
            for chart in batch:
                reads.start_soon(open_one, chart)
        for chart in batch:
            file = found[chart.id]
            if file is not None and size_of(file) > protocol.UPLOAD_MAX_BYTES:
                file.close()  # declared within Discord's limit, kept larger: never sent
                why[chart.id] = TOO_LARGE
    for chart in left:
        why[chart.id] = f"a message carries at most {protocol.ATTACHMENTS_MAX} files"
    files: dict[int, Upload] = {}
    for chart in charts:
        file = found.get(chart.id)
        if file is not None and not file.closed:
            files[chart.id] = plan_messages.chart_upload(len(files) + 1, chart, file)
    return files


def text_only_card(
    services: Services, plan: Plan, ping_role: str | None = None, graded: bool = False
) -> dict[str, Any]:
    """The card of a plan with no chart to upload, as an answer everyone sees."""
    card = plan_messages.plan_card(
        plan,
        {},
        api_base(services),
        coaches=services.settings.coaches,
        ping_role=ping_role,
        result=graded or services.settings.grading,
    )
    return responses.message(card.data)


async def date_choices(interaction: Interaction, services: Services) -> Reply:
    """Autocomplete of `date`: dates with a live plan for the chosen coach, newest first,
    starting with what was typed. No coach yet, or an unknown one: no suggestions."""
    return await _date_choices(interaction, services, deleted=False)


async def history_date_choices(interaction: Interaction, services: Services) -> Reply:
    """/history's autocomplete of `date`: also dates whose plan was deleted, since a deleted
    plan's history stays readable."""
    return await _date_choices(interaction, services, deleted=True)


async def _date_choices(interaction: Interaction, services: Services, *, deleted: bool) -> Reply:
    focused = interaction.focused
    if focused is not None and focused[0] == "coach":
        return await coach_choices(interaction, services)
    if focused is None or focused[0] != "date":
        return Reply(responses.choices([]))
    typed = focused[1]

    def dates(plans: PlanService, _: Setup) -> list[date]:
        try:
            coach = plans.coach(interaction.string("coach"))
        except PlanError:
            return []  # no coach yet, or an unknown one
        return plans.dates_with_plans(interaction.guild, coach, typed, deleted=deleted)

    _, _, days = await services.read_as(interaction.guild, dates)
    return Reply(responses.choices([(f"{d.isoformat()} ({d:%a})", d.isoformat()) for d in days]))

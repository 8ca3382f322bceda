"""A community's setup over REST: its roster and time zone, unknown coaches listed, and its own
read key: a keyed guild is read only with that key (which reads that guild alone) or API_KEY,
and a refusal names nothing of the guild; chart ids follow their plan's guild."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey
from pydantic import SecretStr

from app.client import create_async_client, create_client
from app.community.service import CommunityService
from app.discord import protocol
from app.mock import payloads
from app.plans.service import PlanService
from app.records import Actor, Place
from app.runtime.web import create_app
from app.settings import Settings
from app.storage.community import SetupStore
from app.storage.database import make_engine, migrate
from app.storage.repository import PlanRepository
from tests.conftest import settings_in
from tests.support.discord_edge import (
    AUTHOR,
    OTHER,
    Discord,
    attachment,
    chart_path,
    discord_app,
    ephemeral_text,
    fast_settings,
    guild_interaction,
    png,
)
from tests.support.live_server import live_server

MANAGER = {"id": "53908232506183690", "username": "admin", "global_name": "Admin"}
GUILD = payloads.GUILD
OTHER_GUILD = "290926798626358111"
DEPLOYMENT_KEY = "deployment-key"
SECRET_NAME = "acme-merger-short-setup.png"


def add_coach(discord: Discord, name: str, member: str, guild: str = GUILD) -> None:
    values = [payloads.option("name", name), payloads.option("member", member, protocol.USER)]
    data = payloads.subcommand_data("coaches", "add", values)
    interaction = guild_interaction(
        protocol.APPLICATION_COMMAND, data, user=MANAGER, permissions=protocol.MANAGE_GUILD,
        guild_id=guild,
    )  # fmt: skip
    assert "Coach" in ephemeral_text(discord.send(interaction))


def new_key(discord: Discord, guild: str = GUILD) -> str:
    answer = discord.command(
        "setup", user=MANAGER, permissions=protocol.MANAGE_GUILD, guild_id=guild, api_key="new"
    )
    [key] = re.findall(r"`(cpg_[A-Za-z0-9_-]+)`", ephemeral_text(answer))
    return str(key)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post_with_chart(discord: Discord, guild: str = GUILD) -> None:
    url = discord.fake.add_file(SECRET_NAME, png(256))
    attachments = {"chart1": attachment(url, SECRET_NAME, 256)}
    discord.command(
        "plan", coach="d", text="Long 950, stop 940", date="2020-01-02", guild_id=guild,
        attachments=attachments,
    )  # fmt: skip


def test_the_roster_endpoint_gives_the_defaults_then_the_roster(discord: Discord) -> None:
    discord.post_plan()  # the only guild with plans: guild= may be left out
    defaults = discord.client.get("/api/coach-plans/coaches").json()
    assert defaults == {
        "guild_id": GUILD,
        "timezone": "America/New_York",
        "source": "default",
        "coaches": [{"name": n, "members": [], "roles": []} for n in ("d", "i", "s", "n")],
    }
    add_coach(discord, "alex", OTHER["id"])
    roster = discord.client.get("/api/coach-plans/coaches", params={"guild": GUILD}).json()
    assert roster["source"] == "roster"
    assert roster["coaches"] == [{"name": "alex", "members": [OTHER["id"]], "roles": []}]


def test_an_unknown_coach_in_a_read_lists_that_guilds_coaches(discord: Discord) -> None:
    discord.post_plan()
    add_coach(discord, "alex", AUTHOR["id"])
    refused = discord.client.get("/api/coach-plans/", params={"coach": "maria", "guild": GUILD})
    assert refused.status_code == 400 and refused.json()["error"] == "unknown_coach"
    assert "Coaches are: alex" in refused.json()["message"]


@pytest.fixture
def keyed(settings: Settings, signer: SigningKey) -> Iterator[Discord]:
    with discord_app(fast_settings(settings, api_key=SecretStr(DEPLOYMENT_KEY)), signer) as app:
        yield app


def reads(guild: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("/api/coach-plans/", {"coach": "d", "date": "2020-01-02", "guild": guild}),
        ("/api/coach-plans/all", {"date": "2020-01-02", "guild": guild}),
        ("/api/coach-plans/history", {"coach": "d", "date": "2020-01-02", "guild": guild}),
        ("/api/coach-plans/by-ticker", {"ticker": "SPY", "date": "2020-01-02", "guild": guild}),
        ("/api/coach-plans/coaches", {"guild": guild}),
        ("/api/coach-plans/outcome", {"coach": "d", "date": "2020-01-02", "guild": guild}),
        ("/api/coach-plans/scorecard", {"guild": guild}),
    ]


def test_a_keyed_guild_is_read_only_with_its_key_or_the_deployments(discord: Discord) -> None:
    post_with_chart(discord)
    post_with_chart(discord, OTHER_GUILD)
    client = discord.client
    path, params = reads(GUILD)[0]
    [chart] = client.get(path, params=params).json()["charts"]
    assert client.get(chart_path(chart["url"])).status_code == 200  # no key yet: as before

    key = new_key(discord)
    for path, params in reads(GUILD):
        refused = client.get(path, params=params)
        assert refused.status_code == 401 and refused.json()["error"] == "unauthorized", path
        for secret in ("2020-01-02", "d'", SECRET_NAME, GUILD):
            assert secret not in refused.json()["message"]
        assert client.get(path, params=params, headers=bearer(key)).status_code == 200, path
        # The key implies its guild.
        implied = {k: v for k, v in params.items() if k != "guild"}
        assert client.get(path, params=implied, headers=bearer(key)).status_code == 200, path
    # The pictures of its outcomes and record are behind the key too.
    pictures = [
        ("/api/coach-plans/outcome.png", {"coach": "d", "date": "2020-01-02", "guild": GUILD}),
        ("/api/coach-plans/scorecard.png", {"guild": GUILD}),
    ]
    for path, params in pictures:
        assert client.get(path, params=params).status_code == 401, path
    # It reads that guild alone; the other guild stays open to everyone.
    for path, params in reads(OTHER_GUILD):
        assert client.get(path, params=params, headers=bearer(key)).status_code == 401, path
        assert client.get(path, params=params).status_code == 200, path
    # Walking chart ids reads nothing of the keyed guild.
    walked = client.get(chart_path(chart["url"]))
    assert walked.status_code == 401 and SECRET_NAME not in walked.text
    served = client.get(chart_path(chart["url"]), headers=bearer(key))
    assert served.status_code == 200 and "private" in served.headers["cache-control"]

    # Revoked: the key reads nothing more.
    discord.command("setup", user=MANAGER, permissions=protocol.MANAGE_GUILD, api_key="revoke")
    path, params = reads(GUILD)[1]
    assert client.get(path, params=params, headers=bearer(key)).status_code == 401
    assert client.get(path, params=params).status_code == 200


def test_the_deployment_key_reads_every_guild_and_a_guild_key_passes_it(keyed: Discord) -> None:
    post_with_chart(keyed)
    post_with_chart(keyed, OTHER_GUILD)
    key = new_key(keyed)
    client = keyed.client
    path, params = reads(GUILD)[1]
    assert client.get(path, params=params).status_code == 401
    assert client.get(path, params=params, headers=bearer(DEPLOYMENT_KEY)).status_code == 200
    assert client.get(path, params=params, headers=bearer(key)).status_code == 200
    other_path, other = reads(OTHER_GUILD)[1]
    assert client.get(other_path, params=other, headers=bearer(key)).status_code == 401
    assert client.get(other_path, params=other, headers=bearer(DEPLOYMENT_KEY)).status_code == 200
    assert client.get("/metrics", headers=bearer(key)).status_code == 401  # the deployment's


def test_the_client_reads_the_roster_and_names_state_keys_after_it(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    engine = make_engine(settings.database_url)
    migrate(engine)
    community = CommunityService(
        SetupStore(engine), coaches=settings.coaches, timezone=settings.zone
    )
    manager = Actor(id=MANAGER["id"], name="admin")
    community.add_coach(GUILD, manager, "Big-Al", OTHER["id"], None)
    community.add_coach(GUILD, manager, "maria", OTHER["id"], None)
    community.set_timezone(GUILD, manager, "Pacific/Kiritimati")
    rules = PlanService(PlanRepository(engine), coaches=settings.coaches, timezone=settings.zone)
    plans = community.plans_for(rules, community.setup(GUILD), posting=True)
    author = Actor(id=OTHER["id"], name="al")
    plans.post("big-al", plans.today(), "Long above 950", author, place=Place(GUILD))
    with live_server(create_app(settings)) as base_url:
        with create_client(api_base_url=base_url, guild_id=GUILD) as client:
            roster = client.fetch_coaches()
            state = client.agent_state()  # today in Kiritimati, as the guild says

        async def read_async() -> dict[str, Any]:
            async with create_async_client(api_base_url=base_url, guild_id=GUILD) as client:
                return await client.agent_state()

        assert asyncio.run(read_async()) == state
    engine.dispose()
    assert roster["source"] == "roster" and roster["timezone"] == "Pacific/Kiritimati"
    assert [c["name"] for c in roster["coaches"]] == ["big-al", "maria"]
    assert state["coach_big_al_plan"] == "Long above 950"
    assert state["coach_maria_plan"].startswith("No plan from coach maria")
    assert all(key.isidentifier() for key in state) and "coach_d_plan" not in state

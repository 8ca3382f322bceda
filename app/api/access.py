"""Who may read which guild over REST. The deployment's API_KEY reads every guild; a guild's own
read key (`/setup api_key:new`) reads that guild alone (its `guild=` implied); a guild that has a
key is read with nothing else. A refusal is the same 401 whichever guild was asked about, so it
tells nothing of the guild, its coaches, dates or files."""

from __future__ import annotations

from starlette.requests import Request

from app.api.auth import EVERY, READER
from app.errors import PlanError
from app.runtime.resources import Services


class Unauthorized(PlanError):
    status = 401
    code = "unauthorized"


def refused() -> Unauthorized:
    return Unauthorized(
        "This read needs a key: send 'Authorization: Bearer <key>' with the deployment's "
        "API_KEY or the server's own read key (/setup api_key:new)."
    )


def guild_key(request: Request) -> str | None:
    """The guild read key the request carries, if it carries one."""
    reader = request.scope.get(READER)
    return reader if isinstance(reader, str) and reader != EVERY else None


async def key_guild(request: Request, services: Services, named: str | None) -> str | None:
    """With a guild read key, the guild it reads (a `guild=` naming another is refused);
    without one, None."""
    key = guild_key(request)
    if key is None:
        return None
    guild = await services.read(services.community.guild_of_key, key)
    if guild is None or named not in (None, guild):
        raise refused()
    return guild


def check(request: Request, guild_has_key: bool) -> None:
    """Refuses a read of a keyed guild with no key. API_KEY reads every guild; a guild key was
    matched to the guild read when it was looked up (key_guild)."""
    if guild_has_key and request.scope.get(READER) is None:
        raise refused()

"""Each guild's setup, read and changed: the roster, time zone, ping role and read key, every
change recorded with who made it, and the plan rules seen through a guild's setup (its coaches,
its "today").

Methods are synchronous (callers run them in worker threads). Nothing is cached: a guild's row
is read by its key on every request that needs it, so a change made through one instance
applies on every other at its next request.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from app.community import roster
from app.community.roster import KEY_PREFIX, Setup
from app.errors import StorageUnavailable
from app.plans.service import PlanService
from app.records import Actor
from app.storage.community import SetupChange, SetupStore, StoredSetup

_TRIES = 8  # compare-and-set rounds before giving up under a storm of concurrent changes


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _setup(stored: StoredSetup) -> Setup:
    coaches, retired = roster.roster_from_json(stored.roster)
    return Setup(
        guild_id=stored.guild_id,
        coaches=coaches,
        retired=retired,
        timezone=stored.timezone,
        ping_role=stored.ping_role,
        key_hash=stored.key_hash,
        version=stored.version,
        recap_channel=stored.recap_channel,
    )


class CommunityService:
    def __init__(
        self,
        store: SetupStore,
        *,
        coaches: Sequence[str],
        timezone: ZoneInfo,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.default_coaches = tuple(coaches)
        self.default_zone = timezone
        self.clock = clock or (lambda: datetime.now(UTC))

    def setup(self, guild: str) -> Setup:
        return _setup(self.store.load(guild))

    def plans_for(self, plans: PlanService, setup: Setup, *, posting: bool = False) -> PlanService:
        """The plan rules as this guild sees them: its roster's coaches (reads also accept
        removed coaches, whose plans stay readable) and its time zone."""
        retired = () if posting else setup.retired
        return plans.within(self.coach_names(setup), setup.zone(self.default_zone), retired)

    def coach_names(self, setup: Setup) -> tuple[str, ...]:
        return setup.names() if setup.has_roster else self.default_coaches

    # --- changes --------------------------------------------------------------------------------

    def add_coach(self, guild: str, actor: Actor, name: str, member: str | None,
                  role: str | None) -> Setup:  # fmt: skip
        name = roster.coach_name(name)
        return self._change(
            guild, actor, f"add coach {name}",
            lambda s, at: roster.add(s, name, member, role, actor.name, at),
        )  # fmt: skip

    def remove_coach(self, guild: str, actor: Actor, name: str, member: str | None,
                     role: str | None) -> Setup:  # fmt: skip
        name = roster.coach_name(name)
        return self._change(
            guild, actor, f"remove coach {name}" if member is None and role is None
            else f"unbind from coach {name}",
            lambda s, at: roster.remove(s, name, member, role, actor.name, at),
        )  # fmt: skip

    def set_timezone(self, guild: str, actor: Actor, zone: str) -> Setup:
        zone = roster.timezone(zone)
        return self._change(
            guild, actor, f"timezone {zone}", lambda s, _: replace(s, timezone=zone)
        )

    def set_ping_role(self, guild: str, actor: Actor, role: str | None) -> Setup:
        what = "clear ping role" if role is None else f"ping role {role}"
        return self._change(guild, actor, what, lambda s, _: replace(s, ping_role=role))

    def set_recap_channel(self, guild: str, actor: Actor, channel: str | None) -> Setup:
        what = "clear recap channel" if channel is None else f"recap channel {channel}"
        return self._change(guild, actor, what, lambda s, _: replace(s, recap_channel=channel))

    def new_key(self, guild: str, actor: Actor) -> tuple[Setup, str]:
        """A new read key for the guild (any earlier one stops working); only its hash is kept."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        hashed = key_hash(key)
        setup = self._change(guild, actor, "new read key", lambda s, _: replace(s, key_hash=hashed))
        return setup, key

    def revoke_key(self, guild: str, actor: Actor) -> Setup:
        return self._change(guild, actor, "revoke read key", lambda s, _: replace(s, key_hash=None))

    def guild_of_key(self, key: str) -> str | None:
        return self.store.guild_of_key(key_hash(key))

    def chart_guild(self, chart_id: int) -> tuple[str | None, bool]:
        """The guild a chart belongs to, and whether that guild has a read key."""
        return self.store.guild_of_chart(chart_id)

    def _change(
        self, guild: str, actor: Actor, what: str, change: Callable[[Setup, datetime], Setup]
    ) -> Setup:
        """Applies `change` to the guild's setup as it is now: a change another instance made
        meanwhile is read again and `change` re-applied, so none is lost or half-made."""
        for _ in range(_TRIES):
            stored = self.store.load(guild)
            before = _setup(stored)
            at = self.clock()
            after = change(before, at)
            new = StoredSetup(guild, after.timezone, after.ping_role, after.key_hash,
                              after.roster_json(), stored.version + 1, actor.name, at,
                              after.recap_channel)  # fmt: skip
            record = SetupChange(actor.id, actor.name, at, what, before.as_json(), after.as_json())
            if self.store.replace(stored, new, record):
                return replace(after, version=stored.version + 1)
        raise StorageUnavailable(
            "This server's setup is being changed by someone else right now; try again."
        )

"""A guild's setup as the rules see it: its coach roster (each coach bound to members and roles),
time zone, ping role and read key, and the pure changes made to it. Knows nothing of Discord,
HTTP or SQL; each refusal carries the sentence its user reads and how to do it right."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from app import text_rules
from app.errors import PlanError

NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
MAX_COACHES = 25  # as many as Discord's autocomplete shows at once
# Guild read keys start with this, so the API tells them from API_KEY before any lookup.
KEY_PREFIX = "cpg_"


class SetupError(PlanError):
    """A change of a guild's setup that cannot be made; nothing of it was made."""

    code = "bad_setup"


class NotAllowed(PlanError):
    """The caller may not do this in this guild."""

    status = 403
    code = "not_allowed"


@dataclass(frozen=True, slots=True)
class Coach:
    name: str
    members: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    changed_by: str | None = None
    changed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Setup:
    """A guild's own setup; `coaches` empty: no roster (COACHES, anyone posts)."""

    guild_id: str
    coaches: tuple[Coach, ...] = ()
    retired: tuple[str, ...] = ()  # coaches removed: their plans stay readable
    timezone: str | None = None
    ping_role: str | None = None
    key_hash: str | None = None
    version: int = 0
    recap_channel: str | None = None  # where the daily recap goes (with DISCORD_BOT_TOKEN)

    @property
    def has_roster(self) -> bool:
        return bool(self.coaches)

    def coach(self, name: str) -> Coach | None:
        wanted = name.strip().lower()
        return next((c for c in self.coaches if c.name == wanted), None)

    def names(self) -> tuple[str, ...]:
        return tuple(coach.name for coach in self.coaches)

    def zone(self, default: ZoneInfo) -> ZoneInfo:
        return ZoneInfo(self.timezone) if self.timezone else default

    def bound(self, coach: str, user_id: str, roles: Sequence[str]) -> bool:
        """Whether the member posts as `coach`: by user id or by one of their roles."""
        found = self.coach(coach)
        if found is None:
            return False
        return user_id in found.members or any(role in found.roles for role in roles)

    def roster_json(self) -> str:
        return json.dumps(
            {
                "coaches": [
                    {
                        "name": c.name,
                        "members": list(c.members),
                        "roles": list(c.roles),
                        "changed_by": c.changed_by,
                        "changed_at": None if c.changed_at is None else c.changed_at.isoformat(),
                    }
                    for c in self.coaches
                ],
                "retired": list(self.retired),
            }
        )

    def as_json(self) -> str:
        """What a change record keeps of the setup: everything but the key itself."""
        return json.dumps(
            {
                "timezone": self.timezone,
                "ping_role": self.ping_role,
                "read_key": "set" if self.key_hash else None,
                "recap_channel": self.recap_channel,
                "roster": json.loads(self.roster_json()),
            }
        )


def roster_from_json(text: str) -> tuple[tuple[Coach, ...], tuple[str, ...]]:
    data = json.loads(text)
    coaches = tuple(
        Coach(
            name=c["name"],
            members=tuple(c["members"]),
            roles=tuple(c["roles"]),
            changed_by=c.get("changed_by"),
            changed_at=None
            if c.get("changed_at") is None
            else datetime.fromisoformat(c["changed_at"]),
        )
        for c in data.get("coaches", [])
    )
    return coaches, tuple(data.get("retired", []))


# --- checks of input --------------------------------------------------------------------------


def coach_name(value: str | None) -> str:
    """1 to 32 letters, digits, - and _; kept in lower case, so names are unique ignoring case."""
    name = (value or "").strip()
    if not NAME.fullmatch(name):
        shown = text_rules.one_line(name, 40) or "(empty)"
        raise SetupError(
            f"{shown!r} cannot be a coach name: use 1 to 32 letters, digits, - or _ (no spaces), "
            "e.g. /coaches add name:alex member:@Alex."
        )
    return name.lower()


def snowflake(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    found = text_rules.snowflake(value)
    if found is None:
        raise SetupError(
            f"The {what} given is not a Discord id: pick the {what} from Discord's list."
        )
    return found


@functools.cache
def _zone_names() -> tuple[str, ...]:
    """The zone database's names, sorted: read from its files once (autocomplete asks at
    every keystroke, on the event loop)."""
    return tuple(sorted(available_timezones()))


def timezone(value: str) -> str:
    """An IANA zone name, as Python's zone database knows it."""
    name = value.strip()
    try:
        if name in _zone_names() or name == "UTC":
            ZoneInfo(name)
            return name
    except (ZoneInfoNotFoundError, ValueError):
        pass
    raise SetupError(
        f"{text_rules.one_line(name, 60)!r} is not a time zone: pick an IANA name from the "
        "list, e.g. /setup timezone:Europe/London."
    )


def zone_choices(typed: str, limit: int = 25) -> list[str]:
    """Zone names containing what was typed (ignoring case), those starting with it first."""
    wanted = typed.strip().lower()
    names = _zone_names()
    starting = [n for n in names if n.lower().startswith(wanted)]
    inside = [n for n in names if wanted in n.lower() and not n.lower().startswith(wanted)]
    return (starting + inside)[:limit]


# --- changes of the roster --------------------------------------------------------------------


def add(
    setup: Setup, name: str, member: str | None, role: str | None, by: str, at: datetime
) -> Setup:
    """Binds `member` and/or `role` to the coach, making the coach when it is new."""
    if member is None and role is None:
        raise SetupError(
            f"Say who posts as coach {name}: /coaches add name:{name} member:@someone "
            "and/or role:@some-role."
        )
    current = setup.coach(name)
    if current is None and len(setup.coaches) >= MAX_COACHES:
        raise SetupError(
            f"This server has {MAX_COACHES} coaches, the most it may have: remove one first "
            "with /coaches remove."
        )
    found = current or Coach(name)
    changed = replace(
        found,
        members=_with(found.members, member),
        roles=_with(found.roles, role),
        changed_by=by,
        changed_at=at,
    )
    coaches = [changed if c.name == name else c for c in setup.coaches]
    if current is None:
        coaches.append(changed)
    retired = tuple(n for n in setup.retired if n != name)
    return replace(setup, coaches=tuple(coaches), retired=retired)


def remove(
    setup: Setup, name: str, member: str | None, role: str | None, by: str, at: datetime
) -> Setup:
    """Takes a member or role off the coach; with neither, removes the coach (kept as retired,
    so its plans stay readable)."""
    current = setup.coach(name)
    if current is None:
        names = ", ".join(setup.names()) or "none yet"
        raise SetupError(
            f"There is no coach {name!r} on this server's roster (coaches: {names}); "
            "/coaches list shows them."
        )
    if member is None and role is None:
        coaches = tuple(c for c in setup.coaches if c.name != name)
        return replace(setup, coaches=coaches, retired=(*setup.retired, name))
    if (member is not None and member not in current.members) or (
        role is not None and role not in current.roles
    ):
        raise SetupError(
            f"That member or role does not post as coach {name}; /coaches list shows who does."
        )
    changed = replace(
        current,
        members=tuple(m for m in current.members if m != member),
        roles=tuple(r for r in current.roles if r != role),
        changed_by=by,
        changed_at=at,
    )
    return replace(setup, coaches=tuple(changed if c.name == name else c for c in setup.coaches))


def _with(ids: tuple[str, ...], new: str | None) -> tuple[str, ...]:
    return ids if new is None or new in ids else (*ids, new)


# --- who may ------------------------------------------------------------------------------------


def who_posts(coach: Coach) -> str:
    """Who may post as the coach, as mentions (the answer pings nobody)."""
    people = [f"<@{m}>" for m in coach.members] + [f"<@&{r}>" for r in coach.roles]
    return ", ".join(people) or "nobody yet"


def check_may_post(setup: Setup, coach: str, user_id: str, roles: Sequence[str]) -> None:
    """With a roster, only a member bound to the coach posts as it."""
    if not setup.has_roster or setup.bound(coach, user_id, roles):
        return
    found = setup.coach(coach)
    if found is None:
        return  # an unknown coach is refused by the plan rules, listing the roster
    raise NotAllowed(
        f"Only {who_posts(found)} may post as coach {found.name} on this server. A server "
        f"manager binds members with /coaches add name:{found.name} member:@you."
    )

"""What a refused user should type instead, and when: the slash-command syntax and Discord's
timestamp markup that the plan rules, which know nothing of Discord, leave out of their
messages."""

from __future__ import annotations

from app.errors import PlanError, PlanExists, PlanNotFound, QuotaExceeded


def refusal(exc: PlanError) -> str:
    """The refusal's message, with the command that does it right where there is one."""
    if isinstance(exc, PlanExists):
        day = exc.day.isoformat()
        return (
            f"{exc.message} Use /edit coach:{exc.coach} date:{day} to change it, "
            "or /delete it first."
        )
    if isinstance(exc, PlanNotFound) and exc.coach is not None and exc.day is not None:
        day = exc.day.isoformat()
        return f"{exc.message} Post one with /plan coach:{exc.coach} date:{day}."
    if isinstance(exc, QuotaExceeded):
        # Shown in the reader's own time zone and as "in 3 hours" by Discord.
        moment = int(exc.resets_at.timestamp())
        return f"{exc.message} That is <t:{moment}:R>, <t:{moment}:t> your time."
    return exc.message

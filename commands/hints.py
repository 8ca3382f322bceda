"""What a refused user should type instead: the slash-command syntax that the plan rules, which
know nothing of Discord, leave out of their messages."""

from __future__ import annotations

from app.errors import PlanError, PlanExists, PlanNotFound


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
    return exc.message

"""The `outcome` each plan's JSON carries, read for a whole answer in one query."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.outcomes.rules import Outcome
from app.records import Plan
from app.runtime.services import Services
from app.storage.outcomes import OutcomeStore


async def outcomes_of(
    services: Services, plans: Sequence[Plan], as_of: datetime | None = None
) -> dict[int, dict[str, Any] | None]:
    """Each plan's outcome JSON: as stored, else pending; None when grading is off and none is
    stored, or (as_of) when it was graded after that instant: a backtest sees no later result."""
    store = OutcomeStore(services.engine)
    stored = await services.read(store.of_plans, [plan.id for plan in plans]) if plans else {}
    grading = services.settings.price_source != "none"
    out: dict[int, dict[str, Any] | None] = {}
    for plan in plans:
        found: Outcome | None = stored.get(plan.id)
        graded_at = None if found is None else found.graded_at
        if as_of is not None and (graded_at is None or graded_at > as_of):
            found = None
        if found is not None:
            out[plan.id] = found.as_dict()
        else:
            out[plan.id] = pending(plan.id) if grading else None
    return out


def pending(plan_id: int) -> dict[str, Any]:
    return Outcome(plan_id, "pending").as_dict()

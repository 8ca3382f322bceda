"""The `outcome` each plan's JSON carries, read for a whole answer in one query, in the same
worker-thread call as the plans themselves (one hop off the event loop per read)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.outcomes.rules import Outcome
from app.records import Plan
from app.runtime.resources import Services

OutcomeJSON = dict[str, Any] | None


def outcome_json(
    services: Services, plans: Sequence[Plan], as_of: datetime | None = None
) -> dict[int, OutcomeJSON]:
    """Each plan's outcome JSON, read in one query (in the worker thread that read the plans)."""
    stored = services.outcomes.of_plans(plan.id for plan in plans) if plans else {}
    grading = services.settings.grading
    return {plan.id: as_json(plan.id, stored.get(plan.id), grading, as_of) for plan in plans}


def as_json(
    plan_id: int, found: Outcome | None, grading: bool, as_of: datetime | None
) -> OutcomeJSON:
    """As stored, else pending; None when grading is off and none is stored. With `as_of`, an
    outcome graded after that instant reads as pending: a backtest sees no later result."""
    graded_at = None if found is None else found.graded_at
    if as_of is not None and (graded_at is None or graded_at > as_of):
        found = None
    if found is not None:
        return found.as_dict()
    return pending(plan_id) if grading else None


def pending(plan_id: int) -> dict[str, Any]:
    return Outcome(plan_id, "pending").as_dict()

"""A separate process for storage tests: `python -m tests.support.plan_worker JOB URL ARG…`.

Jobs: `migrate`; `edit PREFIX COUNT` (edits coach d's plan of 2025-03-14 COUNT times);
`post COUNT` (posts plans one by one, printing each acknowledged coach/date line).
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from app.plans.service import PlanService
from app.records import Actor, Place
from app.storage.database import make_engine, migrate
from app.storage.repository import PlanRepository

GUILD = "290926798626357999"
HERE = Place(guild_id=GUILD)

AUTHOR = Actor(id="123456789012345678", name="coach d")
DAY = date(2025, 3, 14)


def main(job: str, url: str, *args: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    if job == "migrate":
        return
    plans = PlanService(
        PlanRepository(engine), coaches=["d", "i", "s", "n"], timezone=ZoneInfo("UTC")
    )
    if job == "edit":
        prefix, count = args[0], int(args[1])
        for n in range(count):
            plans.edit(GUILD, "d", DAY, AUTHOR, text=f"{prefix} {n}")
    elif job == "post":
        for n in range(int(args[0])):
            day = date(2000, 1, 1) + timedelta(days=n)
            plans.post("d", day, f"plan {n}", AUTHOR, place=HERE)
            print(day.isoformat(), flush=True)  # acknowledged: the commit has returned


if __name__ == "__main__":
    main(*sys.argv[1:])

"""Moving plans: `coach-plans export` and `coach-plans import` (the format `coach-plans/1`, and
the original gateway bot's SQLite database)."""

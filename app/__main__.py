"""`python -m app` is the same as the `coach-plans` command."""

from app.cli import main

raise SystemExit(main())

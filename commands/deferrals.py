"""How each command is answered while the service starts from zero.

A woken service listens before the rest of it and its storage are loaded (app/runtime/wake.py);
a command then gets a deferral (Discord's "thinking…") and its answer replaces it later.
"public" or "ephemeral": who sees that deferral (the answer usually has the same visibility).
None: the command may open a form, which cannot follow a deferral, so it waits instead. Plain
names, not the command modules: the wake front reads this before anything else of the service
is imported. tests/test_commands.py checks every command is listed.
"""

from __future__ import annotations

from typing import Literal

Visibility = Literal["public", "ephemeral"]

WHILE_WARMING: dict[str, Visibility | None] = {
    "plan": "public",  # the card everyone sees
    "edit": None,  # without its text option it opens the editor form
    "delete": "ephemeral",
    "plans": "ephemeral",
    "myplans": "ephemeral",
    "history": "ephemeral",
    "coaches": "ephemeral",
    "setup": "ephemeral",  # a new read key is shown to its maker only
    "outcome": "public",  # the card everyone sees
    "scorecard": "ephemeral",  # unless share:True (a warming deferral cannot know)
}

"""uvicorn's server, telling the app the moment it listens."""

from __future__ import annotations

import gc
import socket
from collections.abc import Callable

import uvicorn


class AnnouncingServer(uvicorn.Server):
    """Calls `listening` once the socket accepts connections: the warm-up starts then, not
    before (app/services.py, app/wake.py)."""

    def __init__(self, config: uvicorn.Config, listening: Callable[[], None]) -> None:
        super().__init__(config)
        self.listening = listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # The objects made while starting live as long as the process: the collector need not
        # look at them again (app/cli.py turned it off for the start).
        gc.freeze()
        gc.enable()
        self.listening()

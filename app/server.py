"""uvicorn's server, telling the app the moment it listens."""

from __future__ import annotations

import gc
import socket

import uvicorn


class AnnouncingServer(uvicorn.Server):
    """Sets the app's `runtime.listening` once the socket accepts connections: the storage
    warm-up starts then, not before (app/services.py)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # The objects made while starting live as long as the process: the collector need not
        # look at them again (app/cli.py turned it off for the start).
        gc.freeze()
        gc.enable()
        app = self.config.app
        runtime = getattr(getattr(app, "state", None), "runtime", None)
        if runtime is not None:
            runtime.listening.set()

"""The contract's default values that the service's settings and the Python client share.

Plain constants: the client imports this module, and it must import none of the service's
dependencies.
"""

from __future__ import annotations

COACHES = ("d", "i", "s", "n")
TIMEZONE = "America/New_York"
API_HOST = "0.0.0.0"
API_PORT = 5000
API_BASE_URL = f"http://localhost:{API_PORT}"
# Discord's API, version 10 (https://discord.com/developers/docs/reference#api-versioning).
DISCORD_API_BASE_URL = "https://discord.com/api/v10"
CACHE_TTL_SECONDS = 3600.0
MAX_CACHE_SIZE = 100
RECONNECT_ATTEMPTS = 5
RECONNECT_DELAY_SECONDS = 5.0
CONNECTION_TIMEOUT = 10.0

# How long and how large a request may be on its way in (app/runtime/server.py): plain
# constants here because a woken server listens before its settings are loaded
# (app/runtime/wake.py).
HEADER_TIMEOUT_SECONDS = 10.0
BODY_TIMEOUT_SECONDS = 20.0
MAX_HEADER_BYTES = 32 * 1024
MAX_CONNECTIONS = 1000
FORWARDED_ALLOW_IPS = "127.0.0.1,::1"  # uvicorn's default: this machine only

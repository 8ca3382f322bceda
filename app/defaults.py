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
CACHE_TTL_SECONDS = 3600.0
MAX_CACHE_SIZE = 100
RECONNECT_ATTEMPTS = 5
RECONNECT_DELAY_SECONDS = 5.0
CONNECTION_TIMEOUT = 10.0

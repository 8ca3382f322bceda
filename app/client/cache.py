"""The client's answer cache: fresh answers with a TTL and LRU eviction, plus last-known answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Final

from cachetools import LRUCache, TLRUCache

# Returned when a key is not cached; None is a real answer ("there is no plan").
MISSING: Final = object()


class AnswerCache:
    """Thread-safe. A plan lives `ttl` seconds, "no plan" only `absent_ttl` seconds.

    Every answer is also kept, without expiry, in a second bounded LRU: when the service is
    down, the last known answer is better than none (the caller flags it as stale).
    """

    def __init__(
        self,
        *,
        ttl: float,
        absent_ttl: float,
        maxsize: int,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._absent_ttl = absent_ttl
        # TLRUCache is TTLCache with a lifetime per item; eviction is still least recently used.
        self._fresh: TLRUCache[Hashable, object] = TLRUCache(maxsize, self._expires, timer=timer)
        self._last_known: LRUCache[Hashable, object] = LRUCache(maxsize)
        self._lock = threading.Lock()

    def _expires(self, key: Hashable, value: object, now: float) -> float:
        return now + (self._absent_ttl if value is None else self._ttl)

    def get(self, key: Hashable) -> object:
        with self._lock:
            return self._fresh.get(key, MISSING)

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._fresh[key] = value  # a zero lifetime stores nothing, which is what ttl=0 means
            self._last_known[key] = value

    def last_known(self, key: Hashable) -> object:
        with self._lock:
            return self._last_known.get(key, MISSING)

    def __len__(self) -> int:
        with self._lock:
            return len(self._fresh)

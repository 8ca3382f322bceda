"""A lease on a task that one process at a time should do, among every instance sharing the
database: a session advisory lock on PostgreSQL, a lock file beside SQLite's file.

Both are released by the operating system or the server when their holder dies, so a crashed
instance never keeps the task from the others.
"""

from __future__ import annotations

import fcntl
import threading
from typing import IO

from sqlalchemy import Connection, Engine, text

# Advisory lock keys are one bigint namespace per database; migrations use 4202611.
CHART_RETRIES = 4202612
GRADING = 4202613


class Lease:
    """`acquire()` never waits: False when another process holds the lease now."""

    def __init__(self, engine: Engine, key: int, name: str) -> None:
        self.engine = engine
        self.key = key
        self.name = name
        self._connection: Connection | None = None
        self._file: IO[bytes] | None = None
        self._held = threading.Lock()  # and only one task of this process

    def acquire(self) -> bool:
        if not self._held.acquire(blocking=False):
            return False
        try:
            taken = self._take()
        except BaseException:
            self._held.release()
            raise
        if not taken:
            self._held.release()
        return taken

    def release(self) -> None:
        try:
            if self._connection is not None:
                connection, self._connection = self._connection, None
                try:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                    connection.commit()
                finally:
                    connection.close()
            if self._file is not None:
                lock_file, self._file = self._file, None
                lock_file.close()  # closing releases the flock
        finally:
            self._held.release()

    def _take(self) -> bool:
        if self.engine.dialect.name == "postgresql":
            connection = self.engine.connect()
            try:
                query = text("SELECT pg_try_advisory_lock(:key)")
                taken = bool(connection.execute(query, {"key": self.key}).scalar())
                connection.commit()
            except BaseException:
                connection.close()
                raise
            if taken:
                self._connection = connection
            else:
                connection.close()
            return taken
        database = self.engine.url.database
        if not database or database == ":memory:":
            return True  # a private database: this process is the only one
        lock_file = open(f"{database}.{self.name}-lease", "a+b")  # noqa: SIM115 - held open
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            return False
        self._file = lock_file
        return True

"""Faults under a running service: a full or read-only disk, PostgreSQL restarting."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.plans import Actor
from app.settings import Settings
from app.web import create_app
from tests.postgres_server import PostgresServer

DAY = date(2025, 3, 14)
AUTHOR = Actor(id="123456789012345678", name="coach d")
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="mounting a small filesystem for the fault needs root"
)


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 4 MiB filesystem of its own, to fill up or turn read-only under the service."""
    folder = Path(tempfile.mkdtemp(prefix="coach-plans-disk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        folder.rmdir()


def on_disk(settings: Settings, folder: Path) -> Settings:
    return settings.model_copy(update={"database_url": f"sqlite:///{folder / 'plans.db'}"})


@needs_root
def test_a_full_disk_is_a_clear_error_and_recovers(settings: Settings, small_disk: Path) -> None:
    with TestClient(create_app(on_disk(settings, small_disk))) as client:
        plans = client.app_state["services"].plans
        plans.post("d", DAY, "Watch 950", AUTHOR)
        filler = small_disk / "filler"
        with open(filler, "wb") as file:  # take every byte left
            try:
                while True:
                    file.write(b"\0" * 65536)
                    file.flush()
            except OSError:
                pass
        with pytest.raises(Exception) as refused:
            for n in range(200):  # enough text to need new pages
                plans.edit("d", DAY, AUTHOR, text=f"edit {n} " + "x" * 3900)
        assert getattr(refused.value, "code", None) == "storage_unavailable"
        assert "nothing was saved" in refused.value.message  # type: ignore[attr-defined]
        filler.unlink()
        edited = plans.edit("d", DAY, AUTHOR, text="after the disk was freed")
        assert client.get("/api/coach-plans/?coach=d&date=2025-03-14").json()["plan"] == edited.text
        assert client.get("/health").status_code == 200


@needs_root
def test_a_read_only_disk_makes_health_503_until_it_is_writable(
    settings: Settings, small_disk: Path
) -> None:
    with TestClient(create_app(on_disk(settings, small_disk))) as client:
        plans = client.app_state["services"].plans
        plans.post("d", DAY, "Watch 950", AUTHOR)
        # A filesystem with files open for writing cannot turn read-only: close ours first.
        client.app_state["services"].engine.dispose()
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
        try:
            with pytest.raises(Exception) as refused:
                plans.edit("d", DAY, AUTHOR, text="cannot be saved")
            assert getattr(refused.value, "code", None) == "storage_unavailable"
            health = client.get("/health")
            assert health.status_code == 503
            assert health.json()["components"]["database"]["status"] == "down"
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
        assert client.get("/health").status_code == 200
        plans.edit("d", DAY, AUTHOR, text="saved again")
        assert plans.get("d", DAY).text == "saved again"


def test_postgresql_restarting_under_the_service_is_survived(settings: Settings) -> None:
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="coach-plans-pg-restart-")))
    server.init()
    server.start()
    try:
        pg = settings.model_copy(update={"database_url": server.new_database()})
        with TestClient(create_app(pg)) as client:
            client.app_state["services"].plans.post("d", DAY, "Watch 950", AUTHOR)
            read = "/api/coach-plans/?coach=d&date=2025-03-14"
            assert client.get(read).json()["plan"] == "Watch 950"
            server.stop()
            assert client.get("/health").status_code == 503
            down = client.get(read)
            assert down.status_code == 503
            assert down.json()["error"] == "storage_unavailable"
            server.start()
            assert client.get("/health").status_code == 200
            assert client.get(read).json()["plan"] == "Watch 950"
    finally:
        server.stop()

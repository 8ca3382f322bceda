"""Faults under a running service: a full or read-only disk, PostgreSQL restarting."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from starlette.testclient import TestClient

from app.records import Actor, Place
from app.runtime.web import create_app
from app.settings import Settings
from tests.support.discord_edge import discord_app, ephemeral_text
from tests.support.postgres_server import PostgresServer
from tests.support.waits import wait_until

GUILD = "290926798626357999"
HERE = Place(guild_id=GUILD)

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
def test_a_full_disk_is_a_clear_error_and_recovers(
    settings: Settings, signer: SigningKey, small_disk: Path
) -> None:
    with discord_app(on_disk(settings, small_disk), signer) as discord:
        discord.post_plan("d", "Watch 950", date="2025-03-14")
        filler = small_disk / "filler"
        with open(filler, "wb") as file:  # take every byte left
            try:
                while True:
                    file.write(b"\0" * 65536)
                    file.flush()
            except OSError:
                pass
        refusals = []
        for n in range(50):  # long texts need new pages soon
            answer = discord.command(
                "edit", coach="d", date="2025-03-14", text=f"{n} " + "x" * 3900
            )
            if answer["data"].get("flags") == 64:
                refusals.append(ephemeral_text(answer))
                break
        assert refusals and "nothing was saved" in refusals[0]
        assert "Traceback" not in refusals[0]
        health = discord.client.get("/health")
        assert health.status_code == 503
        assert health.json()["components"]["database"] == {"status": "down", "error": "DiskFull"}
        filler.unlink()
        saved = discord.command(
            "edit", coach="d", date="2025-03-14", text="after the disk was freed"
        )
        assert saved["data"].get("flags") != 64
        read = discord.client.get("/api/coach-plans/?coach=d&date=2025-03-14")
        assert read.json()["plan"] == "after the disk was freed"
        assert discord.client.get("/health").status_code == 200


@needs_root
def test_a_read_only_disk_makes_health_503_until_it_is_writable(
    settings: Settings, signer: SigningKey, small_disk: Path
) -> None:
    with discord_app(on_disk(settings, small_disk), signer) as discord:
        discord.post_plan("d", "Watch 950", date="2025-03-14")
        # A filesystem with files open for writing cannot turn read-only: close ours first,
        # again while a background pass (chart retries) still holds a connection.
        engine = discord.client.app_state["services"].engine
        remount = ["mount", "-o", "remount,ro", str(small_disk)]
        wait_until(
            lambda: engine.dispose() or subprocess.run(remount).returncode == 0,
            "the disk did not turn read-only",
        )
        try:
            answer = discord.command("edit", coach="d", date="2025-03-14", text="cannot be saved")
            assert "unavailable" in ephemeral_text(answer)
            health = discord.client.get("/health")
            assert health.status_code == 503
            assert health.json()["components"]["database"]["status"] == "down"
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
        assert discord.client.get("/health").status_code == 200
        saved = discord.command("edit", coach="d", date="2025-03-14", text="saved again")
        assert saved["data"].get("flags") != 64
        assert discord.client.get("/api/coach-plans/?coach=d&date=2025-03-14").json()["plan"] == (
            "saved again"
        )


def test_postgresql_restarting_under_the_service_is_survived(settings: Settings) -> None:
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="coach-plans-pg-restart-")))
    server.init()
    server.start()
    try:
        pg = settings.model_copy(update={"database_url": server.new_database()})
        with TestClient(create_app(pg)) as client:
            client.app_state["services"].plans.post("d", DAY, "Watch 950", AUTHOR, place=HERE)
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

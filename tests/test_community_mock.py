"""Setting up a server in mock mode, as the README walks a newcomer through it: a real
`coach-plans serve --mock` process, `coach-plans send --admin` to bind a coach, and the bound
member (by `--user`, or by `--roles`) posting as it while others are refused."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.service_process import BIN, running_service, service_env


class Session:
    def __init__(self, folder: Path, env: dict[str, str], base: str) -> None:
        self.folder, self.env, self.base = folder, env, base

    def send(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "coach-plans"), "send", *args, "--url", self.base],
            env=self.env,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    folder = tmp_path_factory.mktemp("mock-community")
    env = service_env(folder, MOCK_MODE="true")
    with running_service(folder, env) as (base, _):
        yield Session(folder, env, base)


def test_a_newcomer_sets_up_a_server_and_a_bound_coach_posts(session: Session) -> None:
    refused = session.send("/coaches add name:alex member:@bob", "--user", "ann")
    assert "Manage Server" in refused.stdout

    added = session.send("--admin", "--user", "ann", "/coaches add name:alex member:@bob")
    assert added.returncode == 0, added.stderr
    assert "Coach alex" in added.stdout
    session.send("--admin", "--user", "ann", "/coaches add name:maria role:@coaches")
    zone = session.send("--admin", "--user", "ann", "/setup timezone:Europe/London")
    assert "time zone: Europe/London" in zone.stdout

    by_bob = session.send("--user", "bob", '/plan coach:alex text:"Long above 950"')
    assert "Coach alex" in by_bob.stdout and "Long above 950" in by_bob.stdout
    by_eve = session.send("--user", "eve", '/plan coach:alex text:"Short"')
    assert "may post as coach alex" in by_eve.stdout
    by_role = session.send("--user", "eve", "--roles", "coaches", '/plan coach:maria text:"Flat"')
    assert "Coach maria" in by_role.stdout and "Flat" in by_role.stdout


def test_a_subcommand_is_asked_for_when_left_out(session: Session) -> None:
    done = session.send("--admin", "/coaches name:alex")
    assert done.returncode == 2 and "takes a subcommand first: add, remove, list" in done.stderr

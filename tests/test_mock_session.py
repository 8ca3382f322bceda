"""A whole session in mock mode, as a new user would try it: a real `coach-plans serve --mock`
process, and `coach-plans send` for every command, buttons and the modal included."""

from __future__ import annotations

import re
import shlex
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.service_process import BIN, running_service, service_env


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\xff\x00\x00" * 2 + b"\x00" + b"\x00\xff\x00" * 2)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


class Session:
    def __init__(self, folder: Path, env: dict[str, str], base: str) -> None:
        self.folder, self.env, self.base = folder, env, base

    def send(self, *args: str, user: str = "trader") -> str:
        done = subprocess.run(
            [str(BIN / "coach-plans"), "send", *args, "--user", user, "--url", self.base],
            env=self.env,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    folder = tmp_path_factory.mktemp("mock-session")
    env = service_env(folder, MOCK_MODE="true")
    (folder / "spy.png").write_bytes(tiny_png())
    with running_service(folder, env) as (base, _):
        yield Session(folder, env, base)


def custom_id(output: str, label: str) -> str:
    """The custom id printed beside a button, or under a modal."""
    if label == "modal":
        return re.search(r"--submit (\S+)", output).group(1)  # type: ignore[union-attr]
    return re.search(rf"\[{label}\] \(\w+; --click (\S+)\)", output).group(1)  # type: ignore[union-attr]


def test_a_whole_mock_session(session: Session) -> None:
    posted = session.send('/plan coach:d text:"Long above 950, stop 940"')
    assert "Long above 950, stop 940" in posted and "visible to everyone" in posted

    with_chart = session.send('/plan coach:i text:"Fade the gap" chart1:./spy.png')
    assert "Fade the gap" in with_chart
    # The chart is the message's own file, uploaded with it from the archive.
    assert f"[image] 1-spy.png ({len(tiny_png())} bytes) — spy.png" in with_chart
    shown_history = session.send("--click", custom_id(with_chart, "History"))
    assert "only you can see this" in shown_history
    assert "History of coach i's plan" in shown_history and "Fade the gap" in shown_history
    plan_i = httpx.get(f"{session.base}/api/coach-plans/?coach=i").json()
    [chart] = plan_i["charts"]
    image = httpx.get(chart["url"])
    assert (image.status_code, image.headers["content-type"]) == (200, "image/png")
    assert image.content == tiny_png()

    listed = session.send("/plans")
    assert "only you can see this" in listed
    assert "Long above 950" in listed and "Fade the gap" in listed
    assert "Fade the gap" in session.send("/myplans")
    assert "Long above 950" not in session.send("/myplans", user="bob")

    refused = session.send('/edit coach:d text:"not mine"', user="bob")
    assert "only you can see this" in refused and "Only trader" in refused

    edited = session.send('/edit coach:d text:"Long above 955 now"')
    assert "Long above 955 now" in edited and "visible to everyone" in edited

    modal = session.send("/edit coach:d")
    assert "modal:" in modal and "Long above 955 now" in modal
    saved = session.send("--submit", custom_id(modal, "modal"), 'text:"Edited in the modal"')
    assert "Edited in the modal" in saved and "visible to everyone" in saved

    history = session.send("/history coach:d")
    assert "only you can see this" in history
    assert history.index("Long above 955 now") < history.index("Long above 950, stop 940")

    asked = session.send("/delete coach:d")
    assert "[Confirm]" in asked and "[Cancel]" in asked
    kept = session.send("--click", custom_id(asked, "Cancel"))
    assert "nothing was deleted" in kept.lower()
    deleted = session.send("--click", custom_id(asked, "Confirm"))
    assert "message updated (seen by whoever saw it before)" in deleted
    assert "deleted" in deleted.lower()
    gone = httpx.get(f"{session.base}/api/coach-plans/?coach=d")
    assert gone.status_code == 404
    kept_history = session.send("/history coach:d")
    assert "Deleted by trader" in kept_history and "Edited in the modal" in kept_history
    # As Discord draws it: the mention as a name, the timestamp as a date and time.
    assert "Deleted by trader (@trader) on " in kept_history
    assert "<@" not in kept_history and "<t:" not in kept_history
    deletion = httpx.get(f"{session.base}/api/coach-plans/history?coach=d").json()["deleted"]
    assert (deletion["by"], deletion["plan_text"]) == ("trader", "Edited in the modal")

    health = httpx.get(f"{session.base}/health").json()
    assert health["components"]["discord"]["status"] == "mock"
    # The log says where the calls went: to the fake in the service, not to Discord.
    log = (session.folder / "logs" / "serve.log").read_text()
    assert "PATCH mock discord /webhooks/" in log and "GET mock discord /mock-cdn/" in log
    assert "discord.com" not in log


def test_the_modal_hint_runs_as_pasted_into_a_shell(session: Session) -> None:
    text = 'Don\'t chase "gaps" at $950\nstop 940 \\ 935'
    posted = session.send(f"/plan coach:s text:{shlex.quote(text)}", user="sam")
    assert "visible to everyone" in posted
    modal = session.send("/edit coach:s", user="sam")
    hint = modal.split("Save it with: ", 1)[1].rstrip("\n")
    # What a user does: paste the line into a POSIX shell, here with an edited text.
    pasted = hint.replace("stop 940", "stop 941", 1)
    done = subprocess.run(
        ["/bin/sh", "-c", pasted],
        env=session.env,
        cwd=session.folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "visible to everyone" in done.stdout
    saved = httpx.get(f"{session.base}/api/coach-plans/?coach=s").json()
    assert saved["plan"] == text.replace("stop 940", "stop 941")


def test_send_into_a_reader_that_leaves_early_prints_no_traceback(session: Session) -> None:
    # As `coach-plans send '/plans' | head -1` does once head has its line.
    proc = subprocess.Popen(
        [str(BIN / "coach-plans"), "send", "/plans", "--url", session.base],
        env=session.env,
        cwd=session.folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the answer is printed
    with proc.stderr:
        errors = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, errors
    assert errors == ""

"""The README's walkthrough of pictures in mock mode: the sample plans and CSV prices that ship
with the project, a real `coach-plans serve --mock`, and `coach-plans send` saving each picture
of an answer to a file a newcomer can open."""

from __future__ import annotations

import io
import re
import subprocess
import time
from pathlib import Path

import httpx
from PIL import Image

from tests.support.service_process import BIN, ROOT, running_service, service_env

SAMPLE = ROOT / "examples" / "sample"
MOCK_GUILD = "100000000000000001"  # the guild `coach-plans send` speaks from


def run(folder: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "coach-plans"), *args], env=env, cwd=folder, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def saved_picture(folder: Path, output: str) -> Path:
    """The one file `send` says it saved: a PNG a person can read."""
    [path] = re.findall(r"^saved (\S+)$", output, re.MULTILINE)
    body = (folder / path).read_bytes()
    image = Image.open(io.BytesIO(body))
    assert image.format == "PNG" and image.width >= 1000 and len(body) < 1_000_000
    return Path(path)


def test_send_saves_the_pictures_of_the_sample_walkthrough(tmp_path: Path) -> None:
    env = service_env(tmp_path, MOCK_MODE="true", PRICE_SOURCE=f"csv:{SAMPLE / 'prices'}")
    assert "2 imported" in run(
        tmp_path, env, "import", str(SAMPLE / "plans.jsonl"), "--guild", MOCK_GUILD
    )
    with running_service(tmp_path, env) as (base, _):
        deadline = time.monotonic() + 60  # the start's grading pass runs in the background
        while time.monotonic() < deadline:
            read = httpx.get(f"{base}/api/coach-plans/outcome?coach=i&date=2026-12-04").json()
            if read["status"] != "pending":
                break
            time.sleep(0.1)
        shown = run(tmp_path, env, "send", "--url", base, "/outcome coach:d date:2026-12-04")
        assert "Target hit (2 targets), +2.60R" in shown
        assert saved_picture(tmp_path, shown) == Path("data/send/outcome-d-2026-12-04.png")
        card = run(tmp_path, env, "send", "--url", base, "--save", "pics", "/scorecard days:365")
        assert "**i**: 1 graded · 0 won · 1 lost" in card
        assert saved_picture(tmp_path, card) == Path("pics/scorecard-365d.png")

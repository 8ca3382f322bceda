"""The layout stays readable: no module of the service grows past 500 lines (migrations aside).
A module is split when it holds two things; this cap only catches one that grew unnoticed."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_module_fits_on_a_few_screens() -> None:
    sources = [*ROOT.glob("app/**/*.py"), *ROOT.glob("commands/**/*.py")]
    long = {
        str(path.relative_to(ROOT)): lines
        for path in sources
        if "migrations" not in path.parts
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert sources and long == {}

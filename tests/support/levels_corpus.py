"""The golden corpus of plan texts (tests/fixtures/levels_corpus.json) and the extractor's score
on it: per field, right, missed (nothing said) or wrong (something else said)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.plans.extraction import extract

CORPUS = Path(__file__).parent.parent / "fixtures" / "levels_corpus.json"
FIELDS = ("tickers", "bias", "entry", "stop", "targets")


def cases() -> list[dict[str, Any]]:
    return list(json.loads(CORPUS.read_text())["cases"])


@dataclass
class Score:
    right: int = 0
    missed: int = 0
    wrong: int = 0
    plans_exact: int = 0
    plans: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def fields(self) -> int:
        return self.right + self.missed + self.wrong

    def line(self) -> str:
        return (
            f"levels extractor: {self.right}/{self.fields} fields right "
            f"({100 * self.right / self.fields:.1f}%), {self.missed} missed, {self.wrong} wrong; "
            f"{self.plans_exact}/{self.plans} plans exact"
        )


def score() -> Score:
    result = Score()
    for case in cases():
        found = extract(case["text"]).as_dict()
        exact = True
        for name in FIELDS:
            expected, got = case["expected"][name], found[name]
            if got == expected:
                result.right += 1
                continue
            exact = False
            if got in (None, []):
                result.missed += 1
            else:
                result.wrong += 1
            result.misses.append(f"{case['text'][:50]!r}: {name} {got!r}, expected {expected!r}")
        result.plans += 1
        result.plans_exact += exact
    return result

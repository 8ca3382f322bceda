"""The one retry loop (app/retry.py), blocking and async, on time the tests set: how many tries a
call gets, how long it waits between them, that a server's Retry-After is kept, that a failure
for good is never retried, and that a call gives up before its deadline would pass. Then the
deferred answer's edit to Discord, which runs on it, with Discord faked at its HTTP edge."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.discord.rest import Webhook
from app.retry import MAX_DELAY_SECONDS, Again, Backoff, GaveUp, Retry
from tests.support.retry_time import SetTime

T = TypeVar("T")

MODES = pytest.mark.parametrize("mode", ["blocking", "async"])


def call(
    mode: str, backoff: Backoff, one_try: Callable[[], T], on_retry: Callable[[Retry], None] | None
) -> T:
    """One call through the blocking loop, or through the async one."""
    if mode == "blocking":
        return backoff.run(one_try, on_retry)

    async def once() -> T:
        return one_try()

    return anyio.run(backoff.run_async, once, on_retry)


class Failing:
    """A try that fails `passing` times in a way that may pass, then answers."""

    def __init__(self, clock: SetTime, passing: int, cost: float = 0.0) -> None:
        self.clock, self.passing, self.cost = clock, passing, cost
        self.tries = 0

    def __call__(self) -> str:
        self.tries += 1
        self.clock.advance(self.cost)
        if self.tries <= self.passing:
            raise Again(f"HTTP 503 (try {self.tries})")
        return "answer"


@MODES
@given(retries=st.integers(0, 8), passing=st.integers(0, 12), base=st.floats(0.001, 30))
def test_a_call_is_tried_until_it_answers_or_its_retries_run_out(
    mode: str, retries: int, passing: int, base: float
) -> None:
    clock = SetTime()
    backoff = Backoff(retries, base, time=clock.retry_time)
    one_try, seen = Failing(clock, passing), list[Retry]()
    if passing <= retries:
        assert call(mode, backoff, one_try, seen.append) == "answer"
        assert one_try.tries == passing + 1
    else:
        with pytest.raises(GaveUp) as gave_up:
            call(mode, backoff, one_try, seen.append)
        assert one_try.tries == gave_up.value.tries == retries + 1
        assert gave_up.value.last.why == f"HTTP 503 (try {retries + 1})"
        assert gave_up.value.deadline is None
    # A wait between two tries, never after the last; each announced before it is slept.
    assert clock.waits == [retry.wait for retry in seen]
    assert [retry.number for retry in seen] == list(range(1, len(clock.waits) + 1))
    assert all(retry.retries == retries for retry in seen)
    assert [retry.why for retry in seen] == [f"HTTP 503 (try {n})" for n in range(1, len(seen) + 1)]


@MODES
@given(retries=st.integers(1, 10), base=st.floats(0.001, 100), jitter=st.floats(0, 1))
def test_waits_double_from_the_base_delay_half_of_each_jittered_and_never_past_a_minute(
    mode: str, retries: int, base: float, jitter: float
) -> None:
    clock = SetTime()
    backoff = Backoff(retries, base, jitter=lambda: jitter, time=clock.retry_time)
    with pytest.raises(GaveUp):
        call(mode, backoff, Failing(clock, passing=retries + 1), None)
    assert len(clock.waits) == retries
    for n, wait in enumerate(clock.waits):
        ceiling = min(MAX_DELAY_SECONDS, base * 2**n)
        assert wait == pytest.approx(ceiling / 2 + jitter * ceiling / 2)
        assert ceiling / 2 <= wait <= ceiling


def limited(asked: float, status: int, where: str) -> httpx.Response:
    """A refusal that says how long to wait: Discord's JSON body, or HTTP's header."""
    if where == "body":
        return httpx.Response(
            status, json={"message": "You are being rate limited.", "retry_after": asked}
        )
    return httpx.Response(status, headers={"Retry-After": repr(asked)})


@MODES
@given(
    asked=st.floats(0, 3600),
    status=st.sampled_from([429, 503]),
    where=st.sampled_from(["body", "header"]),
)
def test_a_server_that_says_how_long_to_wait_is_waited_that_long_up_to_a_minute(
    mode: str, asked: float, status: int, where: str
) -> None:
    if where == "body" and status != 429:
        where = "header"  # Discord's body field belongs to its 429s
    clock = SetTime()
    backoff = Backoff(3, base_delay=5.0, time=clock.retry_time)
    answers = [limited(asked, status, where)]

    def one_try() -> str:
        if answers:
            raise Again(f"HTTP {status}", answers.pop())
        return "answer"

    assert call(mode, backoff, one_try, None) == "answer"
    assert clock.waits == [min(asked, MAX_DELAY_SECONDS)]


@MODES
@given(passing=st.integers(0, 4))
def test_a_failure_for_good_ends_the_call_at_once(mode: str, passing: int) -> None:
    clock = SetTime()
    backoff = Backoff(10, 1.0, time=clock.retry_time)
    tries = []

    def one_try() -> str:
        tries.append(clock.now)
        if len(tries) <= passing:
            raise Again("ConnectError")
        raise PermissionError("HTTP 403: refused")

    with pytest.raises(PermissionError, match="HTTP 403"):
        call(mode, backoff, one_try, None)
    assert len(tries) == passing + 1
    assert len(clock.waits) == passing


@MODES
@given(
    deadline=st.floats(0.5, 120),
    try_share=st.floats(0, 1),
    cost_share=st.floats(0, 1),
    base=st.floats(0.01, 10),
)
def test_a_call_gives_up_before_its_deadline_would_pass_and_not_sooner(
    mode: str, deadline: float, try_share: float, cost_share: float, base: float
) -> None:
    try_seconds = deadline * try_share  # the longest one try may take
    clock = SetTime()
    backoff = Backoff(
        1000,
        base,
        jitter=lambda: 1.0,
        deadline=deadline,
        try_seconds=try_seconds,
        time=clock.retry_time,
    )
    one_try = Failing(clock, passing=10_000, cost=try_seconds * cost_share)
    with pytest.raises(GaveUp) as gave_up:
        call(mode, backoff, one_try, None)
    assert gave_up.value.deadline == deadline and gave_up.value.tries == one_try.tries
    assert clock.now <= deadline, "the call outlasted its deadline"
    # Not sooner: one more wait and a whole try would have ended past the deadline.
    next_wait = min(MAX_DELAY_SECONDS, base * 2 ** (one_try.tries - 1))
    assert gave_up.value.elapsed == clock.now
    assert clock.now + next_wait + try_seconds > deadline


# --- the deferred answer's edit to Discord ------------------------------------------------------


class DiscordWebhook:
    """Discord's webhook endpoint at the HTTP edge: answers each PATCH from `answers`, then 200."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.patches = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.patches += 1
        if self.answers:
            return self.answers.pop(0)
        return httpx.Response(200, json={"id": "1", "content": "edited"})


def edit(discord: DiscordWebhook, clock: SetTime, retries: int = 2) -> bool:
    async def run() -> bool:
        async with httpx.AsyncClient(transport=httpx.MockTransport(discord)) as http:
            backoff = Backoff(retries, 1.0, time=clock.retry_time)
            webhook = Webhook(http, "https://discord.test/api/v10", backoff, "123")
            return await webhook.edit_original("123", "token", {"content": "the plan"})

    return anyio.run(run)


def test_the_edit_waits_out_discords_rate_limit_for_as_long_as_discord_asks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "coach_plans")
    discord, clock = DiscordWebhook(limited(7.5, 429, "body")), SetTime()
    assert edit(discord, clock) is True
    assert discord.patches == 2 and clock.waits == [7.5]
    assert "PATCH of a deferred answer failed (HTTP 429); retry 1 in 7.5s" in caplog.text


def test_the_edit_is_retried_while_discord_has_not_seen_the_deferral_then_given_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    unknown = httpx.Response(404, json={"message": "Unknown Webhook", "code": 10015})
    discord, clock = DiscordWebhook(*[unknown] * 5), SetTime()
    assert edit(discord, clock, retries=2) is False
    assert discord.patches == 3 and len(clock.waits) == 2
    assert "gave up the PATCH of a deferred answer after 3 attempts" in caplog.text


def test_the_edit_discord_refuses_is_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    refused: dict[str, Any] = {"message": "Missing Access", "code": 50001}
    discord, clock = DiscordWebhook(httpx.Response(403, json=refused)), SetTime()
    assert edit(discord, clock) is False
    assert discord.patches == 1 and clock.waits == []
    assert "Discord refused the PATCH of a deferred answer" in caplog.text

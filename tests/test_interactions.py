"""POST /interactions: signature, replay, size and JSON checks, PING, duplicate deliveries,
ALLOWED_GUILD_IDS, guild and DM payloads, and random signed payloads that must never crash it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from app.settings import Settings
from tests.support.discord_edge import (
    AUTHOR,
    CARD,
    GUILD,
    Discord,
    autocomplete_data,
    command_data,
    discord_app,
    dm_interaction,
    ephemeral_text,
    fast_settings,
    guild_interaction,
)
from tests.support.discord_schema import check_response


def plans_of_day(discord: Discord) -> list[dict[str, object]]:
    plans: list[dict[str, object]] = discord.client.get("/api/coach-plans/all").json()["plans"]
    return plans


def assert_json_error(response: object, status: int) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error", "message", "request_id"}
    assert body["message"] and body["request_id"]
    assert "Traceback" not in response.text  # type: ignore[attr-defined]


def test_signed_ping_is_answered_with_pong(discord: Discord) -> None:
    assert discord.send({"type": 1, "id": "1", "application_id": "2", "token": "t"}) == {"type": 1}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Signature-Timestamp": "1700000000"},
        {"X-Signature-Ed25519": "ab" * 64},
        {"X-Signature-Ed25519": "not-hex", "X-Signature-Timestamp": "1700000000"},
        {"X-Signature-Ed25519": "ab" * 10, "X-Signature-Timestamp": "1700000000"},
    ],
    ids=["no headers", "no signature", "no timestamp", "bad hex", "short signature"],
)
def test_missing_or_malformed_signature_is_401(discord: Discord, headers: dict[str, str]) -> None:
    response = discord.client.post("/interactions", content=b'{"type":1}', headers=headers)
    assert_json_error(response, 401)


def test_signature_by_another_key_is_401(discord: Discord) -> None:
    assert_json_error(discord.raw(b'{"type":1}', key=SigningKey.generate()), 401)


def test_changed_body_or_timestamp_is_401(discord: Discord) -> None:
    timestamp = str(int(time.time()))
    signed = discord.raw(b'{"type":1}', timestamp=timestamp).request
    signature = signed.headers["x-signature-ed25519"]
    changed_body = discord.client.post(
        "/interactions",
        content=b'{"type":1 }',
        headers={"X-Signature-Ed25519": signature, "X-Signature-Timestamp": timestamp},
    )
    assert_json_error(changed_body, 401)
    changed_time = discord.client.post(
        "/interactions",
        content=b'{"type":1}',
        headers={
            "X-Signature-Ed25519": signature,
            "X-Signature-Timestamp": str(int(timestamp) + 1),
        },
    )
    assert_json_error(changed_time, 401)


@pytest.mark.parametrize("offset", [-301, 400, -86400])
def test_timestamp_more_than_five_minutes_away_is_401(discord: Discord, offset: int) -> None:
    response = discord.raw(b'{"type":1}', timestamp=str(int(time.time()) + offset))
    assert_json_error(response, 401)
    assert "5 minutes" in response.json()["message"]


def test_timestamp_within_five_minutes_is_accepted(discord: Discord) -> None:
    response = discord.raw(b'{"type":1}', timestamp=str(int(time.time()) - 200))
    assert response.json() == {"type": 1}


def test_body_over_one_mebibyte_is_413(discord: Discord) -> None:
    big = b'{"type":1,"pad":"' + b"x" * (1024 * 1024) + b'"}'
    assert_json_error(discord.raw(big), 413)


def test_streamed_body_over_one_mebibyte_is_413(discord: Discord) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    response = discord.client.post(
        "/interactions",
        content=chunks(),
        headers={"X-Signature-Ed25519": "ab" * 64, "X-Signature-Timestamp": "1"},
    )
    assert_json_error(response, 413)


def test_other_methods_on_the_endpoint_are_405_naming_post(discord: Discord) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = discord.client.request(method, "/interactions")
        assert_json_error(response, 405)
        assert response.headers["allow"] == "POST"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"", b'{"type": 99}'])
def test_signed_but_malformed_json_is_400(discord: Discord, body: bytes) -> None:
    assert_json_error(discord.raw(body), 400)


def test_the_same_interaction_delivered_twice_is_executed_once(discord: Discord) -> None:
    payload = guild_interaction(2, command_data("plan", coach="d", text="Long above 950"))
    first = discord.send(payload)
    assert first["type"] == 4 and first["data"].get("flags") == CARD
    again = discord.send(payload)
    assert "already handled" in ephemeral_text(again)
    assert len(plans_of_day(discord)) == 1


def test_an_edit_delivered_to_two_workers_is_executed_once(
    settings: Settings, signer: SigningKey
) -> None:
    # Two app instances on one database stand for two workers (or two machines): each has its
    # own memory of recent ids, so only the database can tell that the second is a repeat.
    with (
        discord_app(fast_settings(settings), signer) as one,
        discord_app(fast_settings(settings), signer) as two,
    ):
        one.post_plan("d", "v1")
        payload = guild_interaction(2, command_data("edit", coach="d", text="v2"))
        assert one.send(payload)["data"].get("flags") == CARD
        assert "already carried out" in ephemeral_text(two.send(payload))
        history = one.client.get("/api/coach-plans/history?coach=d").json()["history"]
    assert [entry["plan_text"] for entry in history] == ["v1"]


def test_guild_member_payload_takes_the_user_from_member(discord: Discord) -> None:
    discord.command("plan", coach="d", text="Long above 950")
    [plan] = plans_of_day(discord)
    assert (plan["author"], plan["author_id"]) == ("Mason", AUTHOR["id"])
    assert (plan["guild_id"], plan["channel"]) == (GUILD, "trading-plans")


@pytest.mark.parametrize("name", ["plan", "myplans", "plans", "history", "edit", "delete"])
def test_a_command_from_a_dm_is_refused_and_changes_nothing(discord: Discord, name: str) -> None:
    discord.command("plan", coach="d", text="Long above 950")
    options: dict[str, Any] = (
        {"coach": "d", "text": "From a DM"} if name in ("plan", "edit") else {"coach": "d"}
    )
    answer = discord.send(dm_interaction(2, command_data(name, **options)))
    assert "only inside a server" in ephemeral_text(answer)
    [plan] = plans_of_day(discord)
    assert plan["plan"] == "Long above 950"


def test_unknown_command_gets_an_ephemeral_hint(discord: Discord) -> None:
    answer = discord.command("frobnicate")
    assert "Type / to see" in ephemeral_text(answer)


def test_interactions_are_counted_by_command(discord: Discord) -> None:
    discord.send({"type": 1})
    discord.command("plans")
    discord.command("plans")
    counted = discord.client.get("/metrics").json()["interactions"]["by_command"]
    assert counted["plans"] == 2 and counted["ping"] == 1


# --- ALLOWED_GUILD_IDS ---------------------------------------------------------------------------


@pytest.fixture
def guarded(settings: Settings, signer: SigningKey) -> Iterator[Discord]:
    with discord_app(fast_settings(settings, allowed_guild_ids=[GUILD]), signer) as app:
        yield app


def test_other_guild_is_refused_and_nothing_changes(guarded: Discord) -> None:
    payload = guild_interaction(
        2, command_data("plan", coach="d", text="x"), guild_id="999999999999999999"
    )
    answer = guarded.send(payload)
    assert "not enabled in this server" in ephemeral_text(answer)
    assert plans_of_day(guarded) == []


def test_dm_is_refused_when_guilds_are_limited(guarded: Discord) -> None:
    answer = guarded.send(dm_interaction(2, command_data("plan", coach="d", text="x")))
    assert "only inside a server" in ephemeral_text(answer)
    assert plans_of_day(guarded) == []


def test_other_guild_autocomplete_gets_no_choices(guarded: Discord) -> None:
    guarded.command("plan", coach="d", text="x")
    payload = guild_interaction(
        4, autocomplete_data("edit", "", coach="d"), guild_id="999999999999999999"
    )
    assert guarded.send(payload) == {"type": 8, "data": {"choices": []}}


def test_allowed_guild_is_served(guarded: Discord) -> None:
    assert guarded.command("plan", coach="d", text="x")["type"] == 4
    assert len(plans_of_day(guarded)) == 1


# --- whatever is signed, the answer is never a crash ---------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_names = st.sampled_from(["plan", "edit", "delete", "plans", "myplans", "history", "x", ""])
_option = st.fixed_dictionaries(
    {"name": st.sampled_from(["coach", "date", "text", "chart1"]) | st.text(max_size=6)},
    optional={"value": _json_values, "type": _json_values, "focused": st.booleans()},
)
_data = st.fixed_dictionaries(
    {},
    optional={
        "name": _names,
        "options": st.lists(_option, max_size=4) | _json_values,
        "custom_id": st.sampled_from(["delete:yes:1:1", "edit:1:1", "delete:no:x:1"])
        | st.text(max_size=120),
        "resolved": _json_values,
        "components": _json_values,
    },
)
_interactions = st.fixed_dictionaries(
    {"type": st.sampled_from([1, 2, 3, 4, 5]) | _json_values},
    optional={
        "id": st.text(max_size=20) | st.integers(),
        "token": _json_values,
        "data": _data | _json_values,
        "member": _json_values
        | st.fixed_dictionaries({"user": _json_values, "permissions": _json_values}),
        "user": _json_values,
        "guild_id": _json_values,
        "message": _json_values,
    },
)


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=_interactions | _json_values)
def test_random_signed_payloads_never_crash(discord: Discord, payload: object) -> None:
    response = discord.raw(json.dumps(payload).encode())
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text and 'File "' not in response.text
    if response.status_code == 200:
        check_response(response.json())
    else:
        assert_json_error(response, response.status_code)

"""Whatever a client sends, the answer is never a 5xx and the service keeps answering: signed
interactions and read API requests, hand-picked and generated (deep nesting, huge numbers, wrong
types, hostile unicode)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.support.discord_edge import (
    CDN,
    Discord,
    attachment,
    command_data,
    guild_interaction,
    png,
)


def assert_json_error(response: Any, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message", "request_id"}
    if code is not None:
        assert body["error"] == code, body


def assert_still_answers(discord: Discord) -> None:
    assert discord.raw(b'{"type":1}').json() == {"type": 1}


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


# --- the defects, one by one ---------------------------------------------------------------------


@pytest.mark.parametrize("chart_id", ["²", "¹²", "٣", "\uff18", "-1", "+1", " 1", "1e3"])
def test_a_chart_id_that_is_not_plain_ascii_digits_is_404(discord: Discord, chart_id: str) -> None:
    response = discord.client.get(f"/charts/{quote(chart_id)}")
    assert_json_error(response, 404, "chart_not_found")
    assert_still_answers(discord)


def test_a_signed_timestamp_of_310_digits_is_401(discord: Discord) -> None:
    response = discord.raw(b'{"type":1}', timestamp="9" * 310)
    assert_json_error(response, 401, "invalid_signature")
    assert "not a Unix time" in response.json()["message"]
    assert_still_answers(discord)


@pytest.mark.parametrize("shape", ["+{}", "0{}", "{}.0", "{}_0", " {}"])
def test_a_signed_timestamp_that_is_not_plain_digits_is_401(discord: Discord, shape: str) -> None:
    response = discord.raw(b'{"type":1}', timestamp=shape.format(int(time.time())))
    assert_json_error(response, 401, "invalid_signature")


def test_a_signed_json_body_nested_1000_deep_is_400(discord: Discord) -> None:
    response = discord.raw(f'{{"type": 2, "data": {nested(1000)}}}'.encode())
    assert_json_error(response, 400, "bad_json")
    assert "nested too deeply" in response.json()["message"]
    assert_still_answers(discord)


def test_a_signed_json_body_with_a_lone_surrogate_is_400(discord: Discord) -> None:
    # Such a string can be neither stored nor sent back in a UTF-8 answer.
    payload = guild_interaction(2, command_data("plan", coach="d", text="Long \ud800 950"))
    assert_json_error(discord.raw(json.dumps(payload).encode()), 400, "bad_json")
    assert discord.client.get("/api/coach-plans/all").json()["count"] == 0


def test_surrogate_pairs_written_as_escapes_are_ordinary_text(discord: Discord) -> None:
    payload = guild_interaction(2, command_data("plan", coach="d", text="Long 950 \U0001f680"))
    assert discord.raw(json.dumps(payload).encode()).status_code == 200  # ensure_ascii escapes
    assert discord.client.get("/api/coach-plans?coach=d").json()["plan"] == "Long 950 \U0001f680"


def test_a_nested_value_where_an_id_or_type_belongs_is_answered(discord: Discord) -> None:
    deep = nested(400)
    for field in ("id", "application_id", "type"):
        body = f'{{"type": 2, "data": {{"name": "plans"}}, "{field}": {deep}}}'
        assert discord.raw(body.encode()).status_code < 500
    assert_still_answers(discord)


def test_a_content_length_of_thousands_of_digits_is_413(discord: Discord) -> None:
    headers = {"Content-Length": "9" * 5000, "X-Signature-Timestamp": "1"}
    response = discord.client.post("/interactions", content=b"{}", headers=headers)
    assert_json_error(response, 413)


# --- generated signed interactions ---------------------------------------------------------------

_TRICKY = (
    "\x00\x01\x1b\x7f\x85\n\r\t \u00a0\u200b\u200c\u200d\u2060\ufeff\u202e\u2028²\uff18٣é\U0001f680"
)
_unicode = st.text(
    st.sampled_from(_TRICKY) | st.characters(exclude_categories=()),  # surrogates too
    max_size=30,
)
# Numbers as JSON text: past float range, past Python's 4300-digit int limit, and exotic forms.
_raw_numbers = st.sampled_from(["1e999", "-1e999", "-0", "1E-400", "NaN", "Infinity"]) | st.builds(
    lambda digits, sign: sign + "9" * digits, st.integers(1, 6000), st.sampled_from(["", "-"])
)
_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**80), 2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _unicode
)
_json = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_unicode, inner, max_size=3),
    max_leaves=8,
)
# Raw JSON text for one field: a generated value, a number as text, or deep nesting.
_raw_values = (
    _json.map(json.dumps)
    | _raw_numbers
    | st.builds(nested, st.integers(1, 3000), _raw_numbers | st.just("{}"))
)
# Where in a realistic interaction the generated value goes.
_PATHS = [
    ("type",),
    ("id",),
    ("token",),
    ("application_id",),
    ("guild_id",),
    ("channel_id",),
    ("channel",),
    ("channel", "name"),
    ("member",),
    ("member", "permissions"),
    ("member", "nick"),
    ("member", "user"),
    ("member", "user", "id"),
    ("member", "user", "global_name"),
    ("data",),
    ("data", "name"),
    ("data", "options"),
    ("data", "options", 0, "value"),
    ("data", "options", 1, "value"),
    ("data", "options", 1, "name"),
    ("data", "resolved"),
    ("data", "resolved", "attachments"),
]


def _interaction(name: str, text: str) -> dict[str, Any]:
    file = attachment(f"{CDN}/attachments/1/2/chart.png", "chart.png", 64)
    data = command_data(name, {"chart1": file}, coach="d", text=text, date="2025-03-14")
    file_id = data["options"][-1]["value"]
    data["resolved"]["attachments"][file_id]["filename"] = text
    return guild_interaction(2, data)


def _with_raw_values(payload: dict[str, Any], raw: dict[tuple[str | int, ...], str]) -> bytes:
    """The payload as JSON text, with the raw JSON text given for each path put in its place
    (a path under one replaced before it is skipped)."""
    marks = {}
    for n, (path, value) in enumerate(raw.items()):
        target: Any = payload
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = mark = f"@generated-{n}@"
        except (KeyError, IndexError, TypeError):
            continue
        marks[json.dumps(mark)] = value
    body = json.dumps(payload)
    for mark, value in marks.items():
        body = body.replace(mark, value)
    return body.encode()


@hypothesis_settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(["plan", "edit", "delete", "history", "plans", "myplans"]),
    text=_unicode | _unicode.map(lambda tail: f"Long 950 {tail}"),
    where=st.lists(st.sampled_from(_PATHS), min_size=1, max_size=3, unique=True),
    values=st.lists(_raw_values, min_size=3, max_size=3),
)
def test_generated_signed_interactions_never_get_a_5xx(
    discord: Discord,
    name: str,
    text: str,
    where: list[tuple[str | int, ...]],
    values: list[str],
) -> None:
    body = _with_raw_values(_interaction(name, text), dict(zip(where, values, strict=False)))
    response = discord.raw(body)
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    assert "Something went wrong" not in response.text, response.text
    assert_still_answers(discord)


# --- generated read API requests ---------------------------------------------------------------

_NAMES = st.sampled_from(["coach", "date", "as_of", "guild", "ticker"]) | _unicode
_VALUES = (
    st.sampled_from(
        [
            "d",
            "D",
            "2025-03-14",
            "today",
            "0001-01-01",
            "9999-12-31",
            "\uff12\uff10\uff12\uff15-03-14",
            "2025-03-14T13:30:00Z",
            "9999-12-31T23:59:59-12:00",
            "0001-01-01T00:00:00+14:00",
            "-1",
            "9" * 400,
        ]
    )
    | _unicode
)


def _encoded(text: str) -> str:
    # A lone surrogate cannot be UTF-8 encoded; a client can still send its bytes as %ED%A0%80.
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


_query = st.one_of(
    st.lists(st.tuples(_NAMES, _VALUES), max_size=4).map(
        lambda pairs: "&".join(f"{_encoded(k)}={_encoded(v)}" for k, v in pairs)
    ),
    # Raw query text: stray %, bad escapes, invalid UTF-8, separators.
    st.text(st.sampled_from("%0fFzZ=&;+?#/ad"), max_size=40).map(
        lambda raw: raw.replace("#", "%23").replace("?", "%3F")
    ),
)


@pytest.fixture
def with_plans(discord: Discord) -> Discord:
    """Plans with an edit and a chart, so reads reach the database rather than stop at 404."""
    for day in ("2025-03-14", "today"):
        url = discord.fake.add_file(f"{day}.png", png())
        chart = attachment(url, f"{day}.png", 64)
        discord.command("plan", coach="d", text="Long 950", date=day, attachments={"chart1": chart})
        discord.command("edit", coach="d", text="Long 955", date=day)
    return discord


_chart_paths = (
    st.sampled_from(
        ["1", "\u00b2", "\u00b9\u00b2", "\uff18", "-1", "99999999999999999999", "1/../2"]
    )
    | _unicode
).map(lambda tail: "/charts/" + _encoded(tail))
# Each endpoint with its own parameters (required and optional), so most requests reach the
# database; values are still anything.
_PARAMETERS = {
    "/api/coach-plans": (["coach"], ["date", "as_of"]),
    "/api/coach-plans/all": ([], ["date"]),
    "/api/coach-plans/history": (["coach"], ["date"]),
}
_param_values = st.just("d") | _VALUES


def _endpoint_requests(path: str) -> st.SearchStrategy[tuple[str, str]]:
    required, optional = _PARAMETERS[path]
    params = st.fixed_dictionaries(
        dict.fromkeys(required, _param_values), optional=dict.fromkeys(optional, _param_values)
    )
    return st.tuples(
        st.sampled_from([path, path + "/"]),
        params.map(lambda given: "&".join(f"{k}={_encoded(v)}" for k, v in given.items())),
    )


_api_requests = st.sampled_from(sorted(_PARAMETERS)).flatmap(_endpoint_requests)


_read_settings = hypothesis_settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@_read_settings
@given(request=_api_requests, more=st.none() | _query)
def test_generated_read_api_queries_never_get_a_5xx(
    with_plans: Discord, request: tuple[str, str], more: str | None
) -> None:
    path, query = request
    if more is not None:
        query = f"{query}&{more}"
    response = with_plans.client.get(f"{path}?{query}")
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    assert_still_answers(with_plans)


@_read_settings
@given(path=_chart_paths, query=_query)
def test_generated_chart_paths_never_get_a_5xx(with_plans: Discord, path: str, query: str) -> None:
    response = with_plans.client.get(f"{path}?{query}")
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    assert_still_answers(with_plans)

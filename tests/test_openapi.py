"""/openapi.json describes every read endpoint, and the live service keeps to it (schemathesis)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from itertools import takewhile
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from starlette.testclient import TestClient

from app.api import models
from app.api.openapi import document
from app.plans.service import PlanService
from app.records import Actor, NewChart, Place
from app.runtime.web import create_app
from app.settings import Settings
from app.storage.database import make_engine, migrate
from app.storage.repository import PlanRepository
from tests.conftest import settings_in
from tests.support.live_server import live_server

GUILD = "998877665544332211"
HERE = Place(guild_id=GUILD)

KEY = "schema-test-key"
REF = "#/components/schemas/{model}"
READ_PATHS = {
    "/api/coach-plans/outcome.png",
    "/api/coach-plans/scorecard.png",
    "/",
    "/health",
    "/metrics",
    "/metrics/prometheus",
    "/api/coach-plans/",
    "/api/coach-plans/all",
    "/api/coach-plans/history",
    "/api/coach-plans/by-ticker",
    "/api/coach-plans/coaches",
    "/api/coach-plans/outcome",
    "/api/coach-plans/scorecard",
    "/charts/{chart_id}",
}


def test_the_document_describes_every_read_endpoint(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == READ_PATHS
    schemas = doc["components"]["schemas"]
    assert {"Plan", "Chart", "PlanList", "History", "Error", "Health"} <= set(schemas)
    assert set(schemas["Plan"]["required"]) == set(schemas["Plan"]["properties"])
    # A deleted plan's history says who deleted it, when, and its last text; each field says so.
    assert "null for a live plan" in schemas["History"]["properties"]["deleted"]["description"]
    assert set(schemas["Deletion"]["required"]) == {"by", "by_id", "at", "plan_text"}
    assert all(field["description"] for field in schemas["Deletion"]["properties"].values())
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            assert operation["summary"] and operation["responses"], path
            for parameter in operation.get("parameters", []):
                assert parameter["description"], (path, parameter["name"])


def test_the_document_and_the_route_table_name_the_same_endpoints(client: TestClient) -> None:
    """GET / lists the route table; each GET endpoint there but the document itself is in it."""
    listed = {line.split(" ")[1].split("?")[0] for line in client.get("/").json()["endpoints"]}
    documented = set(client.get("/openapi.json").json()["paths"])
    assert listed - {"/interactions", "/openapi.json"} == documented


def test_every_json_body_is_described_by_its_response_model() -> None:
    doc: dict[str, Any] = document(("d",), api_key_required=True)
    for name, schema in doc["components"]["schemas"].items():
        generated = getattr(models, name).model_json_schema(ref_template=REF)
        generated.pop("$defs", None)
        assert schema == generated, name
    for operations in doc["paths"].values():
        for operation in operations.values():
            for response in operation["responses"].values():
                body = response.get("content", {}).get("application/json")
                if body is not None:
                    assert body["schema"]["$ref"].startswith("#/components/schemas/")


@pytest.mark.parametrize("path", ["/api/coach-plans/", "/api/coach-plans/history"])
def test_each_read_documents_its_errors(path: str) -> None:
    responses = document(("d",), api_key_required=True)["paths"][path]["get"]["responses"]
    assert {"200", "400", "401", "404", "413", "422", "500"} <= set(responses)
    assert responses["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_the_coach_parameter_lists_the_configured_coaches(settings: Settings) -> None:
    custom = settings.model_copy(update={"coaches": ["alpha", "beta"]})
    with TestClient(create_app(custom)) as client:
        doc = client.get("/openapi.json").json()
    [coach] = [
        p for p in doc["paths"]["/api/coach-plans/"]["get"]["parameters"] if p["name"] == "coach"
    ]
    assert coach["schema"]["enum"] == ["alpha", "beta"]


def test_bearer_security_is_declared_only_when_api_key_is_set(settings: Settings) -> None:
    open_doc = document(("d",), api_key_required=False)
    keyed_doc: dict[str, Any] = document(("d",), api_key_required=True)
    assert "securitySchemes" not in open_doc["components"]
    assert keyed_doc["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert keyed_doc["paths"]["/api/coach-plans/all"]["get"]["security"] == [{"apiKey": []}]
    assert keyed_doc["paths"]["/health"]["get"]["security"] == []


def test_as_of_documents_how_a_time_without_offset_is_treated() -> None:
    doc: dict[str, Any] = document(("d",), api_key_required=False)
    [as_of] = [
        p for p in doc["paths"]["/api/coach-plans/"]["get"]["parameters"] if p["name"] == "as_of"
    ]
    assert "refused with 400" in as_of["description"]


# --- the live service against its own document -------------------------------------------------


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service on a real port, with an API key and a few plans (one with charts, one
    deleted)."""
    folder = tmp_path_factory.mktemp("schema")
    app_settings = settings_in(folder, api_key=KEY)
    assert isinstance(app_settings.api_key, SecretStr)
    engine = make_engine(app_settings.database_url)
    migrate(engine)
    plans = PlanService(
        PlanRepository(engine), coaches=app_settings.coaches, timezone=app_settings.zone
    )
    author = Actor(id="123456789012345678", name="coach d")
    place = Place(guild_id="998877665544332211", channel_id="112233445566778899", channel="plans")
    chart = NewChart("https://cdn.discordapp.test/spy.png", "spy.png", "image/png", 2048)
    for day in (plans.today(), date(2000, 1, 1)):
        plans.post("d", day, "Watch 950", author, place=place, charts=[chart])
        plans.edit(GUILD, "d", day, author, text="$SPY long above 950, stop 940, targets 960/975")
        plans.post("i", day, "Flat", author, place=HERE)
        plans.post("s", day, "Short below 940", author, place=HERE)
        plans.edit(GUILD, "s", day, author, text="Short below 935")
        plans.delete(GUILD, "s", day, author)
    with live_server(create_app(app_settings)) as base_url:
        yield base_url
    engine.dispose()


# The document the live service below serves (checked first); loading it here, at import,
# lets pytest list one test per operation.
schema = schemathesis.openapi.from_dict(document(("d", "i", "s", "n"), api_key_required=True))
# A query over the documented size is refused with 413, as the document says.
schema.config.checks.negative_data_rejection.expected_statuses.append("413")
# The key is added to every call below; missing and wrong keys have tests of their own.
schema.config.generation.update(with_security_parameters=False)


def test_the_live_service_serves_this_document(live_api: str) -> None:
    served = httpx.get(f"{live_api}/openapi.json").json()
    assert served == json.loads(json.dumps(schema.raw_schema))


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_live_service_keeps_to_its_openapi_document(
    case: schemathesis.Case[Any], live_api: str
) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    header = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    if header is not None and header.mode == GenerationMode.NEGATIVE:
        # Malformed header lines are refused by the HTTP server (400, plain text) before the
        # app sees them: all there is to check is that nothing crashes.
        case.call_and_validate(base_url=live_api, headers=auth, checks=[not_a_server_error])
    else:
        case.call_and_validate(base_url=live_api, headers=auth)


def test_the_readmes_sample_plan_has_the_apis_fields() -> None:
    """The plan JSON the README shows under its first curl is the shape the API answers."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    after = readme.split("curl -s 'localhost:5000/api/coach-plans/?coach=i'", 1)[1]
    lines = after.splitlines()[1:]
    comment = "".join(line.removeprefix("#").strip() for line in takewhile(_commented, lines))
    sample = json.loads(comment)
    assert list(sample) == list(models.Plan.model_fields)
    models.Levels.model_validate(sample["levels"])
    for chart in sample["charts"]:
        models.Chart.model_validate(chart)


def _commented(line: str) -> bool:
    return line.startswith("#")

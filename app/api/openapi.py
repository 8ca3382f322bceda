"""The OpenAPI 3.1 document served on /openapi.json: operations and parameters are written here,
every body schema is generated from the response models in app/api/models.py.

Only two things come from the settings: the coach names and whether an API key is required.
"""

from __future__ import annotations

import copy
import functools
import json

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from app import __version__
from app.api import models
from app.api.parameters import (
    AS_OF,
    AS_OF_LIST,
    AS_OF_SCORECARD,
    BEFORE,
    COACH,
    COACH_OPTIONAL,
    DATE,
    DAYS,
    GUILD,
    JSON,
    LIMIT,
    TICKER,
)
from app.runtime.resources import services_for

_REF = "#/components/schemas/{model}"
_ERROR = {"$ref": _REF.format(model="Error")}


def _error(description: str) -> JSON:
    return {
        "description": description,
        "headers": {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}},
        "content": {"application/json": {"schema": _ERROR}},
    }


def _ok(description: str, model: type[BaseModel]) -> JSON:
    return {
        "description": description,
        "headers": {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}},
        "content": {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}},
    }


_READ_ERRORS: dict[str, JSON] = {
    "400": _error(
        "The coach, the date or the guild is not valid, or plans of several guilds are kept and "
        "none was named (error `guild_required`); the message says what is accepted."
    ),
    "413": _error("The query string is over 2048 bytes, or the request has a body."),
    "422": _error("A required parameter is missing, given twice, or an unknown one is given."),
    "500": _error("Something failed on the server; the message holds no internals."),
}
_NO_PLAN = _error("There is no live plan for that coach and date.")
_NO_PICTURE = _error(
    "Nothing to draw, and the message says why: no such plan, a plan not graded (yet), no "
    "bars for its ticker, or no graded plans in the sessions asked for."
)


def _png(description: str) -> JSON:
    return {
        "description": description,
        "headers": {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}},
        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
    }


_NO_HISTORY = _error("There is no plan for that coach and date, live or deleted.")

_PATHS: dict[str, dict[str, JSON]] = {
    "/": {
        "get": {
            "operationId": "index",
            "summary": "The service's name, version and endpoints.",
            "security": [],
            "responses": {"200": _ok("The service.", models.Index)},
        }
    },
    "/health": {
        "get": {
            "operationId": "health",
            "summary": "Whether the service and its database are up.",
            "security": [],
            "responses": {
                "200": _ok("Healthy.", models.Health),
                "503": _ok("Unhealthy: the database cannot be reached.", models.Health),
            },
        }
    },
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Request, interaction and database counters as JSON.",
            "responses": {"200": _ok("The counters.", models.Metrics), "500": _READ_ERRORS["500"]},
        }
    },
    "/metrics/prometheus": {
        "get": {
            "operationId": "prometheus",
            "summary": "The same counters, with latency histograms per route, for Prometheus.",
            "responses": {
                "200": {
                    "description": "Prometheus text exposition format 0.0.4.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/api/coach-plans/": {
        "get": {
            "operationId": "getPlan",
            "summary": "One coach's plan for a date (also answered without the trailing slash).",
            "parameters": [COACH, DATE, AS_OF, GUILD],
            "responses": {"200": _ok("The plan.", models.Plan), "404": _NO_PLAN, **_READ_ERRORS},
        }
    },
    "/api/coach-plans/all": {
        "get": {
            "operationId": "listPlans",
            "summary": "Every coach's plan for a date, ordered by coach.",
            "parameters": [DATE, GUILD],
            "responses": {
                "200": _ok("The plans (possibly none).", models.PlanList),
                **_READ_ERRORS,
            },
        }
    },
    "/api/coach-plans/coaches": {
        "get": {
            "operationId": "listCoaches",
            "summary": "The guild's coaches (its roster, or the default COACHES) and its time "
            "zone.",
            "parameters": [GUILD],
            "responses": {
                "200": _ok("The coaches and the time zone.", models.Roster),
                **_READ_ERRORS,
            },
        }
    },
    "/api/coach-plans/history": {
        "get": {
            "operationId": "getHistory",
            "summary": "The earlier versions of one coach's plan for a date, newest first "
            "(also of a deleted plan, saying who deleted it and when), a page at a time: "
            "`limit` versions, older ones with `before`.",
            "parameters": [COACH, DATE, GUILD, LIMIT, BEFORE],
            "responses": {
                "200": _ok("The history.", models.History),
                "404": _NO_HISTORY,
                **_READ_ERRORS,
            },
        }
    },
    "/api/coach-plans/by-ticker": {
        "get": {
            "operationId": "listPlansForTicker",
            "summary": "The plans of a date whose levels name a ticker, ordered by coach.",
            "parameters": [TICKER, DATE, AS_OF_LIST, GUILD],
            "responses": {
                "200": _ok("The plans (possibly none).", models.TickerPlans),
                **_READ_ERRORS,
            },
        }
    },
    "/api/coach-plans/outcome": {
        "get": {
            "operationId": "getOutcome",
            "summary": "What the market did with one coach's plan for a date: its status "
            "(pending until its session has closed and its bars are there), fill, exit and R.",
            "parameters": [COACH, DATE, GUILD],
            "responses": {
                "200": _ok("The outcome.", models.Outcome),
                "404": _NO_PLAN,
                **_READ_ERRORS,
            },
        }
    },
    "/api/coach-plans/scorecard": {
        "get": {
            "operationId": "getScorecard",
            "summary": "Each coach's record over the plans dated in the last `days` sessions "
            "that closed before `as_of` (default: now).",
            "parameters": [COACH_OPTIONAL, DAYS, AS_OF_SCORECARD, GUILD],
            "responses": {"200": _ok("The scorecard.", models.Scorecard), **_READ_ERRORS},
        }
    },
    "/api/coach-plans/outcome.png": {
        "get": {
            "operationId": "getOutcomePicture",
            "summary": "The outcome as a picture: candlesticks of the plan's session with its "
            "graded version's entry zone, stop and targets, the fill and the exit marked.",
            "parameters": [COACH, DATE, GUILD],
            "responses": {
                "200": _png("A PNG, 1200 px wide."),
                "404": _NO_PICTURE,
                **_READ_ERRORS,
            },
        }
    },
    "/api/coach-plans/scorecard.png": {
        "get": {
            "operationId": "getScorecardPicture",
            "summary": "The scorecard as a picture: cumulative R by session, one line per coach.",
            "parameters": [COACH_OPTIONAL, DAYS, AS_OF_SCORECARD, GUILD],
            "responses": {
                "200": _png("A PNG, 1200 px wide."),
                "404": _NO_PICTURE,
                **_READ_ERRORS,
            },
        }
    },
    "/charts/{chart_id}": {
        "get": {
            "operationId": "getChart",
            "summary": "An archived chart image, served with its own content type.",
            "parameters": [
                {
                    "name": "chart_id",
                    "in": "path",
                    "required": True,
                    "description": "The chart's id, as in a plan's `charts[].id`.",
                    "schema": {"type": "integer", "minimum": 1},
                },
                {
                    "name": "If-None-Match",
                    "in": "header",
                    "required": False,
                    "description": "An ETag from an earlier answer; 304 when it still matches.",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "200": {
                    "description": "The image bytes.",
                    "headers": {"ETag": {"schema": {"type": "string"}}},
                    "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                "304": {"description": "Not modified: the ETag still matches."},
                "404": _error("No chart with that id, or its image is not archived."),
                "500": _READ_ERRORS["500"],
            },
        }
    },
}


def _schemas() -> JSON:
    """components/schemas: each response model's JSON Schema, with the models it refers to
    (pydantic's $defs) lifted beside it."""
    schemas: JSON = {}
    for model in models.RESPONSE_MODELS:
        schema = model.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


@functools.cache
def _base() -> JSON:
    """The document before the settings are applied; built on first use, not at import."""
    return {
        # 3.1: its schemas are JSON Schema 2020-12, as pydantic writes them (null is a type).
        "openapi": "3.1.0",
        "info": {
            "title": "Coach Plans",
            "version": __version__,
            "description": (
                "Read API of Coach Plans: trading coaches' daily plans as posted on Discord. "
                "Times are ISO 8601 in UTC; Discord ids are strings. Every response carries "
                "X-Request-ID, and every error is `{error, message, request_id}`."
            ),
        },
        "paths": _PATHS,
        "components": {
            "schemas": _schemas(),
            "headers": {
                "RequestId": {
                    "description": "The request's id: the caller's X-Request-ID if safe, else new.",
                    "schema": {"type": "string"},
                }
            },
        },
    }


_GUARDED = ("/api/", "/charts/", "/metrics")


def document(coaches: tuple[str, ...], api_key_required: bool) -> JSON:
    """The document for one configuration: its coach names and whether a key is needed."""
    doc = copy.deepcopy(_base())
    paths: dict[str, dict[str, JSON]] = doc["paths"]
    for operations in paths.values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "coach":
                    parameter["schema"] = {"type": "string", "enum": list(coaches)}
    if api_key_required:
        doc["components"]["securitySchemes"] = {
            "apiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "The service's API_KEY, as `Authorization: Bearer <API_KEY>`.",
            }
        }
        # /health stays open (the platform's check sends no key), but says more only to the key.
        health = paths["/health"]["get"]
        health["description"] = (
            "Without the bearer token, only `status` and `timestamp` (HealthStatus)."
        )
        for response in health["responses"].values():
            response["content"]["application/json"]["schema"] = {
                "$ref": _REF.format(model=models.HealthAnswer.__name__)
            }
        unauthorized = _error("API_KEY is set and the bearer token is missing or wrong.")
        for path, operations in paths.items():
            if path.startswith(_GUARDED):
                for operation in operations.values():
                    operation["security"] = [{"apiKey": []}]
                    operation["responses"]["401"] = unauthorized
    return doc


def query_parameters(path: str) -> list[str]:
    """The names of the query parameters the operations on `path` take (none if undocumented)."""
    return [
        parameter["name"]
        for operation in _PATHS.get(path, {}).values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query"
    ]


@functools.lru_cache(maxsize=8)
def _rendered(coaches: tuple[str, ...], api_key_required: bool) -> bytes:
    return json.dumps(document(coaches, api_key_required), separators=(",", ":")).encode()


async def openapi(request: Request) -> Response:
    services = services_for(request)
    settings = services.settings
    body = _rendered(tuple(settings.coaches), settings.api_key is not None)
    return Response(body, media_type="application/json")

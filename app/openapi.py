"""The OpenAPI 3 description of the read API, written out by hand and served on /openapi.json.

It is a plain dict rather than something generated from the handlers, so the document is the
contract: a change to it is a visible change to what programs may rely on. Only two things come
from the settings: the coach names and whether an API key is required.
"""

from __future__ import annotations

import copy
import functools
import json

from starlette.requests import Request
from starlette.responses import Response

from app import __version__
from app.services import Services

_DATE = {"type": "string", "format": "date", "example": "2025-03-14"}
_INSTANT = {"type": "string", "format": "date-time", "example": "2025-03-14T13:30:00+00:00"}
_SNOWFLAKE = {"type": "string", "nullable": True, "pattern": "^[0-9]{1,20}$"}
_ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, object]:
    return {
        "description": description,
        "headers": {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}},
        "content": {"application/json": {"schema": _ERROR}},
    }


def _ok(description: str, schema: str) -> dict[str, object]:
    return {
        "description": description,
        "headers": {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}},
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_READ_ERRORS = {
    "400": _error(
        "The coach, the date or the guild is not valid, or plans of several guilds are kept and "
        "none was named (error `guild_required`); the message says what is accepted."
    ),
    "413": _error("The query string is over 2048 bytes, or the request has a body."),
    "422": _error("A required parameter is missing, given twice, or an unknown one is given."),
    "500": _error("Something failed on the server; the message holds no internals."),
}
_NO_PLAN = _error("There is no live plan for that coach and date.")

_COACH = {
    "name": "coach",
    "in": "query",
    "required": True,
    "description": "The coach's name, one of COACHES.",
    "schema": {"type": "string"},  # the enum is filled in from the settings
}
_DATE_PARAM = {
    "name": "date",
    "in": "query",
    "required": False,
    "description": "The plan's date (YYYY-MM-DD). Default: today in the service's TIMEZONE.",
    "schema": _DATE,
}
_GUILD = {
    "name": "guild",
    "in": "query",
    "required": False,
    "description": (
        "The Discord server (guild) id whose plans to read: each server's plans are its own. "
        "May be left out when DEFAULT_GUILD_ID is set or plans of only one guild exist; "
        "otherwise the answer is 400 `guild_required`."
    ),
    "schema": {"type": "string", "pattern": "^[0-9]{1,20}$", "example": "290926798626357999"},
}
_AS_OF = {
    "name": "as_of",
    "in": "query",
    "required": False,
    "description": (
        "An ISO 8601 instant with a UTC offset (`Z` or `+hh:mm`). The answer is the plan's text "
        "as it stood at that instant, so a backtest never sees later edits. 404 when the plan "
        "did not exist yet or was already deleted then. A time without an offset is refused "
        "with 400 rather than guessed."
    ),
    "schema": _INSTANT,
}

_PATHS: dict[str, dict[str, object]] = {
    "/": {
        "get": {
            "operationId": "index",
            "summary": "The service's name, version and endpoints.",
            "security": [],
            "responses": {"200": _ok("The service.", "Index")},
        }
    },
    "/health": {
        "get": {
            "operationId": "health",
            "summary": "Whether the service and its database are up.",
            "security": [],
            "responses": {
                "200": _ok("Healthy.", "Health"),
                "503": _ok("Unhealthy: the database cannot be reached.", "Health"),
            },
        }
    },
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Request, interaction and database counters as JSON.",
            "responses": {"200": _ok("The counters.", "Metrics"), "500": _READ_ERRORS["500"]},
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
            "parameters": [_COACH, _DATE_PARAM, _AS_OF, _GUILD],
            "responses": {"200": _ok("The plan.", "Plan"), "404": _NO_PLAN, **_READ_ERRORS},
        }
    },
    "/api/coach-plans/all": {
        "get": {
            "operationId": "listPlans",
            "summary": "Every coach's plan for a date, ordered by coach.",
            "parameters": [_DATE_PARAM, _GUILD],
            "responses": {"200": _ok("The plans (possibly none).", "PlanList"), **_READ_ERRORS},
        }
    },
    "/api/coach-plans/history": {
        "get": {
            "operationId": "getHistory",
            "summary": "The earlier versions of one coach's plan for a date, newest first.",
            "parameters": [_COACH, _DATE_PARAM, _GUILD],
            "responses": {"200": _ok("The history.", "History"), "404": _NO_PLAN, **_READ_ERRORS},
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

_CHART = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "url", "filename", "content_type"],
    "properties": {
        "id": {"type": "integer"},
        "url": {"type": "string", "format": "uri", "description": "Absolute URL of the image."},
        "filename": {"type": "string"},
        "content_type": {"type": "string", "nullable": True},
    },
}
_PLAN = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "coach",
        "date",
        "plan",
        "author",
        "author_id",
        "channel",
        "channel_id",
        "guild_id",
        "created_at",
        "edited_at",
        "charts",
    ],
    "properties": {
        "id": {"type": "integer"},
        "coach": {"type": "string"},
        "date": _DATE,
        "plan": {"type": "string", "description": "The plan's text."},
        "author": {"type": "string", "nullable": True},
        "author_id": _SNOWFLAKE,
        "channel": {"type": "string", "nullable": True},
        "channel_id": _SNOWFLAKE,
        "guild_id": _SNOWFLAKE,
        "created_at": {**_INSTANT, "description": "UTC."},
        "edited_at": {**_INSTANT, "nullable": True, "description": "UTC; null if never edited."},
        "charts": {"type": "array", "items": {"$ref": "#/components/schemas/Chart"}},
    },
}
_PLAN_LIST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["date", "count", "plans"],
    "properties": {
        "date": _DATE,
        "count": {"type": "integer", "minimum": 0},
        "plans": {"type": "array", "items": {"$ref": "#/components/schemas/Plan"}},
    },
}
_HISTORY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["coach", "date", "plan_id", "history"],
    "properties": {
        "coach": {"type": "string"},
        "date": _DATE,
        "plan_id": {"type": "integer"},
        "history": {
            "type": "array",
            "description": "Earlier texts, newest first.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["plan_text", "edited_by", "edited_at"],
                "properties": {
                    "plan_text": {"type": "string", "description": "The text before that edit."},
                    "edited_by": {"type": "string", "nullable": True},
                    "edited_at": {**_INSTANT, "description": "UTC."},
                },
            },
        },
    },
}
_ERROR_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["error", "message", "request_id"],
    "properties": {
        "error": {"type": "string", "description": "A stable code, e.g. `not_found`."},
        "message": {"type": "string", "description": "What was wrong, for a person to read."},
        "request_id": {"type": "string", "nullable": True, "description": "Also in X-Request-ID."},
    },
}
_HEALTH = {
    "type": "object",
    "required": ["status", "timestamp", "version", "components"],
    "properties": {
        "status": {"type": "string", "enum": ["healthy", "unhealthy"]},
        "timestamp": _INSTANT,
        "version": {"type": "string"},
        "components": {
            "type": "object",
            "required": ["database", "discord"],
            "properties": {
                "database": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "status": {"type": "string", "enum": ["up", "down"]},
                        "plan_count": {"type": "integer", "minimum": 0},
                    },
                },
                "discord": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"type": "string"}},
                },
            },
        },
    },
}
_COUNT = {"type": "integer", "minimum": 0}
_METRICS = {
    "type": "object",
    "required": ["timestamp", "uptime_seconds", "requests", "interactions", "database"],
    "properties": {
        "timestamp": _INSTANT,
        "uptime_seconds": {"type": "number", "minimum": 0},
        "requests": {
            "type": "object",
            "required": ["total", "success", "error", "error_rate_percent"],
            "properties": {
                "total": _COUNT,
                "success": _COUNT,
                "error": _COUNT,
                "error_rate_percent": {"type": "number", "minimum": 0, "maximum": 100},
            },
        },
        "interactions": {
            "type": "object",
            "required": ["total", "by_command"],
            "properties": {
                "total": _COUNT,
                "by_command": {"type": "object", "additionalProperties": _COUNT},
            },
        },
        "database": {
            "type": "object",
            "required": ["total_plans", "total_charts", "total_edits"],
            "properties": {"total_plans": _COUNT, "total_charts": _COUNT, "total_edits": _COUNT},
        },
    },
}
_INDEX = {
    "type": "object",
    "required": ["name", "version", "endpoints"],
    "properties": {
        "name": {"type": "string"},
        "version": {"type": "string"},
        "endpoints": {"type": "array", "items": {"type": "string"}},
    },
}

_DOCUMENT: dict[str, object] = {
    "openapi": "3.0.3",
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
        "schemas": {
            "Plan": _PLAN,
            "Chart": _CHART,
            "PlanList": _PLAN_LIST,
            "History": _HISTORY,
            "Error": _ERROR_SCHEMA,
            "Health": _HEALTH,
            "Metrics": _METRICS,
            "Index": _INDEX,
        },
        "headers": {
            "RequestId": {
                "description": "The request's id: the caller's X-Request-ID if safe, else new.",
                "schema": {"type": "string"},
            }
        },
    },
}

_GUARDED = ("/api/", "/charts/", "/metrics")


def document(coaches: tuple[str, ...], api_key_required: bool) -> dict[str, object]:
    """The document for one configuration: its coach names and whether a key is needed."""
    doc = copy.deepcopy(_DOCUMENT)
    paths: dict[str, dict[str, dict[str, object]]] = doc["paths"]  # type: ignore[assignment]
    for operations in paths.values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):  # type: ignore[attr-defined]
                if parameter["name"] == "coach":
                    parameter["schema"] = {"type": "string", "enum": list(coaches)}
    if api_key_required:
        components: dict[str, object] = doc["components"]  # type: ignore[assignment]
        components["securitySchemes"] = {
            "apiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "The service's API_KEY, as `Authorization: Bearer <API_KEY>`.",
            }
        }
        unauthorized = _error("API_KEY is set and the bearer token is missing or wrong.")
        for path, operations in paths.items():
            if path.startswith(_GUARDED):
                for operation in operations.values():
                    operation["security"] = [{"apiKey": []}]
                    responses: dict[str, object] = operation["responses"]  # type: ignore[assignment]
                    responses["401"] = unauthorized
    return doc


@functools.lru_cache(maxsize=8)
def _rendered(coaches: tuple[str, ...], api_key_required: bool) -> bytes:
    return json.dumps(document(coaches, api_key_required), separators=(",", ":")).encode()


async def openapi(request: Request) -> Response:
    services: Services = request.state.services
    settings = services.settings
    body = _rendered(tuple(settings.coaches), settings.api_key is not None)
    return Response(body, media_type="application/json")

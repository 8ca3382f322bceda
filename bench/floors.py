"""Floor apps for the benchmarks: the least a bare Starlette app does for the same answer.

Run one with `python bench/floors.py KIND PORT DB_PATH PUBLIC_KEY_HEX`; `bench/run.py` does it.
The kinds "json" and "pong" import nothing but Starlette, uvicorn and PyNaCl, so their cold start
is a bare app's; the database kinds ("insert", "read", and "plans": a signed /plans answered from
the database) load SQLModel.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Any

import anyio
import uvicorn
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def build(kind: str, db_path: str, public_key_hex: str) -> Starlette:
    key = VerifyKey(bytes.fromhex(public_key_hex))

    async def verified(request: Request) -> bytes | None:
        body = await request.body()
        try:
            key.verify(
                request.headers["x-signature-timestamp"].encode() + body,
                bytes.fromhex(request.headers["x-signature-ed25519"]),
            )
        except (KeyError, ValueError, BadSignatureError):
            return None
        return body

    async def hello(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def pong(request: Request) -> Response:
        if await verified(request) is None:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        return JSONResponse({"type": 1})

    if kind == "json":
        return Starlette(routes=[Route("/", hello)])
    if kind == "pong":
        return Starlette(routes=[Route("/interactions", pong, methods=["POST"])])
    return _with_database(kind, db_path, verified)


def _with_database(kind: str, db_path: str, verified: Any) -> Starlette:
    from sqlalchemy import event
    from sqlmodel import Field, Session, SQLModel, create_engine, select

    class FloorPlan(SQLModel, table=True):
        id: int | None = Field(default=None, primary_key=True)
        coach: str = Field(index=True)
        day: date = Field(index=True)
        text: str

    engine = create_engine(f"sqlite:///{db_path}", connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(conn, _record):  # type: ignore[no-untyped-def]
        # The same durability settings as the service, so the comparison is fair.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")

    SQLModel.metadata.create_all(engine)
    writes = anyio.CapacityLimiter(1)

    def insert(payload: dict) -> int:  # type: ignore[type-arg]
        options = {o["name"]: o["value"] for o in payload["data"]["options"]}
        with Session(engine) as session:
            row = FloorPlan(
                coach=options["coach"],
                day=date.fromisoformat(options["date"]),
                text=options["text"],
            )
            session.add(row)
            session.commit()
            return row.id or 0

    async def write(request: Request) -> Response:
        body = await verified(request)
        if body is None:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        row_id = await anyio.to_thread.run_sync(insert, json.loads(body), limiter=writes)
        return JSONResponse({"type": 4, "data": {"content": f"saved {row_id}"}})

    def lookup(coach: str, day: str) -> dict | None:  # type: ignore[type-arg]
        with Session(engine) as session:
            row = session.exec(
                select(FloorPlan).where(
                    FloorPlan.coach == coach, FloorPlan.day == date.fromisoformat(day)
                )
            ).first()
            return None if row is None else row.model_dump(mode="json")

    async def read(request: Request) -> Response:
        found = await anyio.to_thread.run_sync(
            lookup, request.query_params["coach"], request.query_params["date"]
        )
        if found is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        return JSONResponse(found)

    def on_day(day: str) -> list[str]:
        with Session(engine) as session:
            rows = session.exec(select(FloorPlan).where(FloorPlan.day == date.fromisoformat(day)))
            return [f"{row.coach}: {row.text[:80]}" for row in rows]

    async def day_list(request: Request) -> Response:
        body = await verified(request)
        if body is None:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        options = {o["name"]: o["value"] for o in json.loads(body)["data"]["options"]}
        lines = await anyio.to_thread.run_sync(on_day, options["date"])
        return JSONResponse({"type": 4, "data": {"content": "\n".join(lines), "flags": 64}})

    with Session(engine) as session:
        for coach in "disn":
            session.add(FloorPlan(coach=coach, day=date(2026, 1, 5), text="x" * 400))
        session.commit()
    routes = {
        "insert": [Route("/interactions", write, methods=["POST"])],
        "read": [Route("/api/coach-plans/", read)],
        "plans": [Route("/interactions", day_list, methods=["POST"])],
    }[kind]
    return Starlette(routes=routes)


if __name__ == "__main__":
    kind, port, db_path, public_key_hex = sys.argv[1:5]
    uvicorn.run(
        build(kind, db_path, public_key_hex),
        host="127.0.0.1",
        port=int(port),
        log_level="warning",
        access_log=False,
    )

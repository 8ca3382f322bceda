"""The `charts` case: GET /charts/{id} served from the local directory and from an S3 bucket,
in the same run. The bucket is moto's S3 server on 127.0.0.1 (a dev dependency), so the figure
is the service's own cost of a bucket read plus a loopback round trip, not a real network's.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from run import Bench, Result

CHART_BYTES = 200_000  # a typical chart screenshot
_SIGNED = {"Authorization": "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/s3/aws4_request"}


@contextlib.contextmanager
def s3_server(port: int) -> Iterator[str]:
    moto = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        httpx.put(f"{url}/bench-charts", headers=_SIGNED).raise_for_status()
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def seed_archived(b: Bench, name: str) -> list[int]:
    """One archived chart per coach, kept under CHART_STORAGE_DIR; their ids."""
    from app.charts.store import stored_name
    from app.plans.service import Actor, NewChart, Place, PlanService
    from app.settings import load_settings
    from app.storage.database import make_engine, migrate
    from app.storage.repository import PlanRepository

    env = b.ours_env(name)
    settings = load_settings(database_path=env["DATABASE_PATH"], mock_mode=True)
    engine = make_engine(settings.database_url)
    migrate(engine)
    service = PlanService(PlanRepository(engine), coaches=settings.coaches, timezone=settings.zone)
    folder = Path(env["CHART_STORAGE_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for n, coach in enumerate(settings.coaches):
        chart = NewChart(f"https://cdn.discordapp.com/{coach}.png", "c.png", "image/png", 1)
        plan = service.post(coach, "2026-01-05", "Long", Actor("1", "coach"),
                            place=Place("200000000000000001"), charts=[chart])  # fmt: skip
        data = b"\x89PNG\r\n\x1a\n" + bytes([n]) * CHART_BYTES
        stored = stored_name(plan.charts[0].id, data, ".png")
        (folder / stored).write_bytes(data)
        service.mark_archived(plan.charts[0].id, stored)
        ids.append(plan.charts[0].id)
    engine.dispose()
    return ids


def case_charts(b: Bench) -> list[Result]:
    import anyio
    from run import free_port, show

    from app.charts import migrate as chart_migrate
    from app.settings import load_settings

    ids = seed_archived(b, "charts")
    lines = "".join(f"GET\t/charts/{i}\t\t\n" for i in ids)
    requests = b.work / "charts.requests"
    requests.write_text(lines)
    results = []
    ctx, base = b.ours("charts")
    with ctx:
        results.append(b.wrk("ours: GET /charts, directory", base, requests))
    with s3_server(free_port()) as url:
        bucket = {
            "CHART_BUCKET": "bench-charts",
            "AWS_ENDPOINT_URL_S3": url,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": "us-east-1",
        }
        env = b.ours_env("charts")
        settings = load_settings(
            database_path=env["DATABASE_PATH"],
            chart_storage_dir=env["CHART_STORAGE_DIR"],
            mock_mode=True,
            **{k.lower(): v for k, v in bucket.items()},
        )
        outcome = chart_migrate.Outcome()
        anyio.run(lambda: chart_migrate.migrate(settings, outcome, progress=False))
        assert outcome.copied == len(ids), outcome
        ctx, base = b.ours("charts", bucket)
        with ctx:
            results.append(b.wrk("ours: GET /charts, bucket (moto)", base, requests))
    directory, bucket_result = results
    ratio = bucket_result.requests_per_s / directory.requests_per_s
    show(
        f"Chart images of {CHART_BYTES // 1000} kB", results, f"ratio bucket/directory {ratio:.2f}"
    )
    return results

"""`coach-plans charts migrate`: the local archive copied into a real S3 API server (moto),
resumable after a failure, hash-verified, and a no-op when run again."""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
from pathlib import Path

from nacl.signing import SigningKey

from app.settings import Settings
from tests.support.bucket_server import BucketEdge, S3Server, bucket_env
from tests.support.discord_edge import chart_path, discord_app, fast_settings, png
from tests.support.service_process import BIN, service_env
from tests.support.waits import wait_until
from tests.test_bucket import on_bucket, post_chart


def archive(folder: Path, count: int) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for n in range(1, count + 1):
        data = png(100 + n)
        name = f"{n}-{hashlib.sha256(data).hexdigest()[:32]}.png"
        (folder / name).write_bytes(data)
        files[name] = data
    return files


def migrate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "coach-plans"), "charts", "migrate"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_migrate_resumes_after_a_failure_and_is_idempotent(
    tmp_path: Path, s3_server: S3Server, bucket_edge: BucketEdge
) -> None:
    files = archive(tmp_path / "data" / "charts", 3)
    (tmp_path / "data" / "charts" / ".4-partial.png.77.part").write_bytes(b"half")
    bucket = s3_server.new_bucket()
    env = service_env(tmp_path, RECONNECT_ATTEMPTS="2", RECONNECT_DELAY_SECONDS="0.01",
                      **bucket_env(bucket_edge.url, bucket))  # fmt: skip
    bucket_edge.faults = ["reset"] * 3  # the first chart's upload and both retries

    first = migrate(env)
    assert first.returncode == 1, first.stderr
    assert "2 copied, 0 already in the bucket, 1 failed" in first.stdout
    assert "Connection reset by peer" in first.stderr
    # On the terminal only: the service's own log file (LOG_FILE) is not the command's.
    assert not Path(env["LOG_FILE"]).exists()
    assert len(s3_server.keys(bucket)) == 2

    second = migrate(env)  # resumes: only the missing one is sent
    assert second.returncode == 0, second.stderr
    assert "1 copied, 2 already in the bucket, 0 failed" in second.stdout
    assert "3/3" in second.stderr  # the progress bar
    puts = sum(1 for method, _ in bucket_edge.seen if method == "PUT")

    third = migrate(env)
    assert third.returncode == 0, third.stderr
    assert "0 copied, 3 already in the bucket, 0 failed" in third.stdout
    assert sum(1 for method, _ in bucket_edge.seen if method == "PUT") == puts
    for name, data in files.items():
        digest = name.split("-")[1]
        assert s3_server.object(bucket, f"charts/{digest}").content == data


def test_an_interrupted_migration_says_so_and_the_next_run_goes_on(
    tmp_path: Path, s3_server: S3Server, bucket_edge: BucketEdge
) -> None:
    archive(tmp_path / "data" / "charts", 3)
    bucket = s3_server.new_bucket()
    env = service_env(tmp_path, **bucket_env(bucket_edge.url, bucket))
    bucket_edge.faults = ["pass", "stall"]  # the second chart's upload hangs: Ctrl-C then
    command = [str(BIN / "coach-plans"), "charts", "migrate"]
    run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)  # fmt: skip
    wait_until(
        lambda: sum(m == "PUT" for m, _ in bucket_edge.seen) >= 2, "the second upload did not start"
    )
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert "1 copied, 0 already in the bucket, 0 failed" in out
    assert "interrupted; run it again to copy the rest" in err
    assert "Traceback" not in err
    again = migrate(env)
    assert again.returncode == 0, again.stderr
    assert "2 copied, 1 already in the bucket, 0 failed" in again.stdout
    assert len(s3_server.keys(bucket)) == 3


def test_a_damaged_file_is_not_copied(tmp_path: Path, s3_server: S3Server) -> None:
    files = archive(tmp_path / "data" / "charts", 2)
    damaged = next(iter(files))
    (tmp_path / "data" / "charts" / damaged).write_bytes(b"\x89PNG\r\n\x1a\nnot the same")
    bucket = s3_server.new_bucket()
    done = migrate(service_env(tmp_path, **bucket_env(s3_server.url, bucket)))
    assert done.returncode == 1
    assert f"not copied: {damaged}: the file's bytes do not match the hash in its name" in (
        done.stderr
    )
    assert "1 copied, 0 already in the bucket, 1 failed" in done.stdout
    assert len(s3_server.keys(bucket)) == 1


def test_migrate_without_a_bucket_says_which_setting_is_missing(tmp_path: Path) -> None:
    done = migrate(service_env(tmp_path))
    assert done.returncode == 2
    assert "CHART_BUCKET: not set" in done.stderr


def test_a_missing_bucket_stops_the_migration_before_it_starts(
    tmp_path: Path, s3_server: S3Server
) -> None:
    archive(tmp_path / "data" / "charts", 1)
    done = migrate(service_env(tmp_path, **bucket_env(s3_server.url, "never-made")))
    assert done.returncode == 1
    assert "bucket 'never-made' does not exist (NoSuchBucket)" in done.stderr


def test_after_migrating_the_service_serves_old_charts_from_the_bucket(
    tmp_path: Path, settings: Settings, signer: SigningKey, s3_server: S3Server
) -> None:
    body = png(4321)
    with discord_app(fast_settings(settings), signer) as discord:
        chart = post_chart(discord, body)
        before = discord.client.get(chart_path(chart["url"]))
    bucket = s3_server.new_bucket()
    env = service_env(tmp_path, **bucket_env(s3_server.url, bucket))
    env["CHART_STORAGE_DIR"] = str(settings.chart_storage_dir)
    assert migrate(env).returncode == 0
    shutil.rmtree(settings.chart_storage_dir)  # from now on, only the bucket has it
    with discord_app(on_bucket(settings, s3_server.url, bucket), signer) as discord:
        after = discord.client.get(chart_path(chart["url"]))
    assert (after.status_code, after.content) == (200, body)
    assert after.headers["etag"] == before.headers["etag"]
